//! Runs -> per-point summaries: the statistics of each build's repetitions, then the
//! amplification and risk level of the point, with the amplification's bootstrap
//! confidence interval and the Mann-Whitney p-value of nogil vs GIL deltas,
//! Benjamini-Hochberg-adjusted across every point summarised together.
//!
//! Control runs (0 Rust threads, `Point::is_control`) are not points of the grid:
//! each point carries its control arm's figures and its net delta per build, and the
//! native comparison built from them (`control`). Risk levels and instability flags
//! judge those native figures by default (`Judge`), the gross ones where a point has
//! no control arm or with `--judge gross`.
//!
//! Bootstrap intervals are seeded from the cell's or point's label, so the same
//! results.jsonl always gives the same report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amplification::{self as risk, RiskLevel, Thresholds};
use crate::model::{Build, Judge};
use crate::results::{Metrics, Point, RunRecord};
use crate::stats::bootstrap::seed_of;
use crate::stats::{self, Ci};

mod control;
mod instability;
pub mod rounds;

pub use control::{Native, NetBuild};
#[cfg(test)]
use instability::MAX_SUGGESTED_REPS;
pub use instability::{instability, Instability, UNSTABLE_CI_HALF_WIDTH, UNSTABLE_CV};

/// Coverage of every bootstrap interval in a summary.
const CI_LEVEL: f64 = 0.95;
/// Bootstrap resamples per interval.
const CI_RESAMPLES: usize = 2000;

/// Median and range of one metric over the successful runs of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(xs: &[f64]) -> Option<Self> {
        let (min, max) = stats::range(xs)?;
        Some(Summary {
            median: stats::median(xs)?,
            min,
            max,
            n: xs.len(),
        })
    }
}

/// The repetitions of one cell (one build at one point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildStats {
    pub runs_ok: usize,
    pub runs_failed: usize,
    pub python_version: String,
    pub baseline_rss_kib: Summary,
    pub peak_rss_kib: Summary,
    pub final_rss_kib: Summary,
    pub delta_kib: Summary,
    pub after_trim_rss_kib: Summary,
    pub reclaimable_kib: Summary,
    pub arena_heaps: Summary,
    pub heap_rss_kib: Summary,
    /// Arenas by glibc's own count (verified runs only).
    #[serde(default)]
    pub arenas_reported: Option<Summary>,
    pub peak_threads: Summary,
    pub wall_s: Summary,
    pub calls_per_s: Summary,
    /// The raw deltas, in run order, for statistics downstream.
    pub deltas_kib: Vec<f64>,
    /// The raw final RSS figures, in run order (the advice rule pairs them by point).
    #[serde(default)]
    pub finals_kib: Vec<f64>,
    /// Median absolute deviation of the deltas (unscaled; 0 for fewer than 2 runs).
    pub delta_mad_kib: f64,
    /// Interquartile range of the deltas (type 7 quartiles; 0 for fewer than 2 runs).
    pub delta_iqr_kib: f64,
    /// Sample standard deviation of the deltas (ddof = 1; 0 for fewer than 2 runs).
    pub delta_std_kib: f64,
    /// std / mean of the deltas; None for fewer than 2 runs or a zero mean.
    pub delta_cv: Option<f64>,
    /// Bias-corrected skewness of the deltas; None below 3 runs or with no spread.
    pub delta_skewness: Option<f64>,
    /// Bias-corrected excess kurtosis of the deltas; None below 4 runs or with no spread.
    pub delta_kurtosis: Option<f64>,
    /// 95% percentile bootstrap interval of the median delta.
    pub delta_median_ci_kib: Option<Ci>,
    /// Where the delta went: the median, over runs, of each region's final - baseline.
    pub regions_delta_kib: RegionMedians,
    /// Verified runs whose smaps arena-heap count differs from malloc_info's in the
    /// child, both taken at the same pause after the last snapshot.
    pub heap_count_mismatches: usize,
    /// Median pymalloc arena memory at the final phase (GIL builds; from the child).
    pub pymalloc_arena_kib: Option<f64>,
    /// Median bytes the pattern kept alive at the final snapshot (KiB).
    #[serde(default)]
    pub store_kib: Option<f64>,
    /// Arenas at the final snapshot, read from outside (runs where they could be).
    #[serde(default)]
    pub arenas_read: Option<Summary>,
    /// Free inside the arenas at the final snapshot (fast bins, bins, tops), KiB.
    #[serde(default)]
    pub arena_free_kib: Option<Summary>,
    /// Change of the free bytes inside the arenas, final minus baseline (median, KiB).
    #[serde(default)]
    pub arena_free_delta_kib: Option<f64>,
    /// Resident RSS a malloc_trim(0) would have returned at the final snapshot, KiB.
    #[serde(default)]
    pub trimmable_kib: Option<Summary>,
    /// Resident RSS a 128 KiB trim threshold would return from thread arenas' tops at
    /// the final snapshot (median, KiB).
    #[serde(default)]
    pub top_trim_kib: Option<f64>,
    /// Verified runs (--verify) whose outside reading differed from malloc_info.
    #[serde(default)]
    pub malloc_info_mismatches: usize,
    /// With `--rounds` 3 or more: the first-round delta, the settled level, the
    /// growth per round and whether the cell settles (`rounds.rs`).
    #[serde(default)]
    pub rounds: Option<rounds::Rounds>,
}

/// Median change of each smaps region over a cell's runs, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionMedians {
    pub arena_heaps: f64,
    /// Arena heaps added (a count, not KiB).
    #[serde(default)]
    pub arena_heaps_added: f64,
    pub main_heap: f64,
    pub stacks: f64,
    pub python_alloc: f64,
    pub file: f64,
    pub anon_other: f64,
}

/// A point with both builds and the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub point: Point,
    pub gil: Option<BuildStats>,
    pub nogil: Option<BuildStats>,
    /// Failed runs of each build (they have no metrics, so no BuildStats may exist).
    pub gil_failed: usize,
    pub nogil_failed: usize,
    pub floor_kib: f64,
    /// None unless both builds have successful runs.
    pub amplification: Option<f64>,
    /// 95% percentile bootstrap interval of the amplification, each build's deltas
    /// resampled independently.
    pub amplification_ci: Option<Ci>,
    /// Mann-Whitney U of the nogil deltas against the GIL deltas (scipy's `statistic`
    /// with x = nogil): n_nogil * n_gil means every nogil run grew more.
    pub mann_whitney_u: Option<f64>,
    /// Two-sided Mann-Whitney p-value, nogil deltas vs GIL deltas.
    pub p_value: Option<f64>,
    /// `p_value` adjusted by Benjamini-Hochberg over every point of the same
    /// `summarize` call that has a p-value.
    pub p_adjusted: Option<f64>,
    pub risk: Option<RiskLevel>,
    /// The free-threaded build's extra memory: median nogil delta - median GIL delta
    /// (KiB). The ratio alone hides size: +30 MiB at 1.4x is worth knowing.
    #[serde(default)]
    pub extra_kib: Option<f64>,
    /// 95% percentile bootstrap interval of `extra_kib` (each build resampled
    /// independently).
    #[serde(default)]
    pub extra_ci: Option<Ci>,
    /// Set when the repetitions do not pin the point down (see [`Instability`]).
    #[serde(default)]
    pub unstable: Option<Instability>,
    /// The control arm's figures and the native comparison; None without a control
    /// arm (`--no-control`, or a folder written before it existed).
    #[serde(default)]
    pub native: Option<Native>,
    /// Which figures `risk` and `unstable` judged: native where the point has both
    /// builds' net deltas and the sweep judges native figures, else gross.
    #[serde(default = "judged_gross")]
    pub judged: Judge,
    /// The risk level of the gross figures (the talk's), whichever figures `risk` judged.
    #[serde(default)]
    pub gross_risk: Option<RiskLevel>,
}

fn judged_gross() -> Judge {
    Judge::Gross
}

impl CellSummary {
    /// The amplification `risk` judged, with its interval: the native one, or the
    /// gross (talk's) one.
    pub fn judged_amplification(&self) -> Option<(f64, Option<Ci>)> {
        match (self.judged, &self.native) {
            (Judge::Native, Some(n)) => n.amplification.map(|a| (a, n.amplification_ci)),
            _ => self.amplification.map(|a| (a, self.amplification_ci)),
        }
    }

    /// The extra memory `risk` judged, with its interval: native extra (net nogil -
    /// net GIL), or nogil delta - GIL delta.
    pub fn judged_extra(&self) -> Option<(f64, Option<Ci>)> {
        match (self.judged, &self.native) {
            (Judge::Native, Some(n)) => n.extra_kib.map(|e| (e, n.extra_ci)),
            _ => self.extra_kib.map(|e| (e, self.extra_ci)),
        }
    }

    /// A build's statistics at this point.
    pub fn stats(&self, build: Build) -> Option<&BuildStats> {
        match build {
            Build::Gil => self.gil.as_ref(),
            Build::Nogil => self.nogil.as_ref(),
        }
    }
}

fn build_stats(runs: &[&RunRecord]) -> Option<BuildStats> {
    let first = runs.first()?;
    let ok: Vec<&Metrics> = runs
        .iter()
        .filter_map(|r| r.metrics.as_ref().filter(|_| r.ok()))
        .collect();
    let failed = runs.len() - ok.len();
    let col = |f: fn(&Metrics) -> f64| -> Vec<f64> { ok.iter().map(|m| f(m)).collect() };
    let deltas = col(|m| m.delta_kib as f64);
    Some(BuildStats {
        runs_ok: ok.len(),
        runs_failed: failed,
        python_version: first.python_version.clone(),
        baseline_rss_kib: Summary::of(&col(|m| m.baseline_rss_kib as f64))?,
        peak_rss_kib: Summary::of(&col(|m| m.peak_rss_kib as f64))?,
        final_rss_kib: Summary::of(&col(|m| m.final_rss_kib as f64))?,
        delta_kib: Summary::of(&deltas)?,
        after_trim_rss_kib: Summary::of(&col(|m| m.after_trim_rss_kib as f64))?,
        reclaimable_kib: Summary::of(&col(|m| m.reclaimable_kib as f64))?,
        arena_heaps: Summary::of(&col(|m| m.arena_heaps as f64))?,
        heap_rss_kib: Summary::of(&col(|m| m.heap_rss_kib as f64))?,
        arenas_reported: some_summary(&ok, |m| m.arenas_reported.map(f64::from)),
        peak_threads: Summary::of(&col(|m| m.peak_threads as f64))?,
        wall_s: Summary::of(&col(|m| m.wall_s))?,
        calls_per_s: Summary::of(&col(|m| m.calls_per_s))?,
        delta_mad_kib: stats::mad(&deltas).unwrap_or(0.0),
        delta_iqr_kib: stats::iqr(&deltas).unwrap_or(0.0),
        delta_std_kib: stats::std(&deltas).unwrap_or(0.0),
        delta_cv: stats::cv(&deltas),
        delta_skewness: stats::skewness(&deltas),
        delta_kurtosis: stats::kurtosis(&deltas),
        delta_median_ci_kib: stats::bootstrap_median_ci(
            &deltas,
            CI_LEVEL,
            CI_RESAMPLES,
            seed_of(&first.cell.label()),
        ),
        regions_delta_kib: RegionMedians {
            arena_heaps: med(&col(|m| m.regions_delta.arena_heap_kib as f64)),
            arena_heaps_added: med(&col(|m| m.regions_delta.arena_heaps as f64)),
            main_heap: med(&col(|m| m.regions_delta.main_heap_kib as f64)),
            stacks: med(&col(|m| m.regions_delta.stack_kib as f64)),
            python_alloc: med(&col(|m| m.regions_delta.python_alloc_kib as f64)),
            file: med(&col(|m| m.regions_delta.file_kib as f64)),
            anon_other: med(&col(|m| m.regions_delta.anon_other_kib as f64)),
        },
        heap_count_mismatches: runs
            .iter()
            .filter(|r| r.ok())
            .filter_map(|r| {
                let smaps = r.phases.verified.as_ref()?.regions.arena_heaps;
                Some(smaps != r.metrics.as_ref()?.heaps_reported?)
            })
            .filter(|&differs| differs)
            .count(),
        pymalloc_arena_kib: stats::median(
            &ok.iter()
                .filter_map(|m| m.pymalloc_arena_kib.map(|k| k as f64))
                .collect::<Vec<_>>(),
        ),
        store_kib: stats::median(&col(|m| m.store_bytes as f64 / 1024.0)),
        arenas_read: some_summary(&ok, |m| m.arenas_read.map(f64::from)),
        arena_free_kib: some_summary(&ok, |m| m.arena_free_kib.map(|k| k as f64)),
        arena_free_delta_kib: some_summary(&ok, |m| m.arena_free_delta_kib.map(|k| k as f64))
            .map(|s| s.median),
        trimmable_kib: some_summary(&ok, |m| m.trimmable_kib.map(|k| k as f64)),
        top_trim_kib: some_summary(&ok, |m| m.top_trim_kib.map(|k| k as f64)).map(|s| s.median),
        malloc_info_mismatches: ok
            .iter()
            .filter(|m| m.malloc_info_agrees == Some(false))
            .count(),
        finals_kib: col(|m| m.final_rss_kib as f64),
        deltas_kib: deltas,
        rounds: rounds::rounds(&ok, &first.cell.label()),
    })
}

/// The summary of an optional metric over the runs that have it.
fn some_summary(ok: &[&Metrics], f: impl Fn(&Metrics) -> Option<f64>) -> Option<Summary> {
    Summary::of(&ok.iter().filter_map(|m| f(m)).collect::<Vec<_>>())
}

fn med(xs: &[f64]) -> f64 {
    stats::median(xs).unwrap_or(0.0)
}

/// Group runs by point and summarise each, judging native figures where a point
/// has a control arm. Points come out sorted. The p-values of all the points are
/// adjusted together, so summarise a whole grid in one call.
pub fn summarize(runs: &[RunRecord], floor_kib: f64, thresholds: &Thresholds) -> Vec<CellSummary> {
    summarize_judged(runs, floor_kib, thresholds, Judge::Native)
}

/// [`summarize`], judging the figures `judge` names.
pub fn summarize_judged(
    runs: &[RunRecord],
    floor_kib: f64,
    thresholds: &Thresholds,
    judge: Judge,
) -> Vec<CellSummary> {
    let mut by_point: BTreeMap<&Point, [Vec<&RunRecord>; 2]> = BTreeMap::new();
    for r in runs {
        let slot = by_point.entry(&r.cell.point).or_default();
        slot[(r.cell.build == Build::Nogil) as usize].push(r);
    }
    let controls: BTreeMap<&Point, [Option<BuildStats>; 2]> = by_point
        .iter()
        .filter(|(p, _)| p.is_control())
        .map(|(p, [g, n])| (*p, [build_stats(g), build_stats(n)]))
        .collect();
    let mut summaries: Vec<CellSummary> = by_point
        .iter()
        .filter(|(p, _)| !p.is_control())
        .map(|(point, runs)| summarize_point(point, runs, &controls, floor_kib, thresholds, judge))
        .collect();
    let raw: Vec<f64> = summaries.iter().filter_map(|s| s.p_value).collect();
    // Mann-Whitney p-values are always in [0, 1], so the adjustment always applies.
    if let Some(adjusted) = stats::benjamini_hochberg(&raw) {
        let tested = summaries.iter_mut().filter(|s| s.p_value.is_some());
        for (s, q) in tested.zip(adjusted) {
            s.p_adjusted = Some(q);
        }
    }
    summaries
}

/// One point's summary from its runs per build and the control arm's statistics of
/// every control point.
fn summarize_point(
    point: &Point,
    [gil_runs, nogil_runs]: &[Vec<&RunRecord>; 2],
    controls: &BTreeMap<&Point, [Option<BuildStats>; 2]>,
    floor_kib: f64,
    thresholds: &Thresholds,
    judge: Judge,
) -> CellSummary {
    let gil = build_stats(gil_runs);
    let nogil = build_stats(nogil_runs);
    let both = gil.as_ref().zip(nogil.as_ref());
    let amplification =
        both.map(|(g, n)| risk::amplification(n.delta_kib.median, g.delta_kib.median, floor_kib));
    // With one run per build every resample is the same value: no interval.
    let resampled = both.filter(|(g, n)| g.runs_ok > 1 || n.runs_ok > 1);
    let amplification_ci = resampled.and_then(|(g, n)| {
        let seed = seed_of(&point.label());
        stats::bootstrap_amplification_ci(
            &n.deltas_kib,
            &g.deltas_kib,
            floor_kib,
            CI_LEVEL,
            CI_RESAMPLES,
            seed,
        )
    });
    let extra_kib = both.map(|(g, n)| n.delta_kib.median - g.delta_kib.median);
    let extra_ci = resampled.and_then(|(g, n)| {
        stats::bootstrap_paired_difference_ci(
            &[(&n.deltas_kib, &g.deltas_kib)],
            CI_LEVEL,
            CI_RESAMPLES,
            seed_of(&point.label()) ^ 0x5EED,
        )
    });
    let test = both.and_then(|(g, n)| stats::mann_whitney_u(&n.deltas_kib, &g.deltas_kib));
    let gross_risk = amplification
        .zip(nogil.as_ref())
        .map(|(a, n)| risk::level(a, n.delta_kib.median, thresholds));
    let native = controls.get(&point.control()).map(|[cg, cn]| {
        control::native(
            [gil.as_ref(), nogil.as_ref()],
            [cg.as_ref(), cn.as_ref()],
            floor_kib,
            thresholds,
            seed_of(&point.label()) ^ 0xC0_47_01,
        )
    });
    let native_judged = native
        .as_ref()
        .filter(|n| judge == Judge::Native && n.risk.is_some());
    let (judged, risk, unstable) = match native_judged {
        Some(n) => (
            Judge::Native,
            n.risk,
            instability(
                gil.as_ref(),
                nogil.as_ref(),
                n.amplification,
                n.amplification_ci.as_ref(),
                floor_kib,
            ),
        ),
        None => (
            Judge::Gross,
            gross_risk,
            instability(
                gil.as_ref(),
                nogil.as_ref(),
                amplification,
                amplification_ci.as_ref(),
                floor_kib,
            ),
        ),
    };
    let failed = |runs: &[&RunRecord]| runs.iter().filter(|r| !r.ok()).count();
    CellSummary {
        point: (*point).clone(),
        gil_failed: failed(gil_runs),
        nogil_failed: failed(nogil_runs),
        gil,
        nogil,
        floor_kib,
        amplification,
        amplification_ci,
        mann_whitney_u: test.map(|t| t.u),
        p_value: test.map(|t| t.p),
        p_adjusted: None,
        risk,
        extra_kib,
        extra_ci,
        unstable,
        native,
        judged,
        gross_risk,
    }
}

/// Builders for other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The stats of three identical runs with this delta (KiB).
    pub(crate) fn build_stats_for(delta_kib: f64) -> BuildStats {
        let run = crate::results::RunRecord::for_test(
            crate::results::Cell {
                build: Build::Nogil,
                point: Point {
                    binding: crate::model::Binding::Pyo3,
                    profile: "glibc-default".into(),
                    pattern: "seed".into(),
                    python_threads: 8,
                    rust_threads: 50,
                },
            },
            0,
            Metrics {
                baseline_rss_kib: 16_000,
                final_rss_kib: 16_000 + delta_kib as u64,
                delta_kib: delta_kib as i64,
                ..Metrics::default()
            },
        );
        build_stats(&[&run, &run, &run]).expect("three runs")
    }
}

#[cfg(test)]
mod tests;
