//! How a heatmap's values become colours, and the ticks of its colour bar.
//!
//! The amplification scale is fixed by the risk thresholds alone, never fitted to the
//! data, so that one value has one colour in every report with the same thresholds:
//!
//! - position `t = 1/2 + log10(a) / (2 log10(HIGH))`, clamped to [0, 1], on the
//!   diverging map ([`diverging`]): 1x is its neutral middle, values below 1 shade
//!   towards blue, values above 1 towards red;
//! - so it saturates at the HIGH amplification threshold (dark red) and,
//!   symmetrically, at 1/HIGH (dark blue); 0 (no free-threaded growth) is the blue end;
//! - the colour bar marks the MEDIUM and HIGH thresholds.
//!
//! The risk level also needs a large absolute nogil delta, which a ratio's colour
//! cannot show; the heatmap draws LOW-risk cells in the calm tone of their colour
//! ([`super::colormap::calm`]), which the colour bar shows as a second, pale strip.
//!
//! Magnitudes (deltas, arena heaps, reclaimable) keep a sequential viridis scale from 0
//! to the largest value of the map, and the `compare` maps a diverging scale fitted to
//! their largest change.

use plotters::style::RGBColor;

use super::colormap::{diverging, viridis};
use super::figure::nice_ticks;

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// viridis from `lo` (dark) to `hi` (light).
    Sequential { lo: f64, hi: f64 },
    /// Amplification on the fixed log scale (see the module header): saturating at
    /// `high` and 1/`high`, with `medium` and `high` marked on the colour bar.
    Amplification { medium: f64, high: f64 },
    /// Diverging on log10, 1 in the middle (neutral), `decades` either way to the ends.
    LogRatio { decades: f64 },
    /// Diverging, 0 in the middle, `max_abs` either way to the ends.
    Difference { max_abs: f64 },
}

/// A tick of the colour bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
    /// A risk threshold: drawn across the whole bar, its label in bold.
    pub threshold: bool,
}

impl Tick {
    fn plain(value: f64, label: String) -> Tick {
        Tick {
            value,
            label,
            threshold: false,
        }
    }
}

/// Plain ticks closer than this (in bar heights) to a threshold's tick are left out,
/// so that their labels do not overlap (0.06 of the smallest bar is 14 px).
const TICK_GAP: f64 = 0.06;

impl Scale {
    /// A sequential scale over the values (widened if they are all equal).
    pub fn sequential(values: impl IntoIterator<Item = f64>) -> Scale {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return Scale::Sequential { lo: 0.0, hi: 1.0 };
        }
        // Magnitudes start at 0 unless they go below it.
        lo = lo.min(0.0);
        if hi - lo < 1e-9 {
            hi = lo + 1.0;
        }
        Scale::Sequential { lo, hi }
    }

    /// The fixed amplification scale for these risk thresholds.
    pub fn amplification(medium: f64, high: f64) -> Scale {
        Scale::Amplification { medium, high }
    }

    /// A log scale around 1 reaching the most extreme ratio (at least 2x either way).
    pub fn log_ratio(values: impl IntoIterator<Item = f64>) -> Scale {
        let decades = values
            .into_iter()
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| v.log10().abs())
            .fold(2f64.log10(), f64::max);
        Scale::LogRatio { decades }
    }

    /// A difference scale around 0 reaching the largest change (never zero-wide).
    pub fn difference(values: impl IntoIterator<Item = f64>) -> Scale {
        let max_abs = values
            .into_iter()
            .filter(|v| v.is_finite())
            .map(f64::abs)
            .fold(0.0, f64::max);
        Scale::Difference {
            max_abs: if max_abs > 0.0 { max_abs } else { 1.0 },
        }
    }

    /// Decades from 1x to either end of a log scale. A HIGH threshold below 2x
    /// (which no sensible plan has) saturates at 2x, so the scale keeps a width.
    fn decades(&self) -> Option<f64> {
        match *self {
            Scale::Amplification { high, .. } => Some(high.log10().max(2f64.log10())),
            Scale::LogRatio { decades } => Some(decades),
            _ => None,
        }
    }

    /// Position of `v` on the colour bar, 0 (bottom) to 1 (top), clamped.
    pub fn t(&self, v: f64) -> f64 {
        let t = match (*self, self.decades()) {
            (Scale::Sequential { lo, hi }, _) => (v - lo) / (hi - lo),
            // Zero (no nogil growth at all) sits at the bottom end.
            (_, Some(_)) if v <= 0.0 => 0.0,
            (_, Some(d)) => 0.5 + v.log10() / (2.0 * d),
            (Scale::Difference { max_abs }, _) => 0.5 + v / (2.0 * max_abs),
            _ => 0.5,
        };
        if t.is_nan() {
            0.0
        } else {
            t.clamp(0.0, 1.0)
        }
    }

    /// The colour of `v`.
    pub fn color(&self, v: f64) -> RGBColor {
        self.color_at(self.t(v))
    }

    /// The colour at position `t` of the colour bar.
    pub fn color_at(&self, t: f64) -> RGBColor {
        match self {
            Scale::Sequential { .. } => viridis(t),
            _ => diverging(t),
        }
    }

    /// The colour bar's ticks, bottom to top.
    pub fn ticks(&self) -> Vec<Tick> {
        match *self {
            Scale::Sequential { lo, hi } => nice_ticks(lo, hi, 5)
                .into_iter()
                .map(|v| Tick::plain(v, short_number(v)))
                .collect(),
            Scale::Amplification { medium, high } => {
                let marked = [(medium, "MEDIUM"), (high, "HIGH")]
                    .into_iter()
                    .filter(|(v, _)| v.is_finite() && *v > 0.0)
                    .map(|(v, name)| Tick {
                        value: v,
                        label: format!("{}x {name}", short_number(v)),
                        threshold: true,
                    })
                    .collect::<Vec<_>>();
                let mut ticks: Vec<Tick> = self
                    .log_ticks()
                    .into_iter()
                    .filter(|p| {
                        marked
                            .iter()
                            .all(|m| (self.t(m.value) - self.t(p.value)).abs() >= TICK_GAP)
                    })
                    .chain(marked.iter().cloned())
                    .collect();
                ticks.sort_by(|a, b| a.value.total_cmp(&b.value));
                ticks
            }
            Scale::LogRatio { .. } => self.log_ticks(),
            Scale::Difference { max_abs } => nice_ticks(-max_abs, max_abs, 4)
                .into_iter()
                .map(|v| {
                    let l = short_number(v);
                    Tick::plain(v, if v > 0.0 { format!("+{l}") } else { l })
                })
                .collect(),
        }
    }

    /// 1, 2 and 5 times powers of ten inside a log scale (only the powers of ten past
    /// about 9 ticks).
    fn log_ticks(&self) -> Vec<Tick> {
        let decades = self.decades().unwrap_or(1.0);
        let all = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0,
            100.0, 200.0, 500.0, 1000.0,
        ];
        let inside: Vec<f64> = all
            .into_iter()
            .filter(|v: &f64| v.log10().abs() <= decades + 1e-9)
            .collect();
        let keep: Vec<f64> = if inside.len() > 9 {
            inside
                .into_iter()
                .filter(|v| (v.log10() - v.log10().round()).abs() < 1e-9)
                .collect()
        } else {
            inside
        };
        keep.into_iter()
            .map(|v| Tick::plain(v, format!("{}x", short_number(v))))
            .collect()
    }
}

/// 2, 0.5, 0.25, 1000: no trailing zeros, at most three decimals.
pub fn short_number(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::colormap::neutral;
    use crate::risk::Thresholds;

    fn default_scale() -> Scale {
        let t = Thresholds::default();
        Scale::amplification(t.medium_amplification, t.high_amplification)
    }

    #[test]
    fn amplification_one_is_the_neutral_colour() {
        let s = default_scale();
        assert_eq!(s.t(1.0), 0.5);
        assert_eq!(s.color(1.0), neutral());
    }

    #[test]
    fn amplification_saturates_at_the_high_threshold_and_its_inverse() {
        let t = Thresholds::default();
        let s = default_scale();
        let (high, low) = (
            s.color(t.high_amplification),
            s.color(1.0 / t.high_amplification),
        );
        assert_eq!(high, diverging(1.0));
        assert_eq!(low, diverging(0.0));
        for beyond in [10.5, 29.9, 151.0, 1e6, f64::INFINITY] {
            assert_eq!(s.color(beyond), high, "{beyond}");
        }
        for beyond in [0.09, 0.01, 0.0, -1.0] {
            assert_eq!(s.color(beyond), low, "{beyond}");
        }
        // Just below HIGH is not yet saturated.
        assert_ne!(s.color(0.9 * t.high_amplification), high);
        // A plan with HIGH at 4x saturates at 4x.
        let four = Scale::amplification(2.0, 4.0);
        assert_eq!(four.color(4.0), diverging(1.0));
        assert_ne!(four.color(3.5), diverging(1.0));
    }

    #[test]
    fn amplification_is_symmetric_in_log_and_red_above_one() {
        let s = default_scale();
        for k in [1.25, 2.0, 2.9, 3.0, 5.0, 9.0] {
            assert!(
                ((s.t(k) - 0.5) - (0.5 - s.t(1.0 / k))).abs() < 1e-12,
                "{k} and 1/{k}"
            );
            let (up, down) = (s.color(k), s.color(1.0 / k));
            assert!(up.0 > up.2, "{k}x is reddish: {up:?}");
            assert!(down.2 > down.0, "1/{k}x is bluish: {down:?}");
        }
        // Further from 1x, further from the neutral.
        assert!(s.t(5.0) > s.t(3.0) && s.t(3.0) > s.t(1.5));
    }

    #[test]
    fn amplification_colour_depends_on_the_value_and_thresholds_only() {
        // The other values of the map play no part: the scale is built from the
        // thresholds, so a map with a 2.9x cell next to a 151x cell and one with it
        // alone colour it the same; so do two reports with the same thresholds.
        let a = default_scale();
        let b = Scale::amplification(3.0, 10.0);
        assert_eq!(a, b);
        assert_eq!(a.color(2.9), b.color(2.9));
        // The fitted scale compare uses would not: its colours move with the data.
        assert_ne!(
            Scale::log_ratio([2.9]).color(2.9),
            Scale::log_ratio([2.9, 151.0]).color(2.9)
        );
        // Other thresholds, another scale.
        assert_ne!(a.color(2.9), Scale::amplification(2.0, 4.0).color(2.9));
    }

    #[test]
    fn amplification_ticks_mark_the_thresholds() {
        let ticks = default_scale().ticks();
        let marked: Vec<(f64, &str)> = ticks
            .iter()
            .filter(|t| t.threshold)
            .map(|t| (t.value, t.label.as_str()))
            .collect();
        assert_eq!(marked, [(3.0, "3x MEDIUM"), (10.0, "10x HIGH")]);
        let plain: Vec<&str> = ticks
            .iter()
            .filter(|t| !t.threshold)
            .map(|t| t.label.as_str())
            .collect();
        // From 1/HIGH to HIGH; "10x" only once, as the threshold.
        assert_eq!(plain, ["0.1x", "0.2x", "0.5x", "1x", "2x", "5x"]);
        // Bottom to top, and never two labels within TICK_GAP of a threshold.
        let s = default_scale();
        for w in ticks.windows(2) {
            assert!(w[0].value < w[1].value);
        }
        let close = Scale::amplification(2.2, 10.0).ticks();
        assert!(
            !close.iter().any(|t| t.label == "2x"),
            "2x sits on 2.2x MEDIUM: {close:?}"
        );
        assert!(s.t(3.0) - s.t(2.0) >= TICK_GAP);
    }

    #[test]
    fn log_scale_puts_one_in_the_middle() {
        let s = Scale::log_ratio([0.5, 4.0, 29.9]);
        assert_eq!(s.t(1.0), 0.5);
        assert!(s.t(29.9) > 0.99 && s.t(0.5) < 0.5);
        // Symmetric: 1/k is as far below the middle as k is above it.
        assert!((s.t(4.0) - 0.5 - (0.5 - s.t(0.25))).abs() < 1e-12);
        assert_eq!(s.t(0.0), 0.0);
        let labels: Vec<String> = s.ticks().into_iter().map(|t| t.label).collect();
        assert!(labels.contains(&"1x".to_string()) && labels.contains(&"10x".to_string()));
        // Nothing but the values' spread: at least 2x either way.
        assert_eq!(
            Scale::log_ratio([1.1]),
            Scale::LogRatio {
                decades: 2f64.log10()
            }
        );
    }

    #[test]
    fn difference_scale_puts_zero_in_the_middle() {
        let s = Scale::difference([-3.0, 1.0]);
        assert_eq!((s.t(0.0), s.t(3.0), s.t(-3.0)), (0.5, 1.0, 0.0));
        let labels: Vec<String> = s.ticks().into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["-2", "0", "+2"]);
    }

    #[test]
    fn sequential_scale_starts_at_zero() {
        assert_eq!(
            Scale::sequential([2.0, 5.0]),
            Scale::Sequential { lo: 0.0, hi: 5.0 }
        );
        assert_eq!(
            Scale::sequential([-1.0, 5.0]),
            Scale::Sequential { lo: -1.0, hi: 5.0 }
        );
        assert_eq!(
            Scale::sequential([0.0]),
            Scale::Sequential { lo: 0.0, hi: 1.0 }
        );
    }
}
