//! CI gates: `--fail-on-risk LEVEL` and `--fail-on-amplification X` make a command
//! exit with [`EXIT_GATE`] (3) when a point reaches the level or the ratio, so a
//! pipeline can tell "the sweep found a problem" from a run failure (1) or a usage
//! error (2).

use super::summary_json::PointVerdict;
use crate::cli::GateLevel;
use crate::risk::RiskLevel;

/// The exit code of a tripped gate (decided, like every exit code, by
/// `crate::error::Exit`).
pub const EXIT_GATE: i32 = crate::error::Exit::Gate.code();

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gates {
    /// Fail when any point's risk is at least this.
    pub risk: Option<RiskLevel>,
    /// Fail when any point's amplification is at least this.
    pub amplification: Option<f64>,
}

impl Gates {
    pub fn from_args(args: &crate::cli::GateArgs) -> Gates {
        Gates {
            risk: args.fail_on_risk.map(|l| match l {
                GateLevel::High => RiskLevel::High,
                GateLevel::Medium => RiskLevel::Medium,
            }),
            amplification: args.fail_on_amplification,
        }
    }

    pub fn any(&self) -> bool {
        self.risk.is_some() || self.amplification.is_some()
    }
}

/// One line per point that trips a gate. The gates read the points as summary.json
/// has them, so a gate and the file never disagree.
pub fn violations(points: &[PointVerdict], gates: &Gates) -> Vec<String> {
    let mut out = Vec::new();
    for c in points {
        let mut why = Vec::new();
        if let (Some(min), Some(risk)) = (gates.risk, c.risk) {
            if risk >= min {
                why.push(format!(
                    "risk {risk} (--fail-on-risk {})",
                    min.to_string().to_lowercase()
                ));
            }
        }
        if let (Some(x), Some(a)) = (gates.amplification, c.amplification) {
            if a >= x {
                why.push(format!(
                    "amplification {a:.2}x (--fail-on-amplification {x})"
                ));
            }
        }
        if !why.is_empty() {
            out.push(format!(
                "{}x{} {} {} {}: {}",
                c.python_threads,
                c.rust_threads,
                c.pattern,
                c.binding,
                c.profile,
                why.join(", ")
            ));
        }
    }
    out
}

pub use crate::amplification::parse_amplification;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_trip_at_the_level_and_above() {
        let s = super::super::summary_json::points(&crate::risk::tests_support::sweep());
        // glibc-default's points: nogil delta 30005 KiB / GIL 2005 KiB = 14.97x, HIGH;
        // the others are MEDIUM at about 9.9x.
        let high = Gates {
            risk: Some(RiskLevel::High),
            amplification: None,
        };
        let v = violations(&s, &high);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains("glibc-default") && v[0].contains("risk HIGH (--fail-on-risk high)"),
            "{v:?}"
        );
        let amp = Gates {
            risk: None,
            amplification: Some(14.9),
        };
        assert_eq!(violations(&s, &amp).len(), 2);
        let amp = Gates {
            risk: None,
            amplification: Some(15.0),
        };
        assert!(violations(&s, &amp).is_empty());
        assert!(violations(&s, &Gates::default()).is_empty());
        let medium = Gates {
            risk: Some(RiskLevel::Medium),
            amplification: None,
        };
        assert_eq!(violations(&s, &medium).len(), 6);
    }

    #[test]
    fn the_flags_levels_are_high_and_medium_only() {
        use clap::ValueEnum;
        let gate = |level: &str| {
            let level = GateLevel::from_str(level, false)?;
            Ok::<_, String>(
                Gates::from_args(&crate::cli::GateArgs {
                    fail_on_risk: Some(level),
                    fail_on_amplification: None,
                })
                .risk,
            )
        };
        assert_eq!(gate("high"), Ok(Some(RiskLevel::High)));
        assert_eq!(gate("medium"), Ok(Some(RiskLevel::Medium)));
        // A gate at LOW would trip on every point: the flag does not take it.
        assert!(gate("low").is_err());
        assert_eq!(
            Gates::from_args(&crate::cli::GateArgs::default()).risk,
            None
        );
    }

    #[test]
    fn amplification_thresholds_parse() {
        assert_eq!(parse_amplification("10"), Ok(10.0));
        assert_eq!(parse_amplification("3.5x"), Ok(3.5));
        for bad in ["0", "-1", "abc", "inf", ""] {
            assert!(parse_amplification(bad).is_err(), "{bad}");
        }
    }
}
