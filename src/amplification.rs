//! Amplification and risk levels: pure functions of measured deltas.
//!
//! amplification = median(nogil delta) / max(median(GIL delta), floor)
//!
//! A negative nogil delta counts as 0. The floor (default 0.25 MiB) keeps a near-zero
//! GIL delta from blowing the ratio up; it is always printed next to the ratio.
//! The risk level needs both a large ratio and a large absolute nogil delta, so a big
//! ratio of tiny numbers is not called HIGH.
//!
//! This module imports nothing from the crate: `aggregate` computes levels with it,
//! and `risk` (which reads aggregates) re-exports it.

use serde::{Deserialize, Serialize};

pub const DEFAULT_FLOOR_MIB: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RiskLevel::Low => "LOW",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
        })
    }
}

/// When a point counts as MEDIUM or HIGH risk. Both conditions of a level must hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub high_amplification: f64,
    pub high_nogil_delta_mib: f64,
    pub medium_amplification: f64,
    pub medium_nogil_delta_mib: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            high_amplification: 10.0,
            high_nogil_delta_mib: 8.0,
            medium_amplification: 3.0,
            medium_nogil_delta_mib: 2.0,
        }
    }
}

impl Thresholds {
    pub fn describe(&self) -> String {
        format!(
            "HIGH if amplification >= {}x and nogil delta >= {} MiB; MEDIUM if >= {}x and >= {} MiB; else LOW",
            self.high_amplification, self.high_nogil_delta_mib, self.medium_amplification, self.medium_nogil_delta_mib
        )
    }
}

/// The ratio, with the floor applied to the denominator.
pub fn amplification(nogil_delta_kib: f64, gil_delta_kib: f64, floor_kib: f64) -> f64 {
    nogil_delta_kib.max(0.0) / gil_delta_kib.max(floor_kib).max(f64::MIN_POSITIVE)
}

pub fn level(amplification: f64, nogil_delta_kib: f64, t: &Thresholds) -> RiskLevel {
    let mib = nogil_delta_kib / 1024.0;
    if amplification >= t.high_amplification && mib >= t.high_nogil_delta_mib {
        RiskLevel::High
    } else if amplification >= t.medium_amplification && mib >= t.medium_nogil_delta_mib {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    }
}

/// Parse `--fail-on-amplification`: a finite ratio above 0.
pub fn parse_amplification(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('x').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not an amplification ratio like 10 or 3.5 (a number above 0)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: f64 = DEFAULT_FLOOR_MIB * 1024.0;

    #[test]
    fn the_talks_figures() {
        // CPython 3.13.5 in the talk: GIL 0.56 MiB, nogil 16.57 MiB -> 29.46x (HIGH).
        // The talk rounded its deltas; 16.57 / 0.56 = 29.589...
        let a = amplification(16.57 * 1024.0, 0.56 * 1024.0, FLOOR);
        assert!((a - 16.57 / 0.56).abs() < 1e-9);
        assert_eq!(
            level(a, 16.57 * 1024.0, &Thresholds::default()),
            RiskLevel::High
        );
    }

    #[test]
    fn the_floor_caps_tiny_denominators() {
        // GIL delta 4 KiB is below the 256 KiB floor: 1024 / 256 = 4x, not 256x.
        assert_eq!(amplification(1024.0, 4.0, FLOOR), 4.0);
        // A zero or negative GIL delta uses the floor too.
        assert_eq!(amplification(512.0, -100.0, FLOOR), 2.0);
        // A negative nogil delta is no growth.
        assert_eq!(amplification(-50.0, 1000.0, FLOOR), 0.0);
    }

    #[test]
    fn a_big_ratio_of_small_numbers_is_not_high() {
        let t = Thresholds::default();
        // 40x, but only 1 MiB of growth.
        assert_eq!(level(40.0, 1024.0, &t), RiskLevel::Low);
        assert_eq!(level(5.0, 3.0 * 1024.0, &t), RiskLevel::Medium);
        assert_eq!(level(12.0, 9.0 * 1024.0, &t), RiskLevel::High);
        assert_eq!(level(2.0, 100.0 * 1024.0, &t), RiskLevel::Low);
    }
}
