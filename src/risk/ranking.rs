//! Profiles ranked by what a service pays: the free-threaded and GIL builds' final and
//! peak RSS, with the throughput each costs against glibc-default, and the Pareto
//! front of memory against throughput.
//!
//! A profile's figure is the median, over the points it ran, of each point's median
//! over repetitions. Throughput is calls per second relative to glibc-default at the
//! same point and build (1.0 = as fast; 0.9 = 10% slower), the median over the points
//! both profiles ran; it is unknown when glibc-default was not part of the sweep.

use std::collections::BTreeMap;

use crate::aggregate::{BuildStats, CellSummary};
use crate::model::Binding;
use crate::results::Point;
use crate::stats::median;

/// The profile every other one is compared with.
pub const BASELINE_PROFILE: &str = "glibc-default";

/// One profile's standing over the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRank {
    pub profile: String,
    /// Points with at least one successful run of each build.
    pub points: usize,
    pub final_nogil_kib: Option<f64>,
    pub peak_nogil_kib: Option<f64>,
    pub final_gil_kib: Option<f64>,
    pub peak_gil_kib: Option<f64>,
    pub delta_nogil_kib: Option<f64>,
    pub amplification: Option<f64>,
    /// Calls/s relative to glibc-default (free-threaded build).
    pub throughput_nogil: Option<f64>,
    /// Calls/s relative to glibc-default (GIL build).
    pub throughput_gil: Option<f64>,
    /// 1-based ranks, smallest RSS first (profiles without the figure come last).
    pub rank_final_nogil: usize,
    pub rank_peak_nogil: usize,
    pub rank_final_gil: usize,
    pub rank_peak_gil: usize,
    /// Not beaten on both free-threaded final RSS and throughput by another profile.
    pub pareto: bool,
}

impl ProfileRank {
    /// 1 - relative throughput: 0.08 is 8% fewer calls per second than glibc-default.
    pub fn throughput_cost(&self) -> Option<f64> {
        self.throughput_nogil.map(|t| 1.0 - t)
    }
}

fn med(xs: impl Iterator<Item = f64>) -> Option<f64> {
    median(&xs.collect::<Vec<_>>())
}

/// A point's key without the profile, to pair a profile's point with the baseline's.
fn key(p: &Point) -> (Binding, &str, u32, u32) {
    (p.binding, &p.pattern, p.python_threads, p.rust_threads)
}

/// 1-based ranks by ascending value; None sorts last, ties share the order given.
fn ranks(values: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| match (values[a], values[b]) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut out = vec![0; values.len()];
    for (rank, i) in order.into_iter().enumerate() {
        out[i] = rank + 1;
    }
    out
}

/// Which of (memory, throughput) pairs no other pair dominates (less or equal memory
/// and more or equal throughput, one of them strictly). Unknown throughput counts as
/// equal to any other, so with no throughput at all the front is the lowest memory.
pub fn pareto_front(points: &[(Option<f64>, Option<f64>)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(m, t)| {
            let Some(m) = m else { return false };
            !points.iter().any(|&(m2, t2)| {
                let Some(m2) = m2 else { return false };
                let (t, t2) = match (t, t2) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (0.0, 0.0),
                };
                m2 <= m && t2 >= t && (m2 < m || t2 > t)
            })
        })
        .collect()
}

fn nogil(c: &CellSummary) -> &Option<BuildStats> {
    &c.nogil
}

fn gil(c: &CellSummary) -> &Option<BuildStats> {
    &c.gil
}

/// Rank every profile in `summaries`, smallest free-threaded final RSS first.
pub fn rank_profiles(summaries: &[CellSummary]) -> Vec<ProfileRank> {
    let mut by_profile: BTreeMap<&str, Vec<&CellSummary>> = BTreeMap::new();
    for c in summaries {
        by_profile.entry(&c.point.profile).or_default().push(c);
    }
    let baseline: BTreeMap<_, &CellSummary> = by_profile
        .get(BASELINE_PROFILE)
        .map(|cs| cs.iter().map(|c| (key(&c.point), *c)).collect())
        .unwrap_or_default();
    let mut out: Vec<ProfileRank> = by_profile
        .iter()
        .map(|(profile, cells)| {
            let build = |f: fn(&CellSummary) -> &Option<BuildStats>, g: fn(&BuildStats) -> f64| {
                med(cells.iter().filter_map(|c| f(c).as_ref().map(g)))
            };
            let relative = |f: fn(&CellSummary) -> &Option<BuildStats>| {
                med(cells.iter().filter_map(|c| {
                    let base = f(baseline.get(&key(&c.point))?)
                        .as_ref()?
                        .calls_per_s
                        .median;
                    let mine = f(c).as_ref()?.calls_per_s.median;
                    (base > 0.0).then(|| mine / base)
                }))
            };
            ProfileRank {
                profile: profile.to_string(),
                points: cells
                    .iter()
                    .filter(|c| c.gil.is_some() && c.nogil.is_some())
                    .count(),
                final_nogil_kib: build(nogil, |b| b.final_rss_kib.median),
                peak_nogil_kib: build(nogil, |b| b.peak_rss_kib.median),
                final_gil_kib: build(gil, |b| b.final_rss_kib.median),
                peak_gil_kib: build(gil, |b| b.peak_rss_kib.median),
                delta_nogil_kib: build(nogil, |b| b.delta_kib.median),
                amplification: med(cells.iter().filter_map(|c| c.amplification)),
                throughput_nogil: relative(nogil),
                throughput_gil: relative(gil),
                rank_final_nogil: 0,
                rank_peak_nogil: 0,
                rank_final_gil: 0,
                rank_peak_gil: 0,
                pareto: false,
            }
        })
        .collect();
    let col = |f: fn(&ProfileRank) -> Option<f64>| out.iter().map(f).collect::<Vec<_>>();
    let (a, b, c, d) = (
        ranks(&col(|r| r.final_nogil_kib)),
        ranks(&col(|r| r.peak_nogil_kib)),
        ranks(&col(|r| r.final_gil_kib)),
        ranks(&col(|r| r.peak_gil_kib)),
    );
    let front = pareto_front(
        &out.iter()
            .map(|r| (r.final_nogil_kib, r.throughput_nogil))
            .collect::<Vec<_>>(),
    );
    for (i, r) in out.iter_mut().enumerate() {
        (
            r.rank_final_nogil,
            r.rank_peak_nogil,
            r.rank_final_gil,
            r.rank_peak_gil,
        ) = (a[i], b[i], c[i], d[i]);
        r.pareto = front[i];
    }
    out.sort_by_key(|r| (r.rank_final_nogil, r.rank_final_gil));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregate::summarize;
    use crate::model::Build;
    use crate::results::{Cell, Metrics, RunRecord};
    use crate::risk::Thresholds;

    /// Two reps of each build of one point of `profile`: (final KiB, calls/s) per build.
    pub(crate) fn runs(
        profile: &str,
        python_threads: u32,
        gil: (u64, f64),
        nogil: (u64, f64),
    ) -> Vec<RunRecord> {
        let mut v = Vec::new();
        for rep in 0..2u32 {
            for (build, (final_kib, calls)) in [(Build::Gil, gil), (Build::Nogil, nogil)] {
                let cell = Cell {
                    build,
                    point: Point {
                        binding: crate::model::Binding::Pyo3,
                        profile: profile.into(),
                        pattern: "seed".into(),
                        python_threads,
                        rust_threads: 8,
                    },
                };
                // The reps differ by 10 KiB and 1 call/s, so medians sit between them.
                let jitter = u64::from(rep) * 10;
                v.push(RunRecord::for_test(
                    cell,
                    rep,
                    Metrics {
                        baseline_rss_kib: 10_000,
                        final_rss_kib: final_kib + jitter,
                        peak_rss_kib: final_kib + 5_000 + jitter,
                        delta_kib: (final_kib + jitter) as i64 - 10_000,
                        calls_per_s: calls + f64::from(rep),
                        ..Metrics::default()
                    },
                ));
            }
        }
        v
    }

    /// glibc-default grows most; arena-max-1 least but 30% slower; arena-max-2 in
    /// between and 5% slower; over two points each.
    pub(crate) fn sweep() -> Vec<CellSummary> {
        let mut r = Vec::new();
        for p in [2, 4] {
            r.extend(runs("glibc-default", p, (12_000, 100.0), (40_000, 100.0)));
            r.extend(runs("arena-max-2", p, (11_000, 95.0), (20_000, 95.0)));
            r.extend(runs("arena-max-1", p, (10_500, 70.0), (15_000, 70.0)));
        }
        summarize(&r, 256.0, &Thresholds::default())
    }

    #[test]
    fn profiles_rank_by_rss_with_their_throughput_cost() {
        let ranks = rank_profiles(&sweep());
        let names: Vec<&str> = ranks.iter().map(|r| r.profile.as_str()).collect();
        assert_eq!(names, ["arena-max-1", "arena-max-2", "glibc-default"]);
        let r = &ranks[1];
        // Medians of (20000, 20010) and (25000, 25010) over two equal points.
        assert_eq!(r.final_nogil_kib, Some(20_005.0));
        assert_eq!(r.peak_nogil_kib, Some(25_005.0));
        assert_eq!(r.final_gil_kib, Some(11_005.0));
        // (95.5 / 100.5) at both points.
        assert!((r.throughput_nogil.unwrap() - 95.5 / 100.5).abs() < 1e-12);
        assert!((r.throughput_cost().unwrap() - (1.0 - 95.5 / 100.5)).abs() < 1e-12);
        assert_eq!(ranks[2].throughput_nogil, Some(1.0));
        assert_eq!(
            (
                r.rank_final_nogil,
                r.rank_peak_nogil,
                r.rank_final_gil,
                r.rank_peak_gil
            ),
            (2, 2, 2, 2)
        );
        assert_eq!(r.points, 2);
        // Each is best at something: less memory costs throughput all the way.
        assert!(ranks.iter().all(|r| r.pareto));
    }

    #[test]
    fn without_glibc_default_throughput_is_unknown() {
        let s: Vec<CellSummary> = sweep()
            .into_iter()
            .filter(|c| c.point.profile != BASELINE_PROFILE)
            .collect();
        let ranks = rank_profiles(&s);
        assert!(ranks.iter().all(|r| r.throughput_nogil.is_none()));
        // The front is then the lowest memory alone.
        assert_eq!(
            ranks.iter().map(|r| r.pareto).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn the_pareto_front_drops_dominated_profiles() {
        let f = pareto_front(&[
            (Some(10.0), Some(0.7)),
            (Some(20.0), Some(0.95)),
            (Some(25.0), Some(0.90)), // more memory and slower than the second
            (Some(40.0), Some(1.0)),
            (None, Some(2.0)),        // nothing measured
            (Some(20.0), Some(0.95)), // a tie dominates nothing
        ]);
        assert_eq!(f, [true, true, false, true, false, true]);
    }

    #[test]
    fn ranks_put_unknowns_last() {
        assert_eq!(ranks(&[Some(3.0), None, Some(1.0)]), [2, 3, 1]);
    }
}
