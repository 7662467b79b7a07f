//! Tests of the heatmaps: cells, amplification colours and marks, unstable points, legends, p-values.

use super::*;
use crate::aggregate::summarize;
use crate::model::Build;
use crate::report::colormap::{calm, contrast, diverging, neutral};
use crate::results::{Cell, Metrics, RunRecord};

const MIB: f64 = 1024.0;

/// Runs of one point of profile "p": one per delta (MiB) of each build.
fn point(python_threads: u32, rust_threads: u32, gil: &[f64], nogil: &[f64]) -> Vec<RunRecord> {
    let mut v = Vec::new();
    for (build, deltas) in [(Build::Gil, gil), (Build::Nogil, nogil)] {
        for (rep, d) in deltas.iter().enumerate() {
            let cell = Cell {
                build,
                point: Point {
                    binding: crate::model::Binding::Pyo3,
                    profile: "p".into(),
                    pattern: "churn".into(),
                    python_threads,
                    rust_threads,
                },
            };
            let delta_kib = (d * MIB) as i64;
            v.push(RunRecord::for_test(
                cell,
                rep as u32,
                Metrics {
                    baseline_rss_kib: 20_000,
                    final_rss_kib: (20_000 + delta_kib) as u64,
                    peak_rss_kib: (40_000 + delta_kib) as u64,
                    delta_kib,
                    ..Metrics::default()
                },
            ));
        }
    }
    v
}

/// Steady repetitions around `median` MiB (±1%).
fn steady(median: f64) -> [f64; 5] {
    [0.99, 0.995, 1.0, 1.005, 1.01].map(|k| k * median)
}

/// A sweep with every kind of amplification cell, at the default thresholds and
/// the 0.25 MiB floor: (Python threads, Rust threads) -> what it is.
fn sweep() -> Vec<CellSummary> {
    let mut r = Vec::new();
    // 0.5x: the free-threaded build grows less.
    r.extend(point(1, 4, &steady(1.0), &steady(0.5)));
    // 7.6x of 1.9 MiB: a big ratio of a small delta, LOW.
    r.extend(point(2, 4, &steady(0.1), &steady(1.9)));
    // 5x of 2.5 MiB: MEDIUM.
    r.extend(point(4, 4, &steady(0.5), &steady(2.5)));
    // 24x of 6 MiB: MEDIUM past the HIGH ratio, below the HIGH delta.
    r.extend(point(1, 16, &steady(0.25), &steady(6.0)));
    // 32x of 16 MiB: HIGH.
    r.extend(point(2, 16, &steady(0.5), &steady(16.0)));
    // 2.9x, free-threaded runs from 0.8 to 2.9 MiB: LOW and unstable.
    r.extend(point(4, 16, &steady(0.5), &[0.8, 1.0, 1.45, 2.2, 2.9]));
    summarize(&r, 256.0, &Thresholds::default())
}

fn ctx() -> Context {
    Context {
        host: "2 CPUs, glibc 2.36, THP madvise".into(),
        python: "CPython 3.13.5".into(),
        reps: 5,
        python_threads: vec![1, 2, 4, 8],
        rust_threads: vec![4, 16],
        thresholds: Thresholds::default(),
    }
}

fn summary(s: &[CellSummary], key: (u32, u32)) -> &CellSummary {
    s.iter()
        .find(|c| (c.point.python_threads, c.point.rust_threads) == key)
        .unwrap()
}

#[test]
fn the_sweep_has_the_cells_it_says() {
    // The fixture's own claims, checked against the aggregate and risk code, so
    // the tests below test what they say they test.
    let s = sweep();
    let t = Thresholds::default();
    let risk = |k| summary(&s, k).risk.unwrap();
    let amp = |k| summary(&s, k).amplification.unwrap();
    assert_eq!(risk((1, 4)), RiskLevel::Low);
    assert!(amp((1, 4)) < 1.0);
    assert_eq!(risk((2, 4)), RiskLevel::Low);
    assert!(amp((2, 4)) > t.medium_amplification);
    assert_eq!(risk((4, 4)), RiskLevel::Medium);
    assert_eq!(risk((1, 16)), RiskLevel::Medium);
    assert!(amp((1, 16)) > t.high_amplification);
    assert_eq!(risk((2, 16)), RiskLevel::High);
    assert_eq!(risk((4, 16)), RiskLevel::Low);
    assert!(summary(&s, (4, 16)).unstable.is_some());
    assert!(s.iter().filter(|c| c.unstable.is_some()).count() == 1);
}

#[test]
fn amplification_colours_follow_the_risk_words() {
    let s = sweep();
    let g = grid(&s, &groups(&s)[0], Metric::Amplification, &ctx());
    let fill = |k: (u32, u32)| {
        let Some(GridCell::Value { value, .. }) = g.grid.cells.get(&k) else {
            panic!("no value at {k:?}");
        };
        g.fill(k, *value)
    };
    let saturated = diverging(1.0);
    // HIGH: the saturated red, framed.
    assert_eq!(fill((2, 16)), saturated);
    assert!(g.marks[&(2, 16)].framed);
    // MEDIUM at 24x: the same saturated red (the colour is the ratio's), unframed.
    assert_eq!(fill((1, 16)), saturated);
    assert!(!g.marks.get(&(1, 16)).is_some_and(|m| m.framed || m.calm));
    // MEDIUM at 5x: full colour, redder than neutral.
    let medium = fill((4, 4));
    assert_eq!(medium, g.grid.scale.color(5.0));
    // LOW at 7.6x: the calm tone, closer to the neutral than a MEDIUM 5x cell
    // although its ratio is larger, and than its own full colour.
    let low = fill((2, 4));
    assert_eq!(
        low,
        calm(
            g.grid
                .scale
                .color(summary(&s, (2, 4)).amplification.unwrap())
        )
    );
    assert!(contrast(low, neutral()) < contrast(medium, neutral()));
    assert!(low.0 > low.2, "still on the red side: {low:?}");
    // Every LOW cell, however large its ratio, is closer to the neutral than any
    // MEDIUM cell can be (MEDIUM starts at the MEDIUM ratio).
    let t = Thresholds::default();
    let medium_edge = g.grid.scale.color(t.medium_amplification);
    for end in [diverging(1.0), diverging(0.0)] {
        assert!(contrast(calm(end), neutral()) < contrast(medium_edge, neutral()));
    }
    // LOW below 1x: calm blue.
    let below = fill((1, 4));
    assert!(
        below.2 > below.0 && contrast(below, neutral()) < 1.6,
        "{below:?}"
    );
    // Same value, same colour, whatever the other cells: the map of the HIGH
    // cell alone colours it as the whole map does.
    let alone: Vec<CellSummary> = s
        .iter()
        .filter(|c| c.point.python_threads == 2 && c.point.rust_threads == 16)
        .cloned()
        .collect();
    let g1 = grid(&alone, &groups(&alone)[0], Metric::Amplification, &ctx());
    assert_eq!(g1.grid.scale, g.grid.scale);
    assert_eq!(g1.fill((2, 16), 32.0), fill((2, 16)));
}

#[test]
fn unstable_points_are_marked_with_the_reps_they_need() {
    let s = sweep();
    let need = summary(&s, (4, 16)).unstable.as_ref().unwrap().reps_needed;
    for metric in Metric::ALL {
        let g = grid(&s, &groups(&s)[0], metric, &ctx());
        let note = g.marks.get(&(4, 16)).and_then(|m| m.unstable.clone());
        let explained = g.grid.legend.iter().any(|l| l.contains("~ unstable"));
        if metric.shows_instability() {
            assert_eq!(
                note,
                Some(format!("~ unstable: --reps {need}")),
                "{metric:?}"
            );
            assert!(explained, "{metric:?}: no legend line");
        } else {
            assert_eq!(note, None, "{metric:?}");
            assert!(!explained, "{metric:?}");
        }
        // Steady points carry no note.
        assert!(g
            .marks
            .iter()
            .all(|(k, m)| *k == (4, 16) || m.unstable.is_none()));
    }
}

#[test]
fn the_amplification_legend_names_the_thresholds() {
    let s = sweep();
    let g = grid(&s, &groups(&s)[0], Metric::Amplification, &ctx());
    let legend = g.grid.legend.join("\n");
    for part in [
        "saturated from 10x (HIGH) and 0.1x",
        ">= 10x and nogil delta >= 8 MiB",
        ">= 3x and >= 2 MiB",
        "pale",
    ] {
        assert!(legend.contains(part), "{part} not in:\n{legend}");
    }
    let labels: Vec<String> = g
        .grid
        .scale
        .ticks()
        .into_iter()
        .filter(|t| t.threshold)
        .map(|t| t.label)
        .collect();
    assert_eq!(labels, ["3x MEDIUM", "10x HIGH"]);
    // Written out, the SVG holds them too.
    let dir = tempfile::tempdir().unwrap();
    let written = write_all(dir.path(), &s, &ctx()).unwrap();
    let amp = &written
        .iter()
        .find(|w| w.metric == Metric::Amplification)
        .unwrap()
        .svg;
    for part in ["3x MEDIUM", "10x HIGH", "~ unstable: --reps", "LOW"] {
        assert!(amp.contains(part), "{part} not in the amplification SVG");
    }
    for w in &written {
        assert!(dir.path().join(format!("{}.png", w.stem)).is_file());
    }
}

#[test]
fn smallest_possible_p_values() {
    // 2 / C(2n, n) = 2/6, 2/20, 2/70, 2/252; the last is scipy's p for five fully
    // separated runs per build, quoted in aggregate.rs's test.
    let want = [
        0.3333333333333333,
        0.1,
        0.02857142857142857,
        0.007936507936507936,
    ];
    for (n, w) in (2..=5).zip(want) {
        assert!((smallest_p(n) - w).abs() < 1e-15, "n={n}");
    }
    assert_eq!(smallest_p(1), 1.0);
    assert_eq!(common_legend(3).len(), 3);
    assert_eq!(common_legend(5).len(), 2);
}
