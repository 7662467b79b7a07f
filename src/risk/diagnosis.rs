//! Where a build's delta went, named as a mechanism, and the lever that acts on it.
//!
//! The delta (final - baseline RSS) of a build at a point is split, from the median
//! region split (smaps, final minus baseline) and the trim figures, into:
//! - **free memory retained inside glibc** (arenas and `[heap]`): what `malloc_trim(0)`
//!   gave back (final - after-trim RSS), or the growth of the free bytes inside the
//!   arenas read from outside (thread arenas' tops, which a trim does not shrink),
//!   whichever is larger. Levers: `malloc_trim(0)` for what the trim returned,
//!   a lower `glibc.malloc.trim_threshold` for the tops it left, ordered by which
//!   returns more.
//! - **more arenas**: memory in arena heaps that trimming did not return, when the
//!   run added arena heaps and kept no data of its own there (each new arena holds its
//!   header, bins and top pages); when the new heaps hold under 64 KiB each, all of it,
//!   free or not, since only fewer arenas would save it. Lever: `glibc.malloc.arena_max`.
//! - **live data kept by the workload**: what glibc still holds after the trim when
//!   the workload kept blocks alive (or added no arena), including the holes those
//!   blocks pin. Lever: none of malloc's settings returns live data.
//! - **CPython's mimalloc**: growth in mimalloc's regions (free-threaded builds serve
//!   Python objects from them). Lever: none of glibc's tunables; arena_max and the
//!   trim and mmap thresholds do not change it.
//! - **thread stacks**: growth in thread stacks, including those glibc caches for
//!   reuse (`glibc.pthread.stack_cache_size`, 40 MiB by default). Lever: fewer
//!   threads alive at once.
//! - **other**: file-backed pages and other anonymous memory.
//! - **the interpreter's own per-thread cost**: what the control arm (the same Python
//!   threads calling nothing native) left behind; in the free-threaded build that is
//!   mimalloc pages and thread states per Python thread. Lever: fewer Python threads,
//!   a pool that lives longer, a newer CPython; no glibc tunable acts on it. With a
//!   control arm ([`diagnose_net`]) it is a part of its own, and the mechanisms above
//!   split the net delta (every region's and trim figure's median net of the control's).
//!
//! The mechanism with the largest share names the diagnosis; the second is named too
//! when it holds at least a third. Pure functions of [`BuildStats`]. The levers and
//! their words come from the one table in [`crate::levers`], which `inspect` uses too.

use serde::{Deserialize, Serialize};

use crate::aggregate::BuildStats;
use crate::levers::{Figures, Mechanism};

/// Below this delta there is nothing to diagnose (KiB).
pub const SMALL_DELTA_KIB: f64 = 512.0;
/// Resident memory per new arena heap below which the new arenas hold little more
/// than their own structures and a few touched pages (KiB).
const ARENA_OVERHEAD_KIB: f64 = 64.0;
/// A second mechanism is named when it holds at least this share of the delta.
const SECOND_SHARE: f64 = 1.0 / 3.0;

/// One mechanism's share of a delta.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub mechanism: Mechanism,
    pub kib: f64,
}

/// What a build's delta is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub delta_kib: f64,
    /// Every mechanism with a positive share, largest first.
    pub parts: Vec<Part>,
    /// Arena heaps the run added (median).
    pub heaps_added: f64,
    /// What malloc_trim(0) returned (final - after-trim RSS, median), KiB.
    pub trim_returned_kib: f64,
    /// Free memory in thread arenas' tops that the trim left and a 128 KiB trim
    /// threshold would return (read from outside at the final snapshot), KiB; None
    /// when the arenas were not read.
    pub untrimmed_free_kib: Option<f64>,
}

impl Diagnosis {
    /// A part's share of the growth: of the sum of every part (regions that shrank
    /// make the parts add up to more than the delta).
    pub fn share(&self, p: &Part) -> f64 {
        let total: f64 = self.parts.iter().map(|p| p.kib).sum();
        if total > 0.0 {
            p.kib / total
        } else {
            0.0
        }
    }

    /// The largest mechanism, unless the delta is too small to act on.
    pub fn main(&self) -> Option<&Part> {
        (self.delta_kib >= SMALL_DELTA_KIB)
            .then(|| self.parts.first())
            .flatten()
    }

    /// The mechanisms in short, without the lever: "more arenas 0.44 MiB (38%), then
    /// CPython's mimalloc 0.51 MiB (43%)"; "little growth" for a small delta.
    pub fn short(&self) -> String {
        let Some(first) = self.main() else {
            return "little growth".to_string();
        };
        let part = |p: &Part| {
            format!(
                "{} ({:.0}%)",
                p.mechanism.short_name(),
                self.share(p) * 100.0
            )
        };
        match self.parts.get(1).filter(|p| self.share(p) >= SECOND_SHARE) {
            Some(second) => format!("{}, then {}", part(first), part(second)),
            None => part(first),
        }
    }

    /// One line: the mechanism(s), then the lever.
    pub fn line(&self) -> String {
        use crate::units::{count, mib};
        let Some(first) = self.main() else {
            return format!("little growth ({}): nothing to act on", mib(self.delta_kib));
        };
        let share = |p: &Part| (self.share(p) * 100.0).round();
        let describe = |p: &Part| {
            let extra = match p.mechanism {
                Mechanism::MoreArenas => format!(", {} new heap(s)", count(self.heaps_added)),
                Mechanism::FreeRetained => format!(
                    ", of which malloc_trim(0) returned {}",
                    mib(self.trim_returned_kib.min(p.kib))
                ),
                _ => String::new(),
            };
            format!(
                "{} {} ({:.0}%{extra})",
                p.mechanism.name(),
                mib(p.kib),
                share(p)
            )
        };
        let mut s = format!("{}: mostly {}", mib(self.delta_kib), describe(first));
        if let Some(second) = self.parts.get(1).filter(|p| self.share(p) >= SECOND_SHARE) {
            s.push_str(&format!("; then {}", describe(second)));
        }
        s.push_str(&format!(". Lever: {}", self.lever(first)));
        s
    }

    /// The lever line of a part, with what each lever returns where the figures say.
    pub fn lever(&self, p: &Part) -> String {
        crate::levers::line_of(p.mechanism, &self.actions(p))
    }

    /// The levers that act on a part, most returned first: for free memory, what the
    /// trim returned and what it left (thread arenas' tops, read from outside).
    pub fn actions(&self, p: &Part) -> Vec<crate::levers::Action> {
        let figures = match p.mechanism {
            Mechanism::FreeRetained => {
                let trim = self.trim_returned_kib.min(p.kib);
                Figures {
                    held_kib: p.kib,
                    trim_kib: Some(trim),
                    tops_kib: self.untrimmed_free_kib.map(|u| u.min(p.kib - trim)),
                    ..Figures::default()
                }
            }
            _ => Figures {
                held_kib: p.kib,
                ..Figures::default()
            },
        };
        crate::levers::actions(p.mechanism, &figures)
    }
}

/// Split a build's median delta into mechanisms.
pub fn diagnose(b: &BuildStats) -> Diagnosis {
    let r = &b.regions_delta_kib;
    let pos = |x: f64| x.max(0.0);
    let delta = b.delta_kib.median;
    let glibc = pos(r.arena_heaps) + pos(r.main_heap);
    // Free memory glibc holds: what a trim returned, or, read from outside, how much
    // the free bytes inside the arenas grew (tops of thread arenas included, which
    // malloc_trim(0) leaves alone), at most the glibc regions' growth.
    let heaps_added = r.arena_heaps_added;
    let trimmed = pos(b.reclaimable_kib.median);
    // New arenas that hold only a few pages each (their header, bins and the touched
    // part of their top): the cost of having more arenas, whether those pages are free
    // or not; only fewer arenas would save it. Otherwise free memory glibc holds is
    // what a trim returned or, read from outside, how much the free bytes inside the
    // arenas grew (tops of thread arenas included, which malloc_trim(0) leaves
    // alone), at most the glibc regions' growth.
    let overhead_only = heaps_added > 0.0 && pos(r.arena_heaps) / heaps_added < ARENA_OVERHEAD_KIB;
    let free = if overhead_only {
        trimmed.min(glibc)
    } else {
        trimmed.max(pos(b.arena_free_delta_kib.unwrap_or(0.0)).min(glibc))
    };
    let kept = pos(glibc - free);
    let live_kept = pos(b.store_kib.unwrap_or(0.0)).min(kept);
    let (arenas, live) = if heaps_added > 0.0 {
        (kept - live_kept, live_kept)
    } else {
        (0.0, kept)
    };
    let named = [
        (Mechanism::FreeRetained, free),
        (Mechanism::MoreArenas, arenas),
        (Mechanism::LiveData, live),
        (Mechanism::Mimalloc, pos(r.python_alloc)),
        (Mechanism::ThreadStacks, pos(r.stacks)),
    ];
    // What no region explains (regions that shrank, or no region split at all) is
    // counted as other memory, so the parts add up to the delta.
    let explained: f64 =
        named.iter().map(|(_, k)| k).sum::<f64>() + pos(r.file) + pos(r.anon_other);
    let other = pos(r.file) + pos(r.anon_other) + pos(delta - explained);
    let mut parts: Vec<Part> = named
        .into_iter()
        .chain([(Mechanism::Other, other)])
        .filter(|(_, kib)| *kib > 0.0)
        .map(|(mechanism, kib)| Part { mechanism, kib })
        .collect();
    parts.sort_by(|a, b| b.kib.total_cmp(&a.kib));
    Diagnosis {
        delta_kib: delta,
        parts,
        heaps_added,
        trim_returned_kib: pos(b.reclaimable_kib.median),
        untrimmed_free_kib: b.top_trim_kib.map(pos),
    }
}

/// Split a build's median delta into the interpreter's own per-thread cost (its
/// control arm's median delta) and the mechanisms of the net delta: the same split as
/// [`diagnose`], on every figure net of the control's median.
pub fn diagnose_net(gross: &BuildStats, control: &BuildStats) -> Diagnosis {
    let mut net = gross.clone();
    let (g, c) = (&gross.regions_delta_kib, &control.regions_delta_kib);
    net.delta_kib.median = gross.delta_kib.median - control.delta_kib.median;
    net.reclaimable_kib.median = gross.reclaimable_kib.median - control.reclaimable_kib.median;
    net.regions_delta_kib = crate::aggregate::RegionMedians {
        arena_heaps: g.arena_heaps - c.arena_heaps,
        arena_heaps_added: (g.arena_heaps_added - c.arena_heaps_added).max(0.0),
        main_heap: g.main_heap - c.main_heap,
        stacks: g.stacks - c.stacks,
        python_alloc: g.python_alloc - c.python_alloc,
        file: g.file - c.file,
        anon_other: g.anon_other - c.anon_other,
    };
    net.top_trim_kib = gross
        .top_trim_kib
        .map(|t| t - control.top_trim_kib.unwrap_or(0.0));
    net.arena_free_delta_kib = gross
        .arena_free_delta_kib
        .map(|f| f - control.arena_free_delta_kib.unwrap_or(0.0));
    let mut d = diagnose(&net);
    let own = control.delta_kib.median.max(0.0);
    if own > 0.0 {
        d.parts.push(Part {
            mechanism: Mechanism::InterpreterCost,
            kib: own,
        });
        d.parts.sort_by(|a, b| b.kib.total_cmp(&a.kib));
    }
    d.delta_kib = gross.delta_kib.median;
    d.trim_returned_kib = gross.reclaimable_kib.median.max(0.0);
    d
}

/// The diagnosis of a build at a point: net of its control arm when the point has
/// one and judges native figures, else of the gross delta.
pub fn diagnose_point(
    c: &crate::aggregate::CellSummary,
    build: crate::model::Build,
) -> Option<Diagnosis> {
    let gross = c.stats(build)?;
    Some(
        match c
            .control(build)
            .filter(|_| c.judged == crate::model::Judge::Native)
        {
            Some(control) => diagnose_net(gross, control),
            None => diagnose(gross),
        },
    )
}

#[cfg(test)]
mod tests;
