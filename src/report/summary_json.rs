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
use crate::model::{Binding, Build, Judge};
use crate::risk::evidence::Rule;
use crate::risk::{Advice, RiskLevel, Thresholds, Verdict};
use crate::units::to_mib;

/// Bumped whenever a field changes meaning or goes away (new fields do not bump it).
/// 2: `risk`, `amplification` and `extra_mib` are the judged figures (native, net of
/// the control arm, by default); the talk's gross ones are `gross_*`.
/// 3: deltas are after a run's last round (`--rounds`); `rounds` gives the first
/// round's delta, the settled level and the growth per round.
pub const SCHEMA_VERSION: u32 = 3;

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
    /// Which figures `risk`, `amplification` and `extra_mib` are: "native" (net of
    /// the control arm) or "gross" (no control arm, or `--judge gross`).
    pub judged: Judge,
    /// The judged risk level; None when a build has no successful run.
    pub risk: Option<RiskLevel>,
    /// The judged amplification: native (max(net nogil, 0) / max(net GIL, floor)) or
    /// gross, as `judged` says.
    pub amplification: Option<f64>,
    pub amplification_ci: Option<Interval>,
    /// The judged extra memory: net nogil - net GIL, or nogil delta - GIL delta.
    pub extra_mib: Option<f64>,
    pub extra_ci_mib: Option<Interval>,
    /// Gross deltas (final - baseline RSS), medians.
    pub gil_delta_mib: Option<f64>,
    pub nogil_delta_mib: Option<f64>,
    /// The talk's figures, on gross deltas.
    pub gross_risk: Option<RiskLevel>,
    pub gross_amplification: Option<f64>,
    pub gross_amplification_ci: Option<Interval>,
    pub gross_extra_mib: Option<f64>,
    pub gross_extra_ci_mib: Option<Interval>,
    /// The control arm (same Python threads, no native call); None without one.
    pub control: Option<ControlFigures>,
    /// Benjamini-Hochberg-adjusted Mann-Whitney p of nogil vs GIL deltas.
    pub q_value: Option<f64>,
    /// The main mechanism of each build's delta (`risk::diagnosis`; with a control
    /// arm, `interpreter_cost` or a mechanism of the net delta), snake_case; None for
    /// little growth or no run.
    pub gil_mechanism: Option<String>,
    pub nogil_mechanism: Option<String>,
    /// Set when the repetitions do not pin the point down.
    pub unstable: Option<Unstable>,
    pub failed_runs: usize,
    /// Rounds within each run (`--rounds` 3 or more); None for one window per run.
    pub rounds: Option<RoundsFigures>,
    /// A build keeps growing by the judged figures (net of the control arm, or gross):
    /// flagged whatever the point's ratio.
    pub keeps_growing: bool,
}

/// A point's rounds: per build, the first round, the settled level and the growth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundsFigures {
    pub rounds: u32,
    /// The level and the growth are over rounds `from_round`..=`rounds`.
    pub from_round: u32,
    pub gil: Option<BuildRounds>,
    pub nogil: Option<BuildRounds>,
}

/// One build's rounds at a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRounds {
    /// Delta after round 1 (one window, the talk's).
    pub first_delta_mib: f64,
    pub first_delta_ci_mib: Option<Interval>,
    /// Mean delta over the last half of the rounds.
    pub settled_mib: f64,
    pub settled_ci_mib: Option<Interval>,
    /// Least-squares growth per round over the last half, KiB.
    pub growth_kib_per_round: f64,
    pub growth_ci_kib: Option<Interval>,
    pub verdict: crate::aggregate::rounds::Growth,
    /// The region that grows the most, as the report names it.
    pub growing_region: Option<String>,
    /// The same net of the control arm's (None without one).
    pub net_growth_kib_per_round: Option<f64>,
    pub net_growth_ci_kib: Option<Interval>,
    pub net_verdict: Option<crate::aggregate::rounds::Growth>,
}

/// A point's control arm and the native figures built from it (MiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlFigures {
    pub gil_control_delta_mib: Option<f64>,
    pub nogil_control_delta_mib: Option<f64>,
    /// Gross delta - control delta, medians, with 95% bootstrap intervals (None with
    /// a single run per group).
    pub gil_net_delta_mib: Option<f64>,
    pub gil_net_delta_ci_mib: Option<Interval>,
    pub nogil_net_delta_mib: Option<f64>,
    pub nogil_net_delta_ci_mib: Option<Interval>,
    pub native_amplification: Option<f64>,
    pub native_amplification_ci: Option<Interval>,
    /// net nogil - net GIL.
    pub native_extra_mib: Option<f64>,
    pub native_extra_ci_mib: Option<Interval>,
    /// control nogil - control GIL: the free-threaded interpreter's own per-thread
    /// cost at these Python threads, present with no native call.
    pub interpreter_cost_mib: Option<f64>,
    pub interpreter_cost_ci_mib: Option<Interval>,
    pub native_risk: Option<RiskLevel>,
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
    /// Whether the points have a control arm (runs with no native call); without
    /// one every figure is gross.
    pub control_arm: bool,
    /// What the risk levels, gates and advice judged: "native" or "gross" (`--judge`).
    pub judge: Judge,
    pub risk_counts: RiskCounts,
    /// The highest risk of any point (None when no point has both builds).
    pub worst_risk: Option<RiskLevel>,
    pub advice: AdviceVerdict,
    pub profiles: Vec<ProfileJudgement>,
    pub thresholds: ThresholdSet,
    pub points: Vec<PointVerdict>,
}

fn interval_mib(ci: crate::stats::Ci) -> Interval {
    Interval {
        lo: to_mib(ci.lo),
        hi: to_mib(ci.hi),
    }
}

fn mechanism(c: &CellSummary, build: Build) -> Option<String> {
    let d = crate::risk::diagnosis::diagnose_point(c, build)?;
    let m = d.main()?.mechanism;
    serde_json::to_value(m).ok()?.as_str().map(str::to_string)
}

fn ratio_interval(ci: crate::stats::Ci) -> Interval {
    Interval {
        lo: ci.lo,
        hi: ci.hi,
    }
}

fn control_figures(n: &crate::aggregate::Native) -> ControlFigures {
    let control = |b: &Option<crate::aggregate::NetBuild>| {
        b.as_ref().map(|b| to_mib(b.control.delta_kib.median))
    };
    let net = |b: &Option<crate::aggregate::NetBuild>| b.as_ref().map(|b| to_mib(b.net_delta_kib));
    let net_ci = |b: &Option<crate::aggregate::NetBuild>| {
        b.as_ref().and_then(|b| b.net_delta_ci).map(interval_mib)
    };
    ControlFigures {
        gil_control_delta_mib: control(&n.gil),
        nogil_control_delta_mib: control(&n.nogil),
        gil_net_delta_mib: net(&n.gil),
        gil_net_delta_ci_mib: net_ci(&n.gil),
        nogil_net_delta_mib: net(&n.nogil),
        nogil_net_delta_ci_mib: net_ci(&n.nogil),
        native_amplification: n.amplification,
        native_amplification_ci: n.amplification_ci.map(ratio_interval),
        native_extra_mib: n.extra_kib.map(to_mib),
        native_extra_ci_mib: n.extra_ci.map(interval_mib),
        interpreter_cost_mib: n.interpreter_cost_kib.map(to_mib),
        interpreter_cost_ci_mib: n.interpreter_cost_ci.map(interval_mib),
        native_risk: n.risk,
    }
}

fn kib_interval(ci: crate::stats::Ci) -> Interval {
    Interval {
        lo: ci.lo,
        hi: ci.hi,
    }
}

fn rounds_figures(c: &CellSummary) -> Option<RoundsFigures> {
    let build = |b: Build| -> Option<BuildRounds> {
        let r = c.stats(b)?.rounds.as_ref()?;
        let net = c.net(b).and_then(|n| n.rounds.as_ref());
        Some(BuildRounds {
            first_delta_mib: to_mib(r.first_kib),
            first_delta_ci_mib: r.first_ci.map(interval_mib),
            settled_mib: to_mib(r.level_kib),
            settled_ci_mib: r.level_ci.map(interval_mib),
            growth_kib_per_round: r.growth_kib,
            growth_ci_kib: r.growth_ci.map(kib_interval),
            verdict: r.verdict,
            growing_region: r
                .growth_by_region
                .largest()
                .map(|(name, _)| name.to_string()),
            net_growth_kib_per_round: net.map(|n| n.growth_kib),
            net_growth_ci_kib: net.and_then(|n| n.growth_ci).map(kib_interval),
            net_verdict: net.map(|n| n.verdict),
        })
    };
    let (gil, nogil) = (build(Build::Gil), build(Build::Nogil));
    let any = c
        .gil
        .as_ref()
        .or(c.nogil.as_ref())
        .and_then(|b| b.rounds.as_ref())?;
    Some(RoundsFigures {
        rounds: any.rounds,
        from_round: any.from_round,
        gil,
        nogil,
    })
}

/// The per-point verdicts, in the summaries' order (what the gates read).
pub fn points(summaries: &[CellSummary]) -> Vec<PointVerdict> {
    summaries
        .iter()
        .map(|c| {
            let p = &c.point;
            let judged_amplification = c.judged_amplification();
            let judged_extra = c.judged_extra();
            PointVerdict {
                profile: p.profile.clone(),
                binding: p.binding,
                pattern: p.pattern.clone(),
                python_threads: p.python_threads,
                rust_threads: p.rust_threads,
                judged: c.judged,
                risk: c.risk,
                amplification: judged_amplification.map(|(a, _)| a),
                amplification_ci: judged_amplification
                    .and_then(|(_, ci)| ci)
                    .map(ratio_interval),
                extra_mib: judged_extra.map(|(e, _)| to_mib(e)),
                extra_ci_mib: judged_extra.and_then(|(_, ci)| ci).map(interval_mib),
                gil_delta_mib: c.gil.as_ref().map(|b| to_mib(b.delta_kib.median)),
                nogil_delta_mib: c.nogil.as_ref().map(|b| to_mib(b.delta_kib.median)),
                gross_risk: c.gross_risk,
                gross_amplification: c.amplification,
                gross_amplification_ci: c.amplification_ci.map(ratio_interval),
                gross_extra_mib: c.extra_kib.map(to_mib),
                gross_extra_ci_mib: c.extra_ci.map(interval_mib),
                control: c.native.as_ref().map(control_figures),
                q_value: c.p_adjusted,
                gil_mechanism: mechanism(c, Build::Gil),
                nogil_mechanism: mechanism(c, Build::Nogil),
                unstable: c.unstable.as_ref().map(|u| Unstable {
                    reasons: u.reasons.clone(),
                    reps_needed: u.reps_needed,
                }),
                failed_runs: c.gil_failed + c.nogil_failed,
                rounds: rounds_figures(c),
                keeps_growing: c.keeps_growing(),
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
            saving_mib: to_mib(r.saved_kib.unwrap_or(0.0)),
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
    pub judge: Judge,
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
        control_arm: summaries.iter().any(|c| c.native.is_some()),
        judge: ctx.judge,
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
                saving_mib: to_mib(e.judged.saving_kib),
                saving_ci_mib: interval_mib(e.judged.ci),
                margin_mib: to_mib(e.judged.margin_kib),
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
            judge: Judge::Native,
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
