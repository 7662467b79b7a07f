//! The advice: which measured profile to deploy, or "keep the default", by the rule
//! in [`evidence`](super::evidence): a profile is recommended only when its saving
//! over glibc-default is real (its bootstrap CI excludes zero) and worth deploying
//! (at least the margin), at a throughput cost of at most [`MAX_THROUGHPUT_COST`].
//! With a recommendation come the `GLIBC_TUNABLES` line (or the equivalent
//! `LD_PRELOAD` setup) and ready-to-paste snippets for systemd, a Dockerfile and
//! Kubernetes.
//!
//! Every variable comes from [`Profile::child_env`] of a profile in the plan, that is
//! from tunables validated against glibc's own list (the rendering in `tunables.rs` is
//! the only one), a preload path that was checked, and `[env]` entries that were
//! checked. The snippets still quote each value for their format, as a value may hold
//! spaces, `%` (a systemd specifier) or `$` (expanded by Docker and Kubernetes).

use super::evidence::{self, Outcome, ProfileEvidence, Rule};
use super::ranking::{ProfileRank, BASELINE_PROFILE};
pub use super::snippets::{shell_quote, snippets, Snippets};
use crate::aggregate::CellSummary;
use crate::stats::Ci;
use crate::tunables::{Allocator, Profile};
use crate::units;

/// The largest throughput cost a recommended profile may have: 10% fewer calls per
/// second than glibc-default.
pub const MAX_THROUGHPUT_COST: f64 = 0.10;

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub profile: String,
    /// Why this one, in one sentence.
    pub reason: String,
    /// Calls/s relative to glibc-default, free-threaded build (None if unmeasured).
    pub throughput: Option<f64>,
    /// It costs more than [`MAX_THROUGHPUT_COST`]: no cheaper profile saved memory.
    pub over_budget: bool,
    /// Median free-threaded final RSS, and how much less than glibc-default's.
    pub final_nogil_kib: f64,
    pub saved_kib: Option<f64>,
    /// The bootstrap interval of `saved_kib` (paired by point).
    pub saved_ci: Option<Ci>,
    /// `Profile::glibc_tunables()` ("" when the profile sets none).
    pub glibc_tunables: String,
    /// Every variable the profile sets, in the order a child gets them.
    pub env: Vec<(String, String)>,
    /// The profile swaps the extension's allocator at build time (tikv-jemallocator):
    /// the environment alone does not reproduce it.
    pub needs_jemalloc_build: bool,
    pub snippets: Snippets,
}

impl Recommendation {
    /// The line to put in front of a command: `GLIBC_TUNABLES=...`, or the profile's
    /// variables, or a sentence when it needs none.
    pub fn line(&self) -> String {
        if self.env.is_empty() {
            return format!("no variables needed: {} sets none", self.profile);
        }
        self.env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What the sweep supports: a recommendation, or keeping the default, with the
/// evidence for each profile and the rule that judged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub rule: Rule,
    /// Every profile against glibc-default (empty without glibc-default).
    pub evidence: Vec<ProfileEvidence>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A profile passed the rule.
    Recommend(Recommendation),
    /// No profile passed: keep glibc-default. `why` says so with the numbers, `hint`
    /// what to run for more power.
    KeepDefault { why: String, hint: String },
    /// Nothing to judge: fewer than two profiles, or no glibc-default to compare with.
    NotJudged(String),
}

impl Advice {
    pub fn recommendation(&self) -> Option<&Recommendation> {
        match &self.verdict {
            Verdict::Recommend(r) => Some(r),
            _ => None,
        }
    }

    /// One line for a terminal or a heading.
    pub fn headline(&self) -> String {
        match &self.verdict {
            Verdict::Recommend(r) if r.over_budget => format!(
                "recommended profile, at a throughput cost: {}: {}",
                r.profile,
                r.line()
            ),
            Verdict::Recommend(r) => format!("recommended profile: {}: {}", r.profile, r.line()),
            Verdict::KeepDefault { .. } => {
                "keep the default: no profile differs from glibc-default beyond noise and margin at these points".to_string()
            }
            Verdict::NotJudged(why) => format!("no recommendation: {why}"),
        }
    }

    /// Each profile's figure against glibc-default, one line each.
    pub fn evidence_lines(&self, ranks: &[ProfileRank]) -> Vec<String> {
        self.evidence
            .iter()
            .map(|e| {
                let j = &e.judged;
                let cost = ranks
                    .iter()
                    .find(|r| r.profile == e.profile)
                    .and_then(|r| r.throughput_nogil)
                    .map_or(String::new(), |t| format!("; {t:.2}x calls/s"));
                format!(
                    "{}: {} vs glibc-default over {} point(s), margin {}: {}{cost}",
                    e.profile,
                    evidence::saving_text(j),
                    j.points,
                    units::mib(j.margin_kib),
                    j.outcome.describe()
                )
            })
            .collect()
    }
}

fn cost_text(throughput: Option<f64>) -> String {
    match throughput {
        Some(t) => format!(
            "{:.2}x glibc-default's calls per second ({})",
            t,
            if t >= 1.0 {
                "no throughput cost".to_string()
            } else {
                format!("{:.0}% fewer", (1.0 - t) * 100.0)
            }
        ),
        None => "throughput cost unknown".to_string(),
    }
}

/// The advice for a sweep: judge every profile against glibc-default with `rule`,
/// then recommend the largest real saving whose throughput cost is at most
/// [`MAX_THROUGHPUT_COST`] (or unmeasured). `profiles` are the plan's (validated)
/// profiles; a profile missing from them cannot be recommended, nor one whose
/// free-threaded build keeps growing round after round where glibc-default settles.
pub fn recommend(
    summaries: &[CellSummary],
    ranks: &[ProfileRank],
    profiles: &[Profile],
    rule: &Rule,
) -> Advice {
    let evidence = evidence::against_default(summaries, rule);
    let verdict = verdict(&evidence, ranks, &evidence::deployable(profiles, summaries));
    Advice {
        rule: *rule,
        evidence,
        verdict,
    }
}

fn verdict(evidence: &[ProfileEvidence], ranks: &[ProfileRank], profiles: &[Profile]) -> Verdict {
    if ranks.len() < 2 {
        return Verdict::NotJudged(
            "it needs two or more measured profiles, glibc-default among them (e.g. --tunables glibc-default,arena-max-2,arena-max-1)".to_string(),
        );
    }
    if !ranks.iter().any(|r| r.profile == BASELINE_PROFILE) || evidence.is_empty() {
        return Verdict::NotJudged(
            "glibc-default was not measured at the same points, and a profile is only recommended against it (add glibc-default to --tunables)".to_string(),
        );
    }
    let rank_of = |name: &str| ranks.iter().find(|r| r.profile == name);
    let throughput = |name: &str| rank_of(name).and_then(|r| r.throughput_nogil);
    let cheap = |name: &str| throughput(name).is_none_or(|t| 1.0 - t <= MAX_THROUGHPUT_COST);
    let saving = |e: &&ProfileEvidence| e.judged.saving_kib;
    let real: Vec<&ProfileEvidence> = evidence
        .iter()
        .filter(|e| e.judged.outcome == Outcome::Saves)
        .filter(|e| profiles.iter().any(|p| p.name == e.profile))
        .collect();
    // The largest real saving among profiles that cost at most MAX_THROUGHPUT_COST;
    // when every real saving costs more, the largest anyway, with its cost up front.
    let cheap_best = real
        .iter()
        .filter(|e| cheap(&e.profile))
        .max_by(|a, b| saving(a).total_cmp(&saving(b)))
        .copied();
    let (best, over_budget) = match cheap_best {
        Some(e) => (Some(e), false),
        None => (
            real.iter()
                .max_by(|a, b| saving(a).total_cmp(&saving(b)))
                .copied(),
            true,
        ),
    };
    if let (Some(e), Some(p)) = (
        best,
        best.and_then(|e| profiles.iter().find(|p| p.name == e.profile)),
    ) {
        let rank = rank_of(&e.profile);
        let j = &e.judged;
        let cost = if over_budget {
            format!(
                "{}: more than {:.0}%, and no cheaper profile saves memory beyond noise; deploy it where memory matters more than speed, and check the cost under your own load",
                cost_text(throughput(&e.profile)),
                MAX_THROUGHPUT_COST * 100.0
            )
        } else {
            cost_text(throughput(&e.profile))
        };
        let reason = format!(
            "{} {} less than glibc-default [95% CI {}, {}] over {} point(s), above the margin of {}; {cost}",
            e.measure.describe(),
            units::mib(j.saving_kib),
            units::mib_value(j.ci.lo),
            units::mib_value(j.ci.hi),
            j.points,
            units::mib(j.margin_kib),
        );
        let env = p.child_env();
        return Verdict::Recommend(Recommendation {
            profile: p.name.clone(),
            reason,
            throughput: throughput(&e.profile),
            over_budget,
            final_nogil_kib: rank.and_then(|r| r.final_nogil_kib).unwrap_or(0.0),
            saved_kib: Some(j.saving_kib),
            saved_ci: Some(j.ci),
            glibc_tunables: p.glibc_tunables(),
            snippets: snippets(&env),
            env,
            needs_jemalloc_build: p.allocator == Allocator::Jemalloc,
        });
    }
    let base = evidence.first().map_or(0.0, |e| e.judged.baseline_kib);
    let why = match evidence.first().map(|e| e.measure) {
        Some(evidence::Measure::NetDelta) => format!(
            "no profile's free-threaded net delta (each net of its own control arm) differs from glibc-default's beyond noise and the margin (from glibc-default's final RSS, {})",
            units::mib(base)
        ),
        _ => format!(
            "no profile's free-threaded final RSS differs from glibc-default's ({}) beyond noise and the margin",
            units::mib(base)
        ),
    };
    Verdict::KeepDefault {
        why,
        hint: evidence::power_hint(evidence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::ranking::{rank_profiles, tests::sweep};
    use crate::risk::ProfileRank;
    use crate::tunables::Catalog;

    fn profile(name: &str, entries: &[&str]) -> Profile {
        let catalog = Catalog::for_host();
        let mut p = Profile::glibc_default();
        p.name = name.into();
        p.tunables = entries.iter().map(|e| catalog.entry(e).unwrap()).collect();
        p
    }

    fn profiles() -> Vec<Profile> {
        vec![
            Profile::glibc_default(),
            profile("arena-max-1", &["glibc.malloc.arena_max=1"]),
            profile("arena-max-2", &["glibc.malloc.arena_max=2"]),
        ]
    }

    fn advise(summaries: &[CellSummary], ranks: &[ProfileRank]) -> Advice {
        recommend(summaries, ranks, &profiles(), &Rule::default())
    }

    #[test]
    fn the_cheapest_real_saving_is_recommended() {
        let s = sweep();
        let advice = advise(&s, &rank_profiles(&s));
        let rec = advice.recommendation().expect("a real saving");
        // arena-max-1 saves more but costs 30%; arena-max-2 costs 5%.
        assert_eq!(rec.profile, "arena-max-2");
        assert_eq!(rec.glibc_tunables, "glibc.malloc.arena_max=2");
        assert_eq!(rec.line(), "GLIBC_TUNABLES=glibc.malloc.arena_max=2");
        // Paired by point: (40000, 40010) - (20000, 20010) at both points.
        assert_eq!(rec.saved_kib, Some(20_000.0));
        let ci = rec.saved_ci.unwrap();
        assert!(ci.lo > 19_000.0 && ci.hi < 21_000.0, "{ci:?}");
        assert!(
            rec.reason
                .contains("0.95x glibc-default's calls per second (5% fewer)"),
            "{}",
            rec.reason
        );
        assert!(
            rec.reason
                .starts_with("free-threaded final RSS 19.53 MiB less than glibc-default [95% CI"),
            "{}",
            rec.reason
        );
        assert!(
            rec.reason.contains("above the margin of 1.95 MiB"),
            "{}",
            rec.reason
        );
        assert_eq!(
            rec.snippets.systemd,
            "[Service]\nEnvironment=\"GLIBC_TUNABLES=glibc.malloc.arena_max=2\"\n"
        );
        assert_eq!(
            rec.snippets.dockerfile,
            "ENV GLIBC_TUNABLES=\"glibc.malloc.arena_max=2\"\n"
        );
        assert_eq!(
            rec.snippets.kubernetes,
            "env:\n  - name: GLIBC_TUNABLES\n    value: \"glibc.malloc.arena_max=2\"\n"
        );
        assert!(!rec.needs_jemalloc_build);
        assert!(advice
            .headline()
            .starts_with("recommended profile: arena-max-2"));
        let lines = advice.evidence_lines(&rank_profiles(&s));
        assert!(
            lines[0].starts_with("arena-max-1: saving +24.41 MiB [+"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_real_saving_that_costs_too_much_throughput_is_named_with_its_cost() {
        let s = sweep();
        let mut ranks = rank_profiles(&s);
        for r in &mut ranks {
            if r.profile == "arena-max-2" {
                r.throughput_nogil = Some(0.8);
            }
        }
        let advice = advise(&s, &ranks);
        // Both real savings cost more than 10%: the larger, with its cost up front.
        let rec = advice.recommendation().expect("a real saving");
        assert_eq!(rec.profile, "arena-max-1");
        assert!(rec.over_budget);
        assert!(
            rec.reason.contains("0.70x glibc-default's calls per second (30% fewer): more than 10%, and no cheaper profile saves memory beyond noise"),
            "{}",
            rec.reason
        );
        assert!(advice
            .headline()
            .starts_with("recommended profile, at a throughput cost: arena-max-1"));
    }

    #[test]
    fn without_glibc_default_or_a_second_profile_nothing_is_judged() {
        let s: Vec<CellSummary> = sweep()
            .into_iter()
            .filter(|c| c.point.profile != "glibc-default")
            .collect();
        let advice = advise(&s, &rank_profiles(&s));
        assert!(
            matches!(&advice.verdict, Verdict::NotJudged(w) if w.contains("add glibc-default")),
            "{:?}",
            advice.verdict
        );
        let s: Vec<CellSummary> = sweep()
            .into_iter()
            .filter(|c| c.point.profile == "glibc-default")
            .collect();
        let advice = advise(&s, &rank_profiles(&s));
        assert!(
            matches!(&advice.verdict, Verdict::NotJudged(w) if w.contains("two or more")),
            "{:?}",
            advice.verdict
        );
        assert!(advice.evidence.is_empty());
    }

    #[test]
    fn preload_and_odd_values_are_quoted_for_each_format() {
        let env = vec![
            (
                "LD_PRELOAD".to_string(),
                "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2".to_string(),
            ),
            ("MY_CONF".to_string(), "a b%c\"d$(e)\\".to_string()),
        ];
        let s = snippets(&env);
        assert_eq!(
            s.systemd,
            "[Service]\nEnvironment=\"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\nEnvironment=\"MY_CONF=a b%%c\\\"d$(e)\\\\\"\n"
        );
        assert_eq!(
            s.dockerfile,
            "ENV LD_PRELOAD=\"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\nENV MY_CONF=\"a b%c\\\"d\\$(e)\\\\\"\n"
        );
        assert_eq!(
            s.kubernetes,
            "env:\n  - name: LD_PRELOAD\n    value: \"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"\n  - name: MY_CONF\n    value: \"a b%c\\\"d$$(e)\\\\\"\n"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        // A line break would add a directive to a unit file: nothing is rendered.
        let evil = vec![("X".to_string(), "a\nExecStartPre=/bin/sh".to_string())];
        let s = snippets(&evil);
        assert!(s.systemd.starts_with("# not rendered: X") && !s.systemd.contains("ExecStartPre"));
        assert!(snippets(&[("A B".into(), "1".into())])
            .dockerfile
            .starts_with("# not rendered"));
        assert_eq!(
            shell_quote("glibc.malloc.arena_max=2"),
            "glibc.malloc.arena_max=2"
        );
    }
}
