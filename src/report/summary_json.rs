//! `summary.json`: the verdict for machines (CI jobs, dashboards). Versioned by
//! [`SCHEMA_VERSION`]; the schema is `docs/summary.schema.json` and
//! `docs/summary-json.md` explains it. It holds what a pipeline decides on: the risk
//! counts, the advice (a recommendation or "keep the default") with its numbers, each
//! point's risk, amplification and extra memory with their intervals, the mechanism of
//! each build's delta, the thresholds that produced them, and the tool's version. The
//! `--fail-on-*` gates read the same [`PointVerdict`]s, so a gate and this file never
//! disagree.

use serde::{Deserialize, Serialize};

use crate::aggregate::CellSummary;
use crate::model::Binding;
use crate::risk::evidence::Rule;
use crate::risk::{Advice, RiskLevel, Thresholds, Verdict};

/// Bumped whenever a field changes meaning or goes away (new fields do not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// A 95% interval, in the unit of the figure it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointVerdict {
    pub profile: String,
    pub binding: Binding,
    pub pattern: String,
    pub python_threads: u32,
    pub rust_threads: u32,
    /// None when a build has no successful run.
    pub risk: Option<RiskLevel>,
    pub amplification: Option<f64>,
    pub amplification_ci: Option<Interval>,
    pub gil_delta_mib: Option<f64>,
    pub nogil_delta_mib: Option<f64>,
    /// nogil delta - GIL delta.
    pub extra_mib: Option<f64>,
    pub extra_ci_mib: Option<Interval>,
    /// Benjamini-Hochberg-adjusted Mann-Whitney p of nogil vs GIL deltas.
    pub q_value: Option<f64>,
    /// The main mechanism of each build's delta (`risk::diagnosis`), snake_case; None
    /// for little growth or no run.
    pub gil_mechanism: Option<String>,
    pub nogil_mechanism: Option<String>,
    /// Set when the repetitions do not pin the point down.
    pub unstable: Option<Unstable>,
    pub failed_runs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unstable {
    pub reasons: Vec<String>,
    pub reps_needed: u32,
}

/// What to deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdviceVerdict {
    Recommend {
        profile: String,
        /// `GLIBC_TUNABLES` value ("" when the profile sets none).
        glibc_tunables: String,
        /// Every variable the profile sets, as (name, value).
        env: Vec<(String, String)>,
        saving_mib: f64,
        saving_ci_mib: Interval,
        /// Calls per second relative to glibc-default (free-threaded build).
        throughput: Option<f64>,
        /// It costs more than 10% throughput; no cheaper profile saved memory.
        over_budget: bool,
        needs_jemalloc_build: bool,
        reason: String,
    },
    KeepDefault {
        why: String,
        hint: String,
    },
    NotJudged {
        why: String,
    },
}

/// Each profile against glibc-default, as the rule judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileJudgement {
    pub profile: String,
    /// glibc-default's figure minus the profile's (positive: less memory), MiB.
    pub saving_mib: f64,
    pub saving_ci_mib: Interval,
    pub margin_mib: f64,
    /// saves, costs, noise or too_small.
    pub outcome: String,
    pub points: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdSet {
    pub risk: Thresholds,
    pub advice: Rule,
    pub floor_mib: f64,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryJson {
    /// Always "arena-sweep/summary".
    pub schema: String,
    pub schema_version: u32,
    pub tool_version: String,
    pub plan: String,
    /// "2 CPUs, glibc 2.36, THP madvise".
    pub host: String,
    /// Every run of the plan has a record.
    pub complete: bool,
    pub risk_counts: RiskCounts,
    /// The highest risk of any point (None when no point has both builds).
    pub worst_risk: Option<RiskLevel>,
    pub advice: AdviceVerdict,
    pub profiles: Vec<ProfileJudgement>,
    pub thresholds: ThresholdSet,
    pub points: Vec<PointVerdict>,
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn interval_mib(ci: crate::stats::Ci) -> Interval {
    Interval {
        lo: mib(ci.lo),
        hi: mib(ci.hi),
    }
}

fn mechanism(b: Option<&crate::aggregate::BuildStats>) -> Option<String> {
    let d = crate::risk::diagnosis::diagnose(b?);
    let m = d.main()?.mechanism;
    serde_json::to_value(m).ok()?.as_str().map(str::to_string)
}

/// The per-point verdicts, in the summaries' order (what the gates read).
pub fn points(summaries: &[CellSummary]) -> Vec<PointVerdict> {
    summaries
        .iter()
        .map(|c| {
            let p = &c.point;
            PointVerdict {
                profile: p.profile.clone(),
                binding: p.binding,
                pattern: p.pattern.clone(),
                python_threads: p.python_threads,
                rust_threads: p.rust_threads,
                risk: c.risk,
                amplification: c.amplification,
                amplification_ci: c.amplification_ci.map(|ci| Interval {
                    lo: ci.lo,
                    hi: ci.hi,
                }),
                gil_delta_mib: c.gil.as_ref().map(|b| mib(b.delta_kib.median)),
                nogil_delta_mib: c.nogil.as_ref().map(|b| mib(b.delta_kib.median)),
                extra_mib: c.extra_kib.map(mib),
                extra_ci_mib: c.extra_ci.map(interval_mib),
                q_value: c.p_adjusted,
                gil_mechanism: mechanism(c.gil.as_ref()),
                nogil_mechanism: mechanism(c.nogil.as_ref()),
                unstable: c.unstable.as_ref().map(|u| Unstable {
                    reasons: u.reasons.clone(),
                    reps_needed: u.reps_needed,
                }),
                failed_runs: c.gil_failed + c.nogil_failed,
            }
        })
        .collect()
}

fn advice_verdict(advice: &Advice) -> AdviceVerdict {
    match &advice.verdict {
        Verdict::Recommend(r) => AdviceVerdict::Recommend {
            profile: r.profile.clone(),
            glibc_tunables: r.glibc_tunables.clone(),
            env: r.env.clone(),
            saving_mib: mib(r.saved_kib.unwrap_or(0.0)),
            saving_ci_mib: r
                .saved_ci
                .map_or(Interval { lo: 0.0, hi: 0.0 }, interval_mib),
            throughput: r.throughput,
            over_budget: r.over_budget,
            needs_jemalloc_build: r.needs_jemalloc_build,
            reason: r.reason.clone(),
        },
        Verdict::KeepDefault { why, hint } => AdviceVerdict::KeepDefault {
            why: why.clone(),
            hint: hint.clone(),
        },
        Verdict::NotJudged(why) => AdviceVerdict::NotJudged { why: why.clone() },
    }
}

/// What the file needs besides the summaries and the advice.
pub struct Context<'a> {
    pub plan: &'a str,
    pub host: &'a str,
    pub complete: bool,
    pub thresholds: &'a Thresholds,
    pub floor_mib: f64,
}

pub fn build(ctx: &Context, summaries: &[CellSummary], advice: &Advice) -> SummaryJson {
    let count = |l: RiskLevel| summaries.iter().filter(|c| c.risk == Some(l)).count();
    SummaryJson {
        schema: "arena-sweep/summary".to_string(),
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        plan: ctx.plan.to_string(),
        host: ctx.host.to_string(),
        complete: ctx.complete,
        risk_counts: RiskCounts {
            high: count(RiskLevel::High),
            medium: count(RiskLevel::Medium),
            low: count(RiskLevel::Low),
        },
        worst_risk: summaries.iter().filter_map(|c| c.risk).max(),
        advice: advice_verdict(advice),
        profiles: advice
            .evidence
            .iter()
            .map(|e| ProfileJudgement {
                profile: e.profile.clone(),
                saving_mib: mib(e.judged.saving_kib),
                saving_ci_mib: interval_mib(e.judged.ci),
                margin_mib: mib(e.judged.margin_kib),
                outcome: serde_json::to_value(e.judged.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                points: e.judged.points,
            })
            .collect(),
        thresholds: ThresholdSet {
            risk: *ctx.thresholds,
            advice: advice.rule,
            floor_mib: ctx.floor_mib,
        },
        points: points(summaries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_carries_the_advice_and_every_point() {
        let s = crate::risk::tests_support::sweep();
        let ranks = crate::risk::rank_profiles(&s);
        let advice = crate::risk::recommend(&s, &ranks, &[], &Rule::default());
        let ctx = Context {
            plan: "adhoc",
            host: "2 CPUs",
            complete: true,
            thresholds: &Thresholds::default(),
            floor_mib: 0.25,
        };
        let j = build(&ctx, &s, &advice);
        assert_eq!(j.points.len(), s.len());
        assert_eq!(j.schema_version, SCHEMA_VERSION);
        // No profile of the plan was passed: every saving is real, but none can be
        // deployed from an unknown profile, so the default stays.
        assert!(
            matches!(j.advice, AdviceVerdict::KeepDefault { .. }),
            "{:?}",
            j.advice
        );
        assert_eq!(j.risk_counts.high, 2);
        assert_eq!(j.worst_risk, Some(RiskLevel::High));
        let text = serde_json::to_string(&j).unwrap();
        let back: SummaryJson = serde_json::from_str(&text).unwrap();
        assert_eq!(back, j);
    }
}
