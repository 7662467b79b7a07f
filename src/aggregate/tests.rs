//! Tests of the per-point statistics: adjusted p-values, the amplification's
//! confidence interval, the noise flag and the per-build spread, on hand-made runs.

use super::*;
use crate::results::Cell;

const FLOOR_KIB: f64 = 256.0;

fn run(build: Build, python_threads: u32, rep: u32, delta_kib: i64) -> RunRecord {
    let cell = Cell {
        build,
        point: Point {
            binding: crate::model::Binding::Pyo3,
            profile: "glibc-default".into(),
            pattern: "seed".into(),
            python_threads,
            rust_threads: 4,
        },
    };
    RunRecord::for_test(
        cell,
        rep,
        Metrics {
            delta_kib,
            ..Metrics::default()
        },
    )
}

/// GIL and nogil runs of one point, interleaved like the scheduler runs them.
fn point(python_threads: u32, gil: &[i64], nogil: &[i64]) -> Vec<RunRecord> {
    let gil = gil
        .iter()
        .enumerate()
        .map(|(i, &d)| run(Build::Gil, python_threads, i as u32, d));
    let nogil = nogil
        .iter()
        .enumerate()
        .map(|(i, &d)| run(Build::Nogil, python_threads, i as u32, d));
    gil.zip(nogil).flat_map(|(g, n)| [g, n]).collect()
}

fn grid() -> Vec<RunRecord> {
    let mut runs = point(
        2,
        &[560, 610, 540, 590, 575],
        &[16970, 15800, 17400, 16200, 18100],
    );
    runs.extend(point(
        4,
        &[500, 700, 650, 520, 610],
        &[580, 690, 505, 640, 720],
    ));
    runs.extend(point(8, &[600, 620, 640, 610], &[900, 950, 1000, 880]));
    runs.push(run(Build::Nogil, 8, 4, 990));
    // A point with GIL runs only has no comparison and takes no part in the adjustment.
    runs.push(run(Build::Gil, 16, 0, 700));
    runs
}

#[test]
fn p_values_are_adjusted_across_points() {
    let s = summarize(&grid(), FLOOR_KIB, &Thresholds::default());
    let threads: Vec<u32> = s.iter().map(|c| c.point.python_threads).collect();
    assert_eq!(threads, [2, 4, 8, 16]);
    // python -c "from scipy.stats import mannwhitneyu as m, false_discovery_control as f; ps=[m(n,g).pvalue for n,g in [([16970,15800,17400,16200,18100],[560,610,540,590,575]),([580,690,505,640,720],[500,700,650,520,610]),([900,950,1000,880,990],[600,620,640,610])]]; print([repr(float(p)) for p in ps], f(ps,method='bh').tolist())"
    //   -> ['0.007936507936507936', '0.6904761904761905', '0.015873015873015872'] [0.023809523809523808, 0.6904761904761905, 0.023809523809523808]
    // python -c "from scipy.stats import mannwhitneyu as m; print([float(m(n,g).statistic) for n,g in [([16970,15800,17400,16200,18100],[560,610,540,590,575]),([580,690,505,640,720],[500,700,650,520,610]),([900,950,1000,880,990],[600,620,640,610])]])"
    //   -> [25.0, 15.0, 20.0]
    let raw = [
        0.007936507936507936,
        0.6904761904761905,
        0.015873015873015872,
    ];
    let adjusted = [
        0.023809523809523808,
        0.6904761904761905,
        0.023809523809523808,
    ];
    for (i, c) in s[..3].iter().enumerate() {
        assert!(
            (c.p_value.unwrap() - raw[i]).abs() < 1e-14,
            "{:?}",
            c.p_value
        );
        assert!(
            (c.p_adjusted.unwrap() - adjusted[i]).abs() < 1e-14,
            "{:?}",
            c.p_adjusted
        );
    }
    let u: Vec<Option<f64>> = s.iter().map(|c| c.mann_whitney_u).collect();
    assert_eq!(u, [Some(25.0), Some(15.0), Some(20.0), None]);
    assert_eq!(
        (s[3].p_value, s[3].p_adjusted, s[3].amplification_ci),
        (None, None, None)
    );
}

#[test]
fn the_amplification_ci_contains_the_amplification() {
    let s = summarize(&grid(), FLOOR_KIB, &Thresholds::default());
    for c in &s[..3] {
        let (a, ci) = (c.amplification.unwrap(), c.amplification_ci.unwrap());
        assert!(
            ci.lo <= a && a <= ci.hi && ci.level == 0.95,
            "{a} not in {ci:?} at {}",
            c.point.label()
        );
    }
    // The extra memory of the free-threaded build, with its interval: point 2's
    // medians are 16970 and 575 KiB.
    assert_eq!(s[0].extra_kib, Some(16970.0 - 575.0));
    let ci = s[0].extra_ci.unwrap();
    assert!(
        ci.lo <= 16395.0 && 16395.0 <= ci.hi && ci.lo > 10_000.0,
        "{ci:?}"
    );
    // Point 4's builds overlap: the interval takes in zero.
    let ci = s[1].extra_ci.unwrap();
    assert!(ci.lo < 0.0 && ci.hi > 0.0, "{ci:?}");
    assert_eq!(s[3].extra_ci, None);
    // Reproducible: the seed comes from the point, not from the clock.
    assert_eq!(s, summarize(&grid(), FLOOR_KIB, &Thresholds::default()));
}

#[test]
fn noisy_points_are_flagged_with_the_reps_that_would_pin_them_down() {
    // Point 2: nogil deltas 15.8..18.1 MiB (CV 5.5%), GIL 0.53..0.6 MiB (CV 5%):
    // steady. Point 4: nogil 505..720 KiB, CV 14%, but the ratio of two
    // near-equal numbers has a wide interval.
    let s = summarize(&grid(), FLOOR_KIB, &Thresholds::default());
    assert_eq!(s[0].unstable, None, "{:?}", s[0].unstable);
    // A point whose nogil runs spread from 3 to 10 MiB, like free-threaded churn.
    let runs = point(
        2,
        &[500, 520, 510, 505, 515],
        &[3072, 10240, 4096, 9216, 5120],
    );
    let s = summarize(&runs, FLOOR_KIB, &Thresholds::default());
    let u = s[0]
        .unstable
        .as_ref()
        .expect("a 3-10 MiB spread is flagged");
    // python -c "import statistics as s; x=[3072,10240,4096,9216,5120]; c=s.stdev(x)/s.mean(x); print(c, (1.2533*c/0.1)**2)"
    //   -> 0.5023358549160463 39.636...  (statistics.stdev, ddof=1)
    assert!(
        u.reasons[0].starts_with("nogil deltas vary 50% (CV)"),
        "{u:?}"
    );
    // 40 reps for the CV alone; the amplification's interval is wider still, and
    // what it asks for is capped.
    assert!(u.reasons[1].starts_with("amplification CI "), "{u:?}");
    assert_eq!(u.reps_needed, MAX_SUGGESTED_REPS);
    let cv_only = instability(None, s[0].nogil.as_ref(), None, None, FLOOR_KIB).unwrap();
    assert_eq!(cv_only.reps_needed, 40);
    // The same spread over 40 runs pins the median down: no flag for the CV.
    let many: Vec<i64> = [3072, 10240, 4096, 9216, 5120].repeat(8);
    let runs = point(2, &[500; 40], &many);
    let s = summarize(&runs, FLOOR_KIB, &Thresholds::default());
    assert!(
        s[0].unstable
            .as_ref()
            .is_none_or(|u| !u.reasons.iter().any(|r| r.contains("CV"))),
        "{:?}",
        s[0].unstable
    );
    // GIL deltas below the floor do not count, however they spread.
    let runs = point(
        2,
        &[10, 200, 5, 150, 90],
        &[16970, 15800, 17400, 16200, 18100],
    );
    let s = summarize(&runs, FLOOR_KIB, &Thresholds::default());
    assert!(s[0].unstable.is_none(), "{:?}", s[0].unstable);
}

#[test]
fn build_stats_carry_spread_and_shape() {
    let s = summarize(&grid(), FLOOR_KIB, &Thresholds::default());
    let nogil = s[0].nogil.as_ref().unwrap();
    // python -c "import numpy as np, scipy.stats as s; x=[16970,15800,17400,16200,18100]; print(s.median_abs_deviation(x), s.iqr(x), np.std(x,ddof=1))"
    //   -> 770.0 1200.0 921.2382970762776
    assert_eq!((nogil.delta_mad_kib, nogil.delta_iqr_kib), (770.0, 1200.0));
    assert!((nogil.delta_std_kib - 921.2382970762776).abs() < 1e-9);
    assert!(
        nogil.delta_cv.is_some()
            && nogil.delta_skewness.is_some()
            && nogil.delta_kurtosis.is_some()
    );
    let ci = nogil.delta_median_ci_kib.unwrap();
    assert!(ci.lo <= nogil.delta_kib.median && nogil.delta_kib.median <= ci.hi);
    // One run: no spread to speak of.
    let single = s[3].gil.as_ref().unwrap();
    assert_eq!(
        (
            single.delta_mad_kib,
            single.delta_iqr_kib,
            single.delta_std_kib
        ),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(
        (
            single.delta_cv,
            single.delta_skewness,
            single.delta_kurtosis
        ),
        (None, None, None)
    );
    assert_eq!(
        single.delta_median_ci_kib.map(|c| (c.lo, c.hi)),
        Some((700.0, 700.0))
    );
}

/// Runs of the talk's cell with a control arm: (build, rust threads, delta).
fn controlled(rows: &[(Build, u32, &[i64])]) -> Vec<RunRecord> {
    let mut out = Vec::new();
    for (build, rust_threads, deltas) in rows {
        for (rep, &d) in deltas.iter().enumerate() {
            let mut r = run(*build, 8, rep as u32, d);
            r.cell.point.rust_threads = *rust_threads;
            r.run_id = r.cell.run_id(rep as u32);
            out.push(r);
        }
    }
    out
}

#[test]
fn each_net_figure_is_its_gross_minus_its_control() {
    // The talk's cell on a small host: gross GIL 0.47, nogil 1.01 MiB; control (no
    // native call) GIL 0.11, nogil 0.65 MiB.
    let runs = controlled(&[
        (Build::Gil, 50, &[480, 410, 500]),
        (Build::Nogil, 50, &[990, 1034, 1075]),
        (Build::Gil, 0, &[113, 175, 112]),
        (Build::Nogil, 0, &[665, 666, 727]),
    ]);
    let s = summarize(&runs, FLOOR_KIB, &Thresholds::default());
    assert_eq!(s.len(), 1, "the control point is not a point of the grid");
    let c = &s[0];
    assert_eq!(c.point.rust_threads, 50);
    let n = c.native.as_ref().expect("a control arm");
    let (g, nn) = (n.gil.as_ref().unwrap(), n.nogil.as_ref().unwrap());
    assert_eq!(g.net_delta_kib, 480.0 - 113.0);
    assert_eq!(nn.net_delta_kib, 1034.0 - 666.0);
    assert_eq!(n.extra_kib, Some((1034.0 - 666.0) - (480.0 - 113.0)));
    assert_eq!(n.interpreter_cost_kib, Some(666.0 - 113.0));
    // Native amplification: 368 / max(367, 256).
    assert!((n.amplification.unwrap() - 368.0 / 367.0).abs() < 1e-12);
    // The talk's gross ratio stays: 1034 / 480.
    assert!((c.amplification.unwrap() - 1034.0 / 480.0).abs() < 1e-12);
    assert_eq!(c.judged, Judge::Native);
    assert_eq!(c.judged_amplification().map(|(a, _)| a), n.amplification);
    for ci in [
        g.net_delta_ci,
        n.extra_ci,
        n.interpreter_cost_ci,
        n.amplification_ci,
    ] {
        assert!(ci.is_some(), "three runs per group give intervals");
    }
    let ci = n.interpreter_cost_ci.unwrap();
    assert!(ci.lo <= 553.0 && 553.0 <= ci.hi, "{ci:?}");
    // --judge gross judges the talk's figures, and keeps the native ones beside them.
    let gross = summarize_judged(&runs, FLOOR_KIB, &Thresholds::default(), Judge::Gross);
    assert_eq!(gross[0].judged, Judge::Gross);
    assert_eq!(
        gross[0].judged_amplification().map(|(a, _)| a),
        c.amplification
    );
    assert_eq!(gross[0].native, c.native);
}

#[test]
fn a_large_gross_ratio_made_by_the_interpreters_own_threads_is_low_native_risk() {
    // 32 Python threads calling one Rust thread each: the free-threaded build leaves
    // 2.3 MiB, 2.2 of it with no native call at all (gross ratio 6.6x: MEDIUM).
    let runs = controlled(&[
        (Build::Gil, 1, &[350, 360, 340, 355, 345]),
        (Build::Nogil, 1, &[2390, 2380, 2400, 2370, 2385]),
        (Build::Gil, 0, &[300, 310, 290, 305, 295]),
        (Build::Nogil, 0, &[2300, 2310, 2290, 2295, 2305]),
    ]);
    let s = summarize(&runs, FLOOR_KIB, &Thresholds::default());
    assert_eq!(s[0].gross_risk, Some(RiskLevel::Medium));
    assert_eq!(s[0].risk, Some(RiskLevel::Low));
    let d = crate::risk::diagnosis::diagnose_point(&s[0], Build::Nogil).unwrap();
    assert_eq!(
        d.main().unwrap().mechanism,
        crate::levers::Mechanism::InterpreterCost
    );
}

#[test]
fn one_run_per_group_prints_no_interval() {
    let runs = controlled(&[
        (Build::Gil, 50, &[480]),
        (Build::Nogil, 50, &[1034]),
        (Build::Gil, 0, &[113]),
        (Build::Nogil, 0, &[666]),
    ]);
    let c = &summarize(&runs, FLOOR_KIB, &Thresholds::default())[0];
    let n = c.native.as_ref().unwrap();
    assert!(n.amplification.is_some() && n.extra_kib.is_some());
    assert_eq!(
        (n.amplification_ci, n.extra_ci, n.interpreter_cost_ci),
        (None, None, None)
    );
    assert_eq!((c.amplification_ci, c.extra_ci), (None, None));
}

#[test]
fn without_a_control_arm_the_gross_figures_are_judged() {
    let s = summarize(&grid(), FLOOR_KIB, &Thresholds::default());
    assert!(s
        .iter()
        .all(|c| c.native.is_none() && c.judged == Judge::Gross));
    assert!(s.iter().all(|c| c.risk == c.gross_risk));
}
