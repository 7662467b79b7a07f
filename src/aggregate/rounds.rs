//! Rounds within a run (`--rounds`): whether a cell's memory settles or keeps growing.
//!
//! A run repeats its workload in rounds (a new pool of the same Python threads each
//! round) and the parent snapshots after each. Per run, over the **last half** of the
//! rounds (rounds ⌊N/2⌋+1 to N, so at least two with N >= 3):
//! - the **first-round delta**: RSS after round 1 minus the baseline (the talk's
//!   window, one pool);
//! - the **settled level**: the mean delta over the last half;
//! - the **growth per round**: the least-squares slope of the delta over the last
//!   half's rounds (Theil-Sen: the median of the pairwise slopes), in KiB per round,
//!   and the same slope for each smaps region and
//!   for the free bytes inside glibc's arenas (which region grows).
//!
//! Each figure of a cell is the median over its runs with a percentile bootstrap 95%
//! interval across runs. The **verdict**: a cell *settles* when the interval of its
//! growth per round reaches zero or the growth is below [`GROWTH_BOUND_KIB`] (8 KiB). Growth
//! at or above the bound with its interval above zero is *keeps growing* after
//! [`ROUNDS_TO_JUDGE`] rounds or more, and *still rising* after fewer: the PoC's
//! arenas at the talk's cell fill over about ten rounds (+26 KiB per round over
//! rounds 3-5 of the GIL build, +2 over rounds 11-20), so a short run cannot tell a
//! one-time rise from a leak, and says so rather than call it one. With one run there
//! is no interval, and no verdict.

use serde::{Deserialize, Serialize};

use super::{seed_of, CellSummary, CI_LEVEL, CI_RESAMPLES};
use crate::model::{Build, Judge};
use crate::results::{Metrics, RoundFigures};
use crate::stats::{self, Ci};

/// A cell keeps growing only at this many KiB per round or more (two 4 KiB pages per
/// round, 8 MiB per 1,000 rounds), with the interval above zero. The talk's cell
/// creeps below it after its arenas fill (free-threaded build, rounds 21-40: +0.5 to
/// +6.4 KiB per round run by run, a round's snapshot itself varying by a page or
/// two); 32 free-threaded Python threads whose objects outlive them grow +20 to +48.
pub const GROWTH_BOUND_KIB: f64 = 8.0;

/// Fewer rounds than this give no growth: the last half needs two rounds.
pub const MIN_ROUNDS_FOR_GROWTH: usize = 3;

/// Growth is called "keeps growing" only over this many rounds or more; fewer give
/// "still rising".
pub const ROUNDS_TO_JUDGE: u32 = 20;

/// Settles or keeps growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Growth {
    Settles,
    KeepsGrowing,
    /// Growing at the last round, over fewer than [`ROUNDS_TO_JUDGE`] rounds.
    StillRising,
    /// One run: no interval to judge the growth by.
    Undetermined,
}

impl Growth {
    pub fn as_str(self) -> &'static str {
        match self {
            Growth::Settles => "settles",
            Growth::KeepsGrowing => "keeps growing",
            Growth::StillRising => "still rising",
            Growth::Undetermined => "undetermined (one run)",
        }
    }

    /// The verdict of a growth per round and its interval, over `rounds` rounds.
    pub fn of(growth_kib: f64, ci: Option<&Ci>, rounds: u32) -> Growth {
        match ci {
            None => Growth::Undetermined,
            Some(ci) if ci.lo > 0.0 && growth_kib >= GROWTH_BOUND_KIB => {
                if rounds >= ROUNDS_TO_JUDGE {
                    Growth::KeepsGrowing
                } else {
                    Growth::StillRising
                }
            }
            Some(_) => Growth::Settles,
        }
    }
}

/// The median growth per round of each smaps region, and of the free bytes inside
/// glibc's arenas (read from outside), over the last half of the rounds (KiB/round).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionGrowth {
    pub arena_heaps: f64,
    pub main_heap: f64,
    pub stacks: f64,
    pub python_alloc: f64,
    pub anon_other: f64,
    pub file: f64,
    /// Free inside the arenas (part of the arena heaps and `[heap]`, not a region).
    pub arena_free: Option<f64>,
}

impl RegionGrowth {
    /// The region that grows the most per round, as the report names it, with its
    /// growth; None when no region grows.
    pub fn largest(&self) -> Option<(&'static str, f64)> {
        let heaps = self.arena_heaps + self.main_heap;
        let arena_part = match self.arena_free {
            // Most of the heaps' growth is free memory glibc keeps.
            Some(free) if free >= 0.5 * heaps => "free memory retained inside glibc's arenas",
            _ => "glibc's arena heaps (more arenas or live data in them)",
        };
        [
            (arena_part, heaps),
            ("thread stacks", self.stacks),
            (
                "mimalloc (the free-threaded interpreter's objects)",
                self.python_alloc,
            ),
            (
                "other anonymous memory (pymalloc, mmapped blocks)",
                self.anon_other,
            ),
            ("file-backed pages", self.file),
        ]
        .into_iter()
        .filter(|(_, g)| *g > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl CellSummary {
    /// Each build's growth verdict by the figures `judged` names: net of the control
    /// arm's growth (native), or gross. [GIL, nogil]; None without rounds.
    pub fn judged_growth(&self) -> [Option<Growth>; 2] {
        [Build::Gil, Build::Nogil].map(|b| {
            let gross = self
                .stats(b)
                .and_then(|s| s.rounds.as_ref())
                .map(|r| r.verdict);
            match self.judged {
                Judge::Native => self
                    .net(b)
                    .and_then(|n| n.rounds.as_ref())
                    .map(|r| r.verdict)
                    .or(gross),
                Judge::Gross => gross,
            }
        })
    }

    /// Whether a build keeps growing by the judged figures: flagged on the heatmap
    /// and in summary.json whatever the point's ratio.
    pub fn keeps_growing(&self) -> bool {
        self.judged_growth().contains(&Some(Growth::KeepsGrowing))
    }
}

/// The rounds of a cell's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rounds {
    /// Rounds per run.
    pub rounds: u32,
    /// The last half starts at this round (1-based).
    pub from_round: u32,
    /// Delta after round 1, KiB: median over runs, and its interval.
    pub first_kib: f64,
    pub first_ci: Option<Ci>,
    /// Mean delta over the last half, KiB: median over runs, and its interval.
    pub level_kib: f64,
    pub level_ci: Option<Ci>,
    /// Theil-Sen slope of the delta over the last half, KiB per round: median, interval.
    pub growth_kib: f64,
    pub growth_ci: Option<Ci>,
    pub verdict: Growth,
    pub growth_by_region: RegionGrowth,
    /// Each run's figures, in run order, for the net figures downstream.
    pub firsts_kib: Vec<f64>,
    pub levels_kib: Vec<f64>,
    pub growths_kib: Vec<f64>,
}

/// The Theil-Sen slope of `ys` against 0, 1, 2, ...: the median of the slopes
/// between every pair of rounds. A round whose snapshot caught a dying thread's stack
/// or a pool's objects not yet freed (+100 KiB for one round, then back) moves a
/// least-squares slope over ten rounds by several KiB per round; it moves this one
/// by at most one pair's worth.
pub fn slope(ys: &[f64]) -> Option<f64> {
    if ys.len() < 2 {
        return None;
    }
    let mut slopes = Vec::with_capacity(ys.len() * (ys.len() - 1) / 2);
    for i in 0..ys.len() {
        for j in i + 1..ys.len() {
            slopes.push((ys[j] - ys[i]) / (j - i) as f64);
        }
    }
    stats::median(&slopes)
}

/// The first round of the last half of `n` rounds (0-based).
pub fn last_half_start(n: usize) -> usize {
    n / 2
}

fn interval(xs: &[f64], seed: u64) -> Option<Ci> {
    if xs.len() < 2 {
        return None;
    }
    stats::bootstrap_median_ci(xs, CI_LEVEL, CI_RESAMPLES, seed)
}

fn med(xs: &[f64]) -> f64 {
    stats::median(xs).unwrap_or(0.0)
}

/// The rounds of a cell from its successful runs' metrics; None unless every run has
/// the same number of rounds, at least [`MIN_ROUNDS_FOR_GROWTH`].
pub fn rounds(ok: &[&Metrics], label: &str) -> Option<Rounds> {
    let n = ok.first()?.rounds.len();
    if n < MIN_ROUNDS_FOR_GROWTH || ok.iter().any(|m| m.rounds.len() != n) {
        return None;
    }
    let from = last_half_start(n);
    let tail = |m: &Metrics, f: &dyn Fn(&RoundFigures) -> f64| -> Vec<f64> {
        m.rounds[from..].iter().map(f).collect()
    };
    let delta = |r: &RoundFigures| r.delta_kib as f64;
    let firsts: Vec<f64> = ok.iter().map(|m| m.rounds[0].delta_kib as f64).collect();
    let levels: Vec<f64> = ok
        .iter()
        .map(|m| stats::mean(&tail(m, &delta)).unwrap_or(0.0))
        .collect();
    let growth_of = |f: &dyn Fn(&RoundFigures) -> f64| -> Vec<f64> {
        ok.iter()
            .filter_map(|m| slope(&tail(m, f)))
            .collect::<Vec<f64>>()
    };
    let growths = growth_of(&delta);
    let free: Vec<f64> = ok
        .iter()
        .filter(|m| {
            m.rounds[from..]
                .iter()
                .all(|r| r.arena_free_delta_kib.is_some())
        })
        .filter_map(|m| slope(&tail(m, &|r| r.arena_free_delta_kib.unwrap_or(0) as f64)))
        .collect();
    let seed = seed_of(label) ^ 0x0707;
    let growth_kib = med(&growths);
    let growth_ci = interval(&growths, seed ^ 3);
    Some(Rounds {
        rounds: n as u32,
        from_round: from as u32 + 1,
        first_kib: med(&firsts),
        first_ci: interval(&firsts, seed ^ 1),
        level_kib: med(&levels),
        level_ci: interval(&levels, seed ^ 2),
        growth_kib,
        verdict: Growth::of(growth_kib, growth_ci.as_ref(), n as u32),
        growth_ci,
        growth_by_region: RegionGrowth {
            arena_heaps: med(&growth_of(&|r| r.regions_delta.arena_heap_kib as f64)),
            main_heap: med(&growth_of(&|r| r.regions_delta.main_heap_kib as f64)),
            stacks: med(&growth_of(&|r| r.regions_delta.stack_kib as f64)),
            python_alloc: med(&growth_of(&|r| r.regions_delta.python_alloc_kib as f64)),
            anon_other: med(&growth_of(&|r| r.regions_delta.anon_other_kib as f64)),
            file: med(&growth_of(&|r| r.regions_delta.file_kib as f64)),
            arena_free: stats::median(&free),
        },
        firsts_kib: firsts,
        levels_kib: levels,
        growths_kib: growths,
    })
}

/// A build's rounds net of its control arm's: level and growth, with intervals in
/// which both groups of runs are resampled independently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetRounds {
    /// median(gross levels) - median(control levels), KiB.
    pub level_kib: f64,
    pub level_ci: Option<Ci>,
    /// median(gross growths) - median(control growths), KiB per round.
    pub growth_kib: f64,
    pub growth_ci: Option<Ci>,
    pub verdict: Growth,
}

/// The net rounds of a build from its gross and control rounds.
pub fn net(gross: &Rounds, control: &Rounds, seed: u64) -> NetRounds {
    let ci = |a: &[f64], b: &[f64], seed: u64| {
        if a.len() < 2 && b.len() < 2 {
            return None;
        }
        stats::bootstrap_medians_ci(&[vec![a, b]], |m| m[0] - m[1], CI_LEVEL, CI_RESAMPLES, seed)
    };
    let growth_kib = gross.growth_kib - control.growth_kib;
    let growth_ci = ci(&gross.growths_kib, &control.growths_kib, seed ^ 0x9);
    NetRounds {
        level_kib: gross.level_kib - control.level_kib,
        level_ci: ci(&gross.levels_kib, &control.levels_kib, seed ^ 0x8),
        growth_kib,
        verdict: Growth::of(growth_kib, growth_ci.as_ref(), gross.rounds),
        growth_ci,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(deltas: &[i64]) -> Metrics {
        Metrics::with_rounds(deltas)
    }

    #[test]
    fn the_slope_is_theil_sen_over_the_last_half() {
        assert_eq!(slope(&[1.0, 3.0, 5.0]), Some(2.0));
        // One round's spike does not make a flat run grow.
        assert_eq!(
            slope(&[640.0, 640.0, 644.0, 744.0, 644.0, 648.0]),
            Some(1.6)
        );
        assert_eq!(slope(&[7.0]), None);
        // Rounds 3-5 of 5 (0-based 2..5): 100, 110, 120 -> 10 per round; the level is
        // their mean; the first round is round 1's delta.
        let runs = [run(&[50, 90, 100, 110, 120]), run(&[60, 95, 104, 114, 124])];
        let r = rounds(&runs.iter().collect::<Vec<_>>(), "x").unwrap();
        assert_eq!((r.rounds, r.from_round), (5, 3));
        assert_eq!(r.growths_kib, vec![10.0, 10.0]);
        assert_eq!(r.levels_kib, vec![110.0, 114.0]);
        assert_eq!(r.first_kib, 55.0);
        assert_eq!(r.firsts_kib, vec![50.0, 60.0]);
        // Five rounds are too few to call it a leak.
        assert_eq!(r.verdict, Growth::StillRising);
    }

    #[test]
    fn growth_below_two_pages_per_round_or_an_interval_across_zero_settles() {
        let ci = |lo, hi| Ci {
            lo,
            hi,
            level: 0.95,
        };
        assert_eq!(Growth::of(7.9, Some(&ci(1.0, 9.0)), 100), Growth::Settles);
        assert_eq!(
            Growth::of(20.0, Some(&ci(-1.0, 40.0)), 100),
            Growth::Settles
        );
        assert_eq!(
            Growth::of(20.0, Some(&ci(5.0, 40.0)), 20),
            Growth::KeepsGrowing
        );
        assert_eq!(
            Growth::of(20.0, Some(&ci(5.0, 40.0)), 19),
            Growth::StillRising
        );
        assert_eq!(Growth::of(20.0, None, 100), Growth::Undetermined);
        // A flat cell settles; a run of one round, or of two, has no growth.
        let flat = [run(&[100, 104, 100, 104, 100]), run(&[90, 94, 94, 90, 94])];
        let r = rounds(&flat.iter().collect::<Vec<_>>(), "x").unwrap();
        assert_eq!(r.verdict, Growth::Settles);
        assert!(rounds(&[&run(&[10, 20])], "x").is_none());
        assert!(rounds(&[&Metrics::default()], "x").is_none());
    }

    #[test]
    fn net_growth_is_gross_growth_minus_the_controls() {
        let gross = [run(&[0, 0, 100, 130, 160]), run(&[0, 0, 100, 128, 156])];
        let control = [run(&[0, 0, 50, 60, 70]), run(&[0, 0, 50, 62, 74])];
        let g = rounds(&gross.iter().collect::<Vec<_>>(), "g").unwrap();
        let c = rounds(&control.iter().collect::<Vec<_>>(), "c").unwrap();
        let n = net(&g, &c, 1);
        assert_eq!(n.growth_kib, 29.0 - 11.0);
        assert_eq!(n.verdict, Growth::StillRising);
        let ci = n.growth_ci.unwrap();
        assert!(ci.lo <= 18.0 && 18.0 <= ci.hi, "{ci:?}");
    }
}
