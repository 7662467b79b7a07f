//! The control arm's figures of a point: what each build's delta is net of the same
//! Python threads calling nothing native, and the native comparison built from them.
//!
//! - **net delta** = median(gross deltas) - median(control deltas), per build;
//! - **native amplification** = max(net nogil, 0) / max(net GIL, floor);
//! - **native extra** = net nogil - net GIL;
//! - **interpreter's own cost** = median(control nogil) - median(control GIL): what
//!   the free-threaded interpreter's own threads leave beyond the GIL build's.
//!
//! Each comes with a percentile bootstrap interval in which every group of runs (gross
//! and control, per build) is resampled independently (`stats::bootstrap_medians_ci`),
//! seeded from the point's label. With one run per group there is no interval: a
//! bootstrap of single values would print a zero-width "95% CI".

use serde::{Deserialize, Serialize};

use super::{BuildStats, CI_LEVEL, CI_RESAMPLES};
use crate::amplification::{self as risk, RiskLevel, Thresholds};
use crate::model::Build;
use crate::stats::{self, Ci};

impl super::CellSummary {
    /// The net figures (control arm) of a build.
    pub fn net(&self, build: Build) -> Option<&NetBuild> {
        let n = self.native.as_ref()?;
        match build {
            Build::Gil => n.gil.as_ref(),
            Build::Nogil => n.nogil.as_ref(),
        }
    }

    /// The control arm's statistics of a build at this point's Python threads.
    pub fn control(&self, build: Build) -> Option<&BuildStats> {
        self.net(build).map(|n| &n.control)
    }
}

/// One build's control arm at a point, and its net delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetBuild {
    /// The control runs' statistics (the same Python threads, no native call).
    pub control: BuildStats,
    /// median(gross deltas) - median(control deltas), KiB.
    pub net_delta_kib: f64,
    /// Its 95% bootstrap interval (None with a single run in either group).
    pub net_delta_ci: Option<Ci>,
    /// The settled level and growth per round net of the control's (`--rounds` 3 or
    /// more, in both arms).
    #[serde(default)]
    pub rounds: Option<super::rounds::NetRounds>,
}

/// A point's native figures: what the native code costs apart from what the Python
/// threads themselves cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Native {
    pub gil: Option<NetBuild>,
    pub nogil: Option<NetBuild>,
    /// max(net nogil, 0) / max(net GIL, floor); None unless both builds have a net delta.
    pub amplification: Option<f64>,
    pub amplification_ci: Option<Ci>,
    /// net nogil - net GIL, KiB.
    pub extra_kib: Option<f64>,
    pub extra_ci: Option<Ci>,
    /// control nogil - control GIL at this point's Python threads, KiB: the
    /// free-threaded interpreter's own per-thread cost beyond the GIL build's.
    pub interpreter_cost_kib: Option<f64>,
    pub interpreter_cost_ci: Option<Ci>,
    /// The risk level of the native figures (amplification and net nogil delta).
    pub risk: Option<RiskLevel>,
}

/// An interval only where each group has at least two runs: with one run per group
/// every resample is the same value.
fn interval(groups: Vec<&[f64]>, stat: impl Fn(&[f64]) -> f64, seed: u64) -> Option<Ci> {
    if groups.iter().all(|g| g.len() < 2) {
        return None;
    }
    stats::bootstrap_medians_ci(&[groups], stat, CI_LEVEL, CI_RESAMPLES, seed)
}

fn net_build(gross: &BuildStats, control: &BuildStats, seed: u64) -> NetBuild {
    NetBuild {
        net_delta_kib: gross.delta_kib.median - control.delta_kib.median,
        net_delta_ci: interval(
            vec![&gross.deltas_kib, &control.deltas_kib],
            |m| m[0] - m[1],
            seed,
        ),
        rounds: gross
            .rounds
            .as_ref()
            .zip(control.rounds.as_ref())
            .map(|(g, c)| super::rounds::net(g, c, seed ^ 0x20)),
        control: control.clone(),
    }
}

/// The native figures of a point from its gross and control statistics per build.
/// `seed` comes from the point's label.
pub fn native(
    gross: [Option<&BuildStats>; 2],
    control: [Option<&BuildStats>; 2],
    floor_kib: f64,
    thresholds: &Thresholds,
    seed: u64,
) -> Native {
    let [gil, nogil] = [0, 1].map(|i| {
        gross[i]
            .zip(control[i])
            .map(|(g, c)| net_build(g, c, seed ^ (i as u64 + 1)))
    });
    // Groups in the order gross nogil, control nogil, gross GIL, control GIL.
    let four =
        gross[1]
            .zip(control[1])
            .zip(gross[0].zip(control[0]))
            .map(|((gn, cn), (gg, cg))| {
                vec![
                    gn.deltas_kib.as_slice(),
                    &cn.deltas_kib,
                    &gg.deltas_kib,
                    &cg.deltas_kib,
                ]
            });
    let both = gil.as_ref().zip(nogil.as_ref());
    let amplification =
        both.map(|(g, n)| risk::amplification(n.net_delta_kib, g.net_delta_kib, floor_kib));
    let amplification_ci = four.clone().and_then(|groups| {
        interval(
            groups,
            |m| risk::amplification(m[0] - m[1], m[2] - m[3], floor_kib),
            seed ^ 0xA4,
        )
    });
    let extra_kib = both.map(|(g, n)| n.net_delta_kib - g.net_delta_kib);
    let extra_ci =
        four.and_then(|groups| interval(groups, |m| (m[0] - m[1]) - (m[2] - m[3]), seed ^ 0xE7));
    let interpreter_cost_kib = control[1]
        .zip(control[0])
        .map(|(n, g)| n.delta_kib.median - g.delta_kib.median);
    let interpreter_cost_ci = control[1].zip(control[0]).and_then(|(n, g)| {
        interval(
            vec![&n.deltas_kib, &g.deltas_kib],
            |m| m[0] - m[1],
            seed ^ 0x1C,
        )
    });
    let risk = amplification
        .zip(nogil.as_ref())
        .map(|(a, n)| risk::level(a, n.net_delta_kib, thresholds));
    Native {
        gil,
        nogil,
        amplification,
        amplification_ci,
        extra_kib,
        extra_ci,
        interpreter_cost_kib,
        interpreter_cost_ci,
        risk,
    }
}
