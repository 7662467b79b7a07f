//! The legend lines the heatmaps share: significance, the smallest p a sweep's
//! repetitions can reach, the amplification colour scale and the unstable mark.

use super::super::figure::STARS_LEGEND;
use super::super::scale::short_number;
use crate::aggregate::{UNSTABLE_CI_HALF_WIDTH, UNSTABLE_CV};
use crate::risk::Thresholds;

/// The smallest two-sided Mann-Whitney p-value possible with n runs per build
/// (exact test, no ties): 2 / C(2n, n).
pub fn smallest_p(n: u32) -> f64 {
    let n = f64::from(n);
    let mut c = 1.0;
    for i in 1..=(n as u64) {
        c = c * (n + i as f64) / i as f64;
    }
    (2.0 / c).min(1.0)
}

/// The legend lines shared by every heatmap of a sweep.
pub fn common_legend(reps: u32) -> Vec<String> {
    let mut v = vec![STARS_LEGEND.to_string()];
    let p = smallest_p(reps);
    if p >= 0.05 {
        v.push(format!(
            "with {reps} rep(s) per build no cell can reach q < 0.05 (the smallest possible p is {p:.3}); use --reps 5 or more"
        ));
    }
    v.push("red corner: some runs of the cell failed; hatched FAILED: a build has no successful run; hatched grey: not run".into());
    v
}

/// The amplification map's legend lines on its colours, from the thresholds.
pub fn amplification_colour_legend(t: &Thresholds) -> Vec<String> {
    let x = |v: f64| format!("{}x", short_number(v));
    let (high, medium) = (x(t.high_amplification), x(t.medium_amplification));
    vec![
        format!(
            "colour: fixed log scale, the same in every report with these thresholds: 1x neutral, red above (nogil grows more), blue below, saturated from {high} (HIGH) and {}",
            x(1.0 / t.high_amplification)
        ),
        format!(
            "risk: HIGH if >= {high} and nogil delta >= {} MiB (dark frame); MEDIUM if >= {medium} and >= {} MiB; else LOW, drawn pale whatever its ratio (the bar's LOW strip)",
            short_number(t.high_nogil_delta_mib),
            short_number(t.medium_nogil_delta_mib)
        ),
    ]
}

/// The legend line for the unstable mark.
pub fn unstable_legend() -> String {
    format!(
        "hatched corner, \"~ unstable: --reps N\": the repetitions vary widely (a build's delta CV > {:.0}%, or the amplification CI wider than ±{:.0}%); about N reps per build pin it down",
        UNSTABLE_CV * 100.0,
        UNSTABLE_CI_HALF_WIDTH * 100.0
    )
}

/// The legend line for the growth mark.
pub fn growing_legend() -> String {
    format!(
        "triangle, \"^ grows +N KiB/round\": a build's memory keeps growing round after round (growth over the last half of the rounds at least {} KiB per round, its 95% CI above zero, over {} rounds or more)",
        crate::aggregate::rounds::GROWTH_BOUND_KIB,
        crate::aggregate::rounds::ROUNDS_TO_JUDGE
    )
}
