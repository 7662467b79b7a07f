//! Tests of the advice rule.
use super::*;
use crate::aggregate::summarize;
use crate::model::Build;
use crate::results::{Cell, Metrics, RunRecord};
use crate::risk::Thresholds;

fn ci(lo: f64, hi: f64) -> Ci {
    Ci {
        lo,
        hi,
        level: 0.95,
    }
}

#[test]
fn the_margin_is_the_larger_of_the_two_thresholds() {
    let r = Rule::default();
    // 5% of 17.8 MiB is 0.89 MiB: the 1 MiB floor applies.
    assert_eq!(r.margin_kib(17.8 * 1024.0), 1024.0);
    // 5% of 100 MiB is 5 MiB.
    assert!((r.margin_kib(100.0 * 1024.0) - 5.0 * 1024.0).abs() < 1e-9);
}

#[test]
fn outcomes() {
    let r = Rule::default();
    let base = 17.8 * 1024.0;
    // The case: 0.08 MiB less, an interval around zero.
    assert_eq!(
        judge(82.0, ci(-300.0, 200.0), base, 9, &r).outcome,
        Outcome::Noise
    );
    // Real but tiny.
    assert_eq!(
        judge(82.0, ci(40.0, 120.0), base, 9, &r).outcome,
        Outcome::TooSmall
    );
    // Real and large: 12 MiB less.
    assert_eq!(
        judge(12_288.0, ci(10_000.0, 14_000.0), base, 9, &r).outcome,
        Outcome::Saves
    );
    // Real and large the other way.
    assert_eq!(
        judge(-12_288.0, ci(-14_000.0, -10_000.0), base, 9, &r).outcome,
        Outcome::Costs
    );
    // Large but the interval reaches zero: noise.
    assert_eq!(
        judge(12_288.0, ci(-100.0, 20_000.0), base, 9, &r).outcome,
        Outcome::Noise
    );
}

/// Runs of one point of `profile` with the given nogil final RSS figures (KiB).
fn runs(profile: &str, python_threads: u32, finals: &[u64]) -> Vec<RunRecord> {
    let mut v = Vec::new();
    for (rep, &f) in finals.iter().enumerate() {
        for build in [Build::Gil, Build::Nogil] {
            let cell = Cell {
                build,
                point: Point {
                    binding: crate::model::Binding::Pyo3,
                    profile: profile.into(),
                    pattern: "large".into(),
                    python_threads,
                    rust_threads: 8,
                },
            };
            let final_rss_kib = if build == Build::Nogil { f } else { 10_000 };
            v.push(RunRecord::for_test(
                cell,
                rep as u32,
                Metrics {
                    baseline_rss_kib: 9_000,
                    final_rss_kib,
                    delta_kib: final_rss_kib as i64 - 9_000,
                    ..Metrics::default()
                },
            ));
        }
    }
    v
}

#[test]
fn a_real_saving_is_found_and_noise_is_not() {
    let mut r = Vec::new();
    for p in [1, 4, 8] {
        // glibc-default keeps ~17.8 MiB; arena-max-2 the same within noise;
        // mmap-threshold-128k ~4 MiB.
        r.extend(runs("glibc-default", p, &[18_200, 18_300, 18_250]));
        r.extend(runs("arena-max-2", p, &[18_150, 18_350, 18_200]));
        r.extend(runs("mmap-threshold-128k", p, &[4_000, 4_100, 3_900]));
    }
    let s = summarize(&r, 256.0, &Thresholds::default());
    let e = against_default(&s, &Rule::default());
    let names: Vec<&str> = e.iter().map(|e| e.profile.as_str()).collect();
    assert_eq!(names, ["arena-max-2", "mmap-threshold-128k"]);
    assert_ne!(e[0].judged.outcome, Outcome::Saves, "{:?}", e[0]);
    assert_eq!(e[1].judged.outcome, Outcome::Saves, "{:?}", e[1]);
    assert_eq!(e[1].judged.saving_kib, 18_250.0 - 4_000.0);
    assert_eq!((e[1].judged.points, e[1].reps), (3, 3));
    assert!(power_hint(&e).contains("no measured saving reaches the margin"));
    // Without glibc-default there is nothing to judge against.
    let s: Vec<_> = s
        .into_iter()
        .filter(|c| c.point.profile != "glibc-default")
        .collect();
    assert!(against_default(&s, &Rule::default()).is_empty());
}

#[test]
fn more_reps_are_suggested_when_a_large_saving_is_still_noisy() {
    let mut r = Vec::new();
    r.extend(runs("glibc-default", 8, &[20_000, 9_000, 30_000]));
    r.extend(runs("arena-max-2", 8, &[12_000, 25_000, 6_000]));
    let s = summarize(&r, 256.0, &Thresholds::default());
    let e = against_default(&s, &Rule::default());
    assert_eq!(e[0].judged.outcome, Outcome::Noise, "{:?}", e[0]);
    assert_eq!(e[0].judged.saving_kib, 20_000.0 - 12_000.0);
    let hint = power_hint(&e);
    assert!(
        hint.starts_with("arena-max-2 might save 7.81 MiB"),
        "{hint}"
    );
    assert!(hint.contains("(now 3)"), "{hint}");
}
