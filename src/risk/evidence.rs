//! The advice rule: whether a profile's difference from glibc-default is real and
//! large enough to deploy.
//!
//! For each profile, its free-threaded final RSS is paired with glibc-default's at
//! every point both ran: the saving is the median, over those points, of
//! median(glibc-default's final RSS) - median(the profile's), with a 95% percentile
//! bootstrap interval (runs resampled within each point and profile). Where every
//! paired point has a control arm in both profiles and judges native figures, the
//! saving is of the net delta instead: (gross - control) of glibc-default minus
//! (gross - control) of the profile, each profile net of its own control arm, since a
//! tunable can change what the Python threads themselves cost too. A profile's
//! difference counts only when
//! - the interval excludes zero (it is not noise), and
//! - the saving is at least the margin: max(`min_saving_mib`, `min_saving_pct`% of
//!   glibc-default's median final RSS over the same points) (it is worth deploying).
//!
//! The same rule decides "no change beyond noise" in `compare A B`, point by point.
//! Pure functions; the figures come from [`CellSummary`]s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ranking::BASELINE_PROFILE;
use crate::aggregate::{BuildStats, CellSummary};
use crate::model::Binding;
use crate::results::Point;
use crate::stats::bootstrap::seed_of;
use crate::stats::{self, Ci};
use crate::units::signed_mib;

const RESAMPLES: usize = 2000;

pub use crate::model::{Rule, LEVEL};

/// What the rule says of one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Less memory: the interval excludes zero and the saving reaches the margin.
    Saves,
    /// More memory: the interval excludes zero and the increase reaches the margin.
    Costs,
    /// The interval includes zero: not told apart from noise.
    Noise,
    /// Real (the interval excludes zero) but below the margin: not worth deploying.
    TooSmall,
}

impl Outcome {
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Saves => "saves memory beyond noise and margin",
            Outcome::Costs => "uses more memory, beyond noise and margin",
            Outcome::Noise => "within noise (the CI includes zero)",
            Outcome::TooSmall => "real but below the margin",
        }
    }
}

/// A difference judged by the rule: `saving_kib` > 0 means less memory than the
/// reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub saving_kib: f64,
    pub ci: Ci,
    pub margin_kib: f64,
    /// The reference's figure the margin was taken from (KiB).
    pub baseline_kib: f64,
    pub outcome: Outcome,
    /// Points paired.
    pub points: usize,
}

/// Judge a saving with its interval against the margin for `baseline_kib`.
pub fn judge(saving_kib: f64, ci: Ci, baseline_kib: f64, points: usize, rule: &Rule) -> Judged {
    let margin_kib = rule.margin_kib(baseline_kib);
    let outcome = if ci.lo <= 0.0 && ci.hi >= 0.0 {
        Outcome::Noise
    } else if saving_kib.abs() < margin_kib {
        Outcome::TooSmall
    } else if saving_kib > 0.0 {
        Outcome::Saves
    } else {
        Outcome::Costs
    };
    Judged {
        saving_kib,
        ci,
        margin_kib,
        baseline_kib,
        outcome,
        points,
    }
}

/// Which figure of a build's runs a difference is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Final RSS: what a service holds (profiles against glibc-default).
    FinalRss,
    /// Final - baseline RSS: the growth, free of baseline drift between two sweeps
    /// (`compare A B`).
    Delta,
}

impl Figure {
    fn runs(self, b: &BuildStats) -> &[f64] {
        match self {
            Figure::FinalRss => &b.finals_kib,
            Figure::Delta => &b.deltas_kib,
        }
    }
}

/// Judge `after` against `before` (free-threaded builds, paired by point): the saving
/// is before - after of `figure`; the margin is taken from `before`'s median final
/// RSS. None without a common point with runs in both.
pub fn judge_pairs(
    pairs: &[(&BuildStats, &BuildStats)],
    figure: Figure,
    rule: &Rule,
    seed: u64,
) -> Option<Judged> {
    if pairs.is_empty() {
        return None;
    }
    let data: Vec<(&[f64], &[f64])> = pairs
        .iter()
        .map(|(before, after)| (figure.runs(before), figure.runs(after)))
        .collect();
    let saving = stats::paired_difference(&data)?;
    let ci = stats::bootstrap_paired_difference_ci(&data, LEVEL, RESAMPLES, seed)?;
    let baseline = stats::median(
        &pairs
            .iter()
            .map(|(before, _)| before.final_rss_kib.median)
            .collect::<Vec<_>>(),
    )?;
    Some(judge(saving, ci, baseline, pairs.len(), rule))
}

/// Which free-threaded figure a profile's saving is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Final RSS (no control arm, or `--judge gross`).
    FinalRss,
    /// The delta net of each profile's own control arm.
    NetDelta,
}

impl Measure {
    /// "free-threaded final RSS", for the advice's sentences.
    pub fn describe(self) -> &'static str {
        match self {
            Measure::FinalRss => "free-threaded final RSS",
            Measure::NetDelta => {
                "free-threaded net delta (each profile net of its own control arm)"
            }
        }
    }
}

/// One profile against glibc-default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileEvidence {
    pub profile: String,
    /// What the saving is of.
    pub measure: Measure,
    pub judged: Judged,
    /// Runs per build and point behind the figures (the smallest count).
    pub reps: usize,
}

/// A point's key without the profile.
fn key(p: &Point) -> (Binding, &str, u32, u32) {
    (p.binding, &p.pattern, p.python_threads, p.rust_threads)
}

/// Profiles with a point whose free-threaded build keeps growing round after round
/// (the judged figures, `--rounds`) where glibc-default's does not at the same point:
/// a saving measured after N rounds would not hold after more, so the advice does not
/// recommend them whatever they save.
pub fn grows_where_default_settles(summaries: &[CellSummary]) -> Vec<String> {
    use crate::aggregate::rounds::Growth;
    let grows = |c: &CellSummary| c.judged_growth()[1] == Some(Growth::KeepsGrowing);
    let default_grows: Vec<_> = summaries
        .iter()
        .filter(|c| c.point.profile == BASELINE_PROFILE && grows(c))
        .map(|c| key(&c.point))
        .collect();
    let mut out: Vec<String> = summaries
        .iter()
        .filter(|c| c.point.profile != BASELINE_PROFILE && grows(c))
        .filter(|c| !default_grows.contains(&key(&c.point)))
        .map(|c| c.point.profile.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The profiles the advice may recommend: all but [`grows_where_default_settles`].
pub fn deployable(
    profiles: &[crate::tunables::Profile],
    summaries: &[CellSummary],
) -> Vec<crate::tunables::Profile> {
    let growing = grows_where_default_settles(summaries);
    profiles
        .iter()
        .filter(|p| !growing.contains(&p.name))
        .cloned()
        .collect()
}

/// Judge net deltas: per point, (gross - control) of `before` minus that of `after`,
/// with the margin from `before`'s median final RSS, as [`judge_pairs`] does.
fn judge_net_pairs(
    pairs: &[(&CellSummary, &CellSummary)],
    rule: &Rule,
    seed: u64,
) -> Option<Judged> {
    use crate::model::Build;
    let groups: Option<Vec<Vec<&[f64]>>> = pairs
        .iter()
        .map(|(b, a)| {
            Some(vec![
                b.nogil.as_ref()?.deltas_kib.as_slice(),
                &b.control(Build::Nogil)?.deltas_kib,
                &a.nogil.as_ref()?.deltas_kib,
                &a.control(Build::Nogil)?.deltas_kib,
            ])
        })
        .collect();
    let groups = groups?;
    let stat = |m: &[f64]| (m[0] - m[1]) - (m[2] - m[3]);
    let saving = stats::medians_statistic(&groups, stat)?;
    let ci = stats::bootstrap_medians_ci(&groups, stat, LEVEL, RESAMPLES, seed)?;
    let baseline = stats::median(
        &pairs
            .iter()
            .filter_map(|(b, _)| Some(b.nogil.as_ref()?.final_rss_kib.median))
            .collect::<Vec<_>>(),
    )?;
    Some(judge(saving, ci, baseline, pairs.len(), rule))
}

/// Every profile other than glibc-default, judged against it over the points both
/// ran (free-threaded build): on net deltas where every pair has both control arms
/// and judges native figures, else on final RSS. Empty when glibc-default is not in
/// the sweep.
pub fn against_default(summaries: &[CellSummary], rule: &Rule) -> Vec<ProfileEvidence> {
    let base: BTreeMap<_, &CellSummary> = summaries
        .iter()
        .filter(|c| c.point.profile == BASELINE_PROFILE && c.nogil.is_some())
        .map(|c| (key(&c.point), c))
        .collect();
    if base.is_empty() {
        return Vec::new();
    }
    let mut by_profile: BTreeMap<&str, Vec<(&CellSummary, &CellSummary)>> = BTreeMap::new();
    for c in summaries {
        if c.point.profile == BASELINE_PROFILE {
            continue;
        }
        let entry = by_profile.entry(&c.point.profile).or_default();
        if let (Some(b), Some(_)) = (base.get(&key(&c.point)), c.nogil.as_ref()) {
            entry.push((b, c));
        }
    }
    let native = |c: &CellSummary| {
        c.judged == crate::model::Judge::Native && c.control(crate::model::Build::Nogil).is_some()
    };
    by_profile
        .into_iter()
        .filter_map(|(profile, pairs)| {
            let stats_of = |c: &CellSummary| c.nogil.as_ref().map(|n| n.finals_kib.len());
            let reps = pairs
                .iter()
                .filter_map(|(b, n)| Some(stats_of(b)?.min(stats_of(n)?)))
                .min()?;
            let (measure, judged) =
                if !pairs.is_empty() && pairs.iter().all(|(b, n)| native(b) && native(n)) {
                    (
                        Measure::NetDelta,
                        judge_net_pairs(&pairs, rule, seed_of(profile))?,
                    )
                } else {
                    let finals: Vec<(&BuildStats, &BuildStats)> = pairs
                        .iter()
                        .filter_map(|(b, n)| Some((b.nogil.as_ref()?, n.nogil.as_ref()?)))
                        .collect();
                    (
                        Measure::FinalRss,
                        judge_pairs(&finals, Figure::FinalRss, rule, seed_of(profile))?,
                    )
                };
            Some(ProfileEvidence {
                profile: profile.to_string(),
                measure,
                judged,
                reps,
            })
        })
        .collect()
}

/// What to run for more power when nothing passed: more repetitions help only when
/// some saving reaches the margin but its interval still includes zero.
pub fn power_hint(evidence: &[ProfileEvidence]) -> String {
    let promising = evidence
        .iter()
        .filter(|e| {
            e.judged.outcome == Outcome::Noise && e.judged.saving_kib >= e.judged.margin_kib
        })
        .max_by(|a, b| a.judged.saving_kib.total_cmp(&b.judged.saving_kib));
    match promising {
        Some(e) => {
            let j = &e.judged;
            let half = (j.ci.hi - j.ci.lo) / 2.0;
            // The interval narrows with the square root of the repetitions; aim for a
            // half-width below the saving itself.
            let reps = (e.reps.max(1) as f64 * (half / j.saving_kib).powi(2)).ceil() as usize;
            format!(
                "{} might save {} but its CI includes zero: run with --reps {} (now {}) to tell",
                e.profile,
                crate::units::mib(j.saving_kib),
                reps.clamp(e.reps + 1, 100),
                e.reps
            )
        }
        None => format!(
            "no measured saving reaches the margin, so more repetitions would narrow the intervals but not make these savings worth deploying; to look further, measure other points (e.g. more Python or Rust threads) or a pattern closer to your workload{}",
            evidence
                .iter()
                .map(|e| e.reps)
                .min()
                .filter(|&r| r < 5)
                .map_or(String::new(), |r| format!(", with --reps 5 or more (now {r})"))
        ),
    }
}

/// "saving +0.08 MiB [-0.20, +0.31]": a judged saving with the sign summary.json's
/// `saving_mib` has (positive: less memory than the reference).
pub fn saving_text(j: &Judged) -> String {
    format!(
        "saving {} MiB [{}, {}]",
        signed_mib(j.saving_kib),
        signed_mib(j.ci.lo),
        signed_mib(j.ci.hi)
    )
}

/// "-0.08 MiB [-0.31, +0.20]": a judged saving as the change from A to B, as
/// `compare` shows it (negative: B uses less memory).
pub fn change_text(j: &Judged) -> String {
    format!(
        "{} MiB [{}, {}]",
        signed_mib(-j.saving_kib),
        signed_mib(-j.ci.hi),
        signed_mib(-j.ci.lo)
    )
}

#[cfg(test)]
mod tests;
