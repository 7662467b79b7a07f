//! Runs -> per-point summaries: the statistics of each build's repetitions, then the
//! amplification and risk level of the point.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::python::inspect::Build;
use crate::results::{Metrics, Point, RunRecord};
use crate::risk::{self, RiskLevel, Thresholds};
use crate::stats;

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
        Some(Summary { median: stats::median(xs)?, min, max, n: xs.len() })
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
    pub arenas_reported: Summary,
    pub peak_threads: Summary,
    pub wall_s: Summary,
    pub calls_per_s: Summary,
    /// The raw deltas, in run order, for statistics downstream.
    pub deltas_kib: Vec<f64>,
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
    pub risk: Option<RiskLevel>,
}

fn build_stats(runs: &[&RunRecord]) -> Option<BuildStats> {
    let ok: Vec<&Metrics> = runs.iter().filter_map(|r| r.metrics.as_ref().filter(|_| r.ok())).collect();
    let failed = runs.len() - ok.len();
    let col = |f: fn(&Metrics) -> f64| -> Vec<f64> { ok.iter().map(|m| f(m)).collect() };
    let deltas = col(|m| m.delta_kib as f64);
    Some(BuildStats {
        runs_ok: ok.len(),
        runs_failed: failed,
        python_version: runs.first().map(|r| r.python_version.clone()).unwrap_or_default(),
        baseline_rss_kib: Summary::of(&col(|m| m.baseline_rss_kib as f64))?,
        peak_rss_kib: Summary::of(&col(|m| m.peak_rss_kib as f64))?,
        final_rss_kib: Summary::of(&col(|m| m.final_rss_kib as f64))?,
        delta_kib: Summary::of(&deltas)?,
        after_trim_rss_kib: Summary::of(&col(|m| m.after_trim_rss_kib as f64))?,
        reclaimable_kib: Summary::of(&col(|m| m.reclaimable_kib as f64))?,
        arena_heaps: Summary::of(&col(|m| m.arena_heaps as f64))?,
        heap_rss_kib: Summary::of(&col(|m| m.heap_rss_kib as f64))?,
        arenas_reported: Summary::of(&col(|m| m.arenas_reported as f64))?,
        peak_threads: Summary::of(&col(|m| m.peak_threads as f64))?,
        wall_s: Summary::of(&col(|m| m.wall_s))?,
        calls_per_s: Summary::of(&col(|m| m.calls_per_s))?,
        deltas_kib: deltas,
    })
}

/// Group runs by point and summarise each. Points come out sorted.
pub fn summarize(runs: &[RunRecord], floor_kib: f64, thresholds: &Thresholds) -> Vec<CellSummary> {
    let mut by_point: BTreeMap<&Point, [Vec<&RunRecord>; 2]> = BTreeMap::new();
    for r in runs {
        let slot = by_point.entry(&r.cell.point).or_default();
        slot[(r.cell.build == Build::Nogil) as usize].push(r);
    }
    by_point
        .into_iter()
        .map(|(point, [gil_runs, nogil_runs])| {
            let gil = build_stats(&gil_runs);
            let nogil = build_stats(&nogil_runs);
            let amplification = match (&gil, &nogil) {
                (Some(g), Some(n)) => Some(risk::amplification(n.delta_kib.median, g.delta_kib.median, floor_kib)),
                _ => None,
            };
            let risk = amplification.zip(nogil.as_ref()).map(|(a, n)| risk::level(a, n.delta_kib.median, thresholds));
            let failed = |runs: &[&RunRecord]| runs.iter().filter(|r| !r.ok()).count();
            CellSummary {
                point: point.clone(),
                gil_failed: failed(&gil_runs),
                nogil_failed: failed(&nogil_runs),
                gil,
                nogil,
                floor_kib,
                amplification,
                risk,
            }
        })
        .collect()
}
