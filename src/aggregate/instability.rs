//! Whether a point's repetitions pin its figures down: the spread of each build's
//! deltas and the width of the judged amplification's interval, and the `--reps`
//! that would pin them.

use serde::{Deserialize, Serialize};

use super::BuildStats;
use crate::stats::Ci;

/// Relative spread (coefficient of variation) of a build's deltas above which a point
/// is flagged: its median could move by more than a deployment-worthy margin.
pub const UNSTABLE_CV: f64 = 0.20;
/// Relative half-width of the amplification's confidence interval above which a
/// point is flagged (the CI reaches beyond 0.75x or 1.25x of the amplification).
pub const UNSTABLE_CI_HALF_WIDTH: f64 = 0.25;
/// No suggestion beyond this many repetitions: a point that needs more is better
/// split (fewer points, or a steadier pattern) than run longer.
pub(super) const MAX_SUGGESTED_REPS: u32 = 60;

/// Why a point's figures are not pinned down by its repetitions, and how many
/// repetitions per build would pin them down (a ±10% standard error of the median
/// delta, and an amplification CI within ±25%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instability {
    /// One short phrase per reason, e.g. "nogil deltas vary 45% (CV)".
    pub reasons: Vec<String>,
    /// Suggested `--reps`.
    pub reps_needed: u32,
}

/// CV of a build's deltas, counted only when its median delta is above the floor:
/// below it the ratio uses the floor, and the spread of a near-zero number says
/// nothing about the point.
fn relevant_cv(b: &BuildStats, floor_kib: f64) -> Option<f64> {
    (b.delta_kib.median > floor_kib).then_some(b.delta_cv?.abs())
}

/// The instability of a point, from the spread of each build's deltas and the width
/// of the amplification interval. None when the point is steady (or has no data).
pub fn instability(
    gil: Option<&BuildStats>,
    nogil: Option<&BuildStats>,
    amplification: Option<f64>,
    ci: Option<&Ci>,
    floor_kib: f64,
) -> Option<Instability> {
    let mut reasons = Vec::new();
    let mut needed: u32 = 0;
    for (name, b) in [("GIL", gil), ("nogil", nogil)] {
        let Some(b) = b else { continue };
        let Some(cv) = relevant_cv(b, floor_kib) else {
            continue;
        };
        // Standard error of a median ~ 1.2533 * sd / sqrt(n): ask for 10%. A build
        // that varies that much but already ran that many times is pinned down.
        let enough = ((1.2533 * cv / 0.10).powi(2)).ceil() as u32;
        if cv > UNSTABLE_CV && b.runs_ok > 1 && (b.runs_ok as u32) < enough {
            reasons.push(format!("{name} deltas vary {:.0}% (CV)", cv * 100.0));
            needed = needed.max(enough);
        }
    }
    if let (Some(a), Some(ci), Some(n)) = (amplification, ci, nogil) {
        if a > 0.0 {
            let half = ((ci.hi - a).max(a - ci.lo) / a).max(0.0);
            if half > UNSTABLE_CI_HALF_WIDTH && n.runs_ok > 1 {
                reasons.push(format!(
                    "amplification CI {:.2}x..{:.2}x is wider than ±{:.0}%",
                    ci.lo,
                    ci.hi,
                    UNSTABLE_CI_HALF_WIDTH * 100.0
                ));
                // The interval narrows with the square root of the repetitions.
                let scale = (half / UNSTABLE_CI_HALF_WIDTH).powi(2);
                needed = needed.max((n.runs_ok as f64 * scale).ceil() as u32);
            }
        }
    }
    (!reasons.is_empty()).then(|| Instability {
        reasons,
        reps_needed: needed.clamp(3, MAX_SUGGESTED_REPS),
    })
}
