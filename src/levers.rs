//! One table from where memory is (a [`Mechanism`]) to what acts on it (its
//! [`Lever`]s), with the words for both, used by a sweep's diagnosis
//! (`risk::diagnosis`) and by `inspect` on a live process, so the two name the same
//! lever for the same mechanism.
//!
//! Levers are ordered by what each would return, from the figures read
//! ([`Figures`]), largest first:
//! - `malloc_trim(0)` returns the whole free pages in the bins of every arena and the
//!   main arena's top (glibc's `mtrim`), now;
//! - a lower `glibc.malloc.trim_threshold` returns only heap tops: a thread arena's
//!   top once it passes the threshold (`heap_trim`), which `malloc_trim(0)` leaves;
//!   memory free below live blocks stays;
//! - `glibc.malloc.mmap_threshold` acts only on blocks at or above it, when they are
//!   allocated: it returns nothing of what is free now, and which block sizes left
//!   the free memory cannot be read from the free lists;
//! - `glibc.malloc.arena_max` acts only on the arena count.
//!
//! A lever whose return is not known (no arena read, or one on the arena count) comes
//! after those that return something and before those that return nothing; ties keep
//! the table's order.

use serde::{Deserialize, Serialize};

use crate::units;

/// Where a delta, or a process's memory, sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    FreeRetained,
    MoreArenas,
    LiveData,
    Mimalloc,
    ThreadStacks,
    Other,
    InterpreterCost,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::FreeRetained => "free memory retained inside glibc's arenas",
            Mechanism::MoreArenas => "more arenas",
            Mechanism::LiveData => "live data kept by the workload (still in glibc after a trim)",
            Mechanism::Mimalloc => "CPython's mimalloc (Python objects)",
            Mechanism::ThreadStacks => "thread stacks (and glibc's stack cache)",
            Mechanism::Other => "other memory (file-backed pages, other anonymous)",
            Mechanism::InterpreterCost => {
                "the interpreter's own per-thread cost (present with no native call)"
            }
        }
    }

    /// A few words, for tables.
    pub fn short_name(self) -> &'static str {
        match self {
            Mechanism::FreeRetained => "free memory in arenas",
            Mechanism::MoreArenas => "more arenas",
            Mechanism::LiveData => "live data",
            Mechanism::Mimalloc => "mimalloc",
            Mechanism::ThreadStacks => "thread stacks",
            Mechanism::Other => "other",
            Mechanism::InterpreterCost => "interpreter's per-thread cost",
        }
    }

    /// What acts on it, in the table's order, without figures.
    pub fn lever(self) -> String {
        joined(self, self.levers().iter().map(|l| l.what().to_string()))
    }

    /// The levers that act on it, in the table's order (before figures reorder them).
    pub fn levers(self) -> &'static [Lever] {
        match self {
            Mechanism::FreeRetained => &[
                Lever::MallocTrim,
                Lever::TrimThreshold,
                Lever::MmapThreshold,
            ],
            Mechanism::MoreArenas => &[Lever::ArenaMax],
            Mechanism::ThreadStacks => &[Lever::FewerThreads],
            Mechanism::InterpreterCost => &[Lever::FewerPythonThreads],
            Mechanism::LiveData | Mechanism::Mimalloc | Mechanism::Other => &[],
        }
    }

    /// What no malloc setting does for it, said plainly.
    pub fn no_lever(self) -> &'static str {
        match self {
            Mechanism::FreeRetained => "arena_max does not give this memory back",
            Mechanism::MoreArenas => "trimming does not remove an arena",
            Mechanism::LiveData => "none of malloc's settings: the workload keeps this data alive",
            Mechanism::Mimalloc => "none of glibc's tunables (arena_max, trim and mmap thresholds do not change mimalloc): fewer or smaller live Python objects",
            Mechanism::ThreadStacks => "glibc.pthread.stack_cache_size bounds the cache of freed stacks",
            Mechanism::Other => "none of malloc's settings",
            Mechanism::InterpreterCost => "no glibc tunable acts on it",
        }
    }
}

/// Something that acts on memory: a call, a tunable, or a change to the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Lever {
    MallocTrim,
    TrimThreshold,
    MmapThreshold,
    ArenaMax,
    FewerThreads,
    FewerPythonThreads,
}

impl Lever {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The glibc tunable it sets, for the levers that are one.
    pub fn tunable(self) -> Option<&'static str> {
        match self {
            Lever::TrimThreshold => Some("glibc.malloc.trim_threshold"),
            Lever::MmapThreshold => Some("glibc.malloc.mmap_threshold"),
            Lever::ArenaMax => Some("glibc.malloc.arena_max"),
            _ => None,
        }
    }

    /// A few words, for a one-line diagnosis.
    pub fn short(self) -> &'static str {
        match self {
            Lever::MallocTrim => "malloc_trim(0) after bursts (free pages in the bins)",
            Lever::TrimThreshold => "a lower glibc.malloc.trim_threshold (heap tops only)",
            Lever::MmapThreshold => {
                "glibc.malloc.mmap_threshold (only blocks at or above it, when allocated)"
            }
            Lever::ArenaMax => "glibc.malloc.arena_max (profiles arena-max-2, arena-max-4)",
            Lever::FewerThreads => {
                "fewer threads alive at once (a pool instead of threads per call)"
            }
            Lever::FewerPythonThreads => {
                "fewer Python threads, a thread pool that lives longer, or a newer CPython"
            }
        }
    }

    /// What it is and what it acts on, without figures.
    pub fn what(self) -> &'static str {
        match self {
            Lever::MallocTrim => "malloc_trim(0) after bursts, from inside the process (Python: ctypes.CDLL(None).malloc_trim(0)): it returns the whole free pages in every arena's bins and the main arena's top",
            Lever::TrimThreshold => "a lower glibc.malloc.trim_threshold: it returns only heap tops (a thread arena's top once it passes the threshold, which malloc_trim(0) leaves), not memory free below live blocks; setting it also stops glibc raising the mmap threshold, so blocks of 128 KiB or more get their own mapping too",
            Lever::MmapThreshold => "glibc.malloc.mmap_threshold: blocks at or above it get their own mapping and leave no free space in the heaps; it acts only on such blocks, when they are allocated, and returns nothing already free",
            Lever::ArenaMax => "cap the arenas: glibc.malloc.arena_max (measure the profiles arena-max-2, arena-max-4)",
            Lever::FewerThreads => "fewer threads alive at once (a pool instead of threads per call)",
            Lever::FewerPythonThreads => "fewer Python threads, a thread pool that lives longer (threads not created per task), or a newer CPython",
        }
    }
}

/// What was read about the memory a mechanism holds, to say what each lever returns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// The memory the mechanism holds (KiB).
    pub held_kib: f64,
    /// Of it, what `malloc_trim(0)` returns (read from the arenas, or returned by a
    /// real trim), when known.
    pub trim_kib: Option<f64>,
    /// Of it, heap tops that a lower trim threshold returns and `malloc_trim(0)`
    /// leaves (thread arenas' tops), when known.
    pub tops_kib: Option<f64>,
    /// The free chunk size that half the free bytes are in chunks of at most (KiB),
    /// when the free lists were read: what size of blocks left the memory.
    pub free_chunk_kib: Option<f64>,
    /// An upper bound on what capping the arenas at 2 returns, when the arenas were
    /// read: the free bytes of every thread arena but the one with the least, which
    /// the cap would fold into the others. Live blocks stay live wherever they go.
    pub merge_free_kib: Option<f64>,
}

/// A lever with what it would return of the memory held.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub lever: Lever,
    /// KiB it would return now (None: not known, or it acts on something else than
    /// memory already held, e.g. the arena count).
    pub returns_kib: Option<f64>,
    /// Of this much (the memory the mechanism holds), KiB.
    pub of_kib: f64,
    /// What the figures add to the lever's words ("" when nothing).
    pub detail: String,
}

impl Action {
    /// "returns 16.10 of 16.30 MiB" ("at most" for the arena cap, whose figure is a
    /// bound), or "" when not known.
    pub fn returns(&self) -> String {
        let bound = if self.lever == Lever::ArenaMax {
            "at most "
        } else {
            ""
        };
        match self.returns_kib {
            Some(r) if r <= 0.0 => format!("returns none of the {}", units::mib(self.of_kib)),
            Some(r) => format!(
                "returns {bound}{} of {}",
                units::mib_value(r),
                units::mib(self.of_kib)
            ),
            None => String::new(),
        }
    }

    /// Whether to suggest it as a profile: it returns a quarter or more of the memory
    /// it acts on, by the figures read, or it acts on the arena count. A lever whose
    /// return the figures cannot tell is listed, not suggested.
    pub fn suggested(&self) -> bool {
        self.returns_kib.map_or(self.lever == Lever::ArenaMax, |r| {
            r > 0.0 && r >= 0.25 * self.of_kib
        })
    }

    /// The lever's words, then what it returns where known, then the detail.
    pub fn line(&self) -> String {
        let mut s = self.lever.what().to_string();
        let r = self.returns();
        if !r.is_empty() {
            s.push_str(&format!(" ({r})"));
        }
        if !self.detail.is_empty() {
            s.push_str(&format!(": {}", self.detail));
        }
        s
    }
}

/// The levers that act on `m`, ordered by what each returns of the memory in `f`
/// ([`order`]).
pub fn actions(m: Mechanism, f: &Figures) -> Vec<Action> {
    let mut out: Vec<Action> = m
        .levers()
        .iter()
        .map(|&lever| Action {
            lever,
            returns_kib: returns(lever, f),
            of_kib: f.held_kib,
            detail: detail(lever, f),
        })
        .collect();
    order(&mut out);
    out
}

/// Sort levers by what each returns, most first: those that return something, then
/// those whose return is not known (or that act on something else, e.g. the arena
/// count), then those that return nothing; ties keep their order.
pub fn order(actions: &mut [Action]) {
    let key = |a: &Action| match a.returns_kib {
        Some(r) if r > 0.0 => (2, r),
        None => (1, 0.0),
        Some(_) => (0, 0.0),
    };
    actions.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.cmp(&ka.0).then(kb.1.total_cmp(&ka.1))
    });
}

/// What `lever` returns now of the memory in `f`.
fn returns(lever: Lever, f: &Figures) -> Option<f64> {
    let cap = |x: f64| x.clamp(0.0, f.held_kib.max(0.0));
    match lever {
        Lever::MallocTrim => f.trim_kib.map(cap),
        Lever::ArenaMax => f.merge_free_kib.map(cap),
        Lever::TrimThreshold => f.tops_kib.map(cap),
        // Nothing already free; blocks as small as the free chunks show stay in the
        // heaps at the profile's 128 KiB, larger ones may not: measure.
        Lever::MmapThreshold => f
            .free_chunk_kib
            .filter(|&c| c < PROFILE_THRESHOLD_KIB)
            .map(|_| 0.0),
        _ => None,
    }
}

/// The threshold the shipped `trim-threshold-128k` and `mmap-threshold-128k` profiles
/// set (KiB).
const PROFILE_THRESHOLD_KIB: f64 = 128.0;

/// What the figures add to a lever: for an mmap threshold, the block size the free
/// chunks show and the threshold it would take to keep such blocks out of the heaps.
fn detail(lever: Lever, f: &Figures) -> String {
    match (lever, f.free_chunk_kib) {
        (Lever::MmapThreshold, Some(c)) if c < PROFILE_THRESHOLD_KIB => format!(
            "half the free memory is in chunks of {c:.0} KiB or less, below 128 KiB: only an mmap threshold of {c:.0} KiB or lower would keep blocks that size out of the heaps, at an mmap and munmap per block"
        ),
        (Lever::MmapThreshold, Some(c)) => format!(
            "half the free memory is in chunks of {c:.0} KiB or more, large blocks or small ones merged (the free lists do not tell which): measure the profile mmap-threshold-128k before relying on it"
        ),
        _ => String::new(),
    }
}

/// The lever line for `m`: its levers with what each returns, most first, in a few
/// words each, then what no setting does.
pub fn line(m: Mechanism, f: &Figures) -> String {
    line_of(m, &actions(m, f))
}

/// The lever line of `actions` (ordered) for `m`.
pub fn line_of(m: Mechanism, actions: &[Action]) -> String {
    joined(
        m,
        actions.iter().map(|a| {
            let r = a.returns();
            if r.is_empty() {
                a.lever.short().to_string()
            } else {
                format!("{} {r}", a.lever.short())
            }
        }),
    )
}

/// Levers' words joined with "; then ", then what no setting does for `m`.
fn joined(m: Mechanism, parts: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = parts.collect();
    if parts.is_empty() {
        return m.no_lever().to_string();
    }
    format!("{}; {}", parts.join("; then "), m.no_lever())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(f: &Figures) -> Vec<Lever> {
        actions(Mechanism::FreeRetained, f)
            .into_iter()
            .map(|a| a.lever)
            .collect()
    }

    #[test]
    fn free_memory_below_live_blocks_leads_with_malloc_trim() {
        // 16.3 MiB free, 16.1 MiB of it whole pages in the bins; 0.2 MiB of tops.
        let f = Figures {
            held_kib: 16.3 * 1024.0,
            trim_kib: Some(16.1 * 1024.0),
            tops_kib: Some(0.2 * 1024.0),
            free_chunk_kib: Some(64.0),
            ..Figures::default()
        };
        assert_eq!(
            order(&f),
            [
                Lever::MallocTrim,
                Lever::TrimThreshold,
                Lever::MmapThreshold
            ]
        );
        let a = actions(Mechanism::FreeRetained, &f);
        assert!(!a[1].suggested() && !a[2].suggested());
        assert_eq!(a[1].returns(), "returns 0.20 of 16.30 MiB");
        assert_eq!(a[2].returns(), "returns none of the 16.30 MiB");
        assert!(
            a[2].line()
                .contains("only an mmap threshold of 64 KiB or lower"),
            "{}",
            a[2].line()
        );
    }

    #[test]
    fn free_chunks_of_large_blocks_make_the_mmap_threshold_worth_measuring() {
        let f = Figures {
            held_kib: 20.0 * 1024.0,
            trim_kib: Some(19.2 * 1024.0),
            tops_kib: Some(0.75 * 1024.0),
            free_chunk_kib: Some(256.0),
            ..Figures::default()
        };
        let a = actions(Mechanism::FreeRetained, &f);
        let mmap = a.iter().find(|a| a.lever == Lever::MmapThreshold).unwrap();
        assert_eq!(mmap.returns_kib, None);
        assert!(
            mmap.line().ends_with("before relying on it"),
            "{}",
            mmap.line()
        );
        assert!(!mmap.suggested());
        assert_eq!(a[0].lever, Lever::MallocTrim);
    }

    #[test]
    fn free_thread_arena_tops_lead_with_the_trim_threshold() {
        let f = Figures {
            held_kib: 8192.0,
            trim_kib: Some(512.0),
            tops_kib: Some(7000.0),
            free_chunk_kib: None,
            ..Figures::default()
        };
        assert_eq!(
            order(&f),
            [
                Lever::TrimThreshold,
                Lever::MallocTrim,
                Lever::MmapThreshold
            ]
        );
        let l = line(Mechanism::FreeRetained, &f);
        assert!(
            l.starts_with(
                "a lower glibc.malloc.trim_threshold (heap tops only) returns 6.84 of 8.00 MiB; then malloc_trim(0)"
            ),
            "{l}"
        );
    }

    /// Live memory over thread arenas: the cap's figure is an upper bound ("at
    /// most"), and it is suggested only where that bound is a quarter or more.
    #[test]
    fn the_arena_cap_gives_a_bound_and_is_suggested_only_where_it_is_large() {
        let live = Figures {
            held_kib: 3.0 * 1024.0,
            merge_free_kib: Some(128.0),
            ..Figures::default()
        };
        let a = actions(Mechanism::MoreArenas, &live);
        assert_eq!(a[0].lever, Lever::ArenaMax);
        assert_eq!(a[0].returns(), "returns at most 0.12 of 3.00 MiB");
        assert!(!a[0].suggested(), "little of it is free");
        let spread = Figures {
            held_kib: 8.0 * 1024.0,
            merge_free_kib: Some(6.0 * 1024.0),
            ..Figures::default()
        };
        assert!(actions(Mechanism::MoreArenas, &spread)[0].suggested());
        // A sweep does not read per-arena free bytes: the cap is listed and suggested
        // for measuring, with no figure.
        let sweep = Figures {
            held_kib: 1024.0,
            ..Figures::default()
        };
        let a = actions(Mechanism::MoreArenas, &sweep);
        assert_eq!((a[0].returns(), a[0].suggested()), (String::new(), true));
    }

    #[test]
    fn unknown_returns_keep_the_tables_order_and_are_not_suggested() {
        let f = Figures {
            held_kib: 4096.0,
            ..Figures::default()
        };
        assert_eq!(
            order(&f),
            [
                Lever::MallocTrim,
                Lever::TrimThreshold,
                Lever::MmapThreshold
            ]
        );
        // Unknown returns: listed, none suggested as a profile.
        assert!(!actions(Mechanism::FreeRetained, &f)
            .iter()
            .any(Action::suggested));
        assert_eq!(
            line(Mechanism::Mimalloc, &f),
            Mechanism::Mimalloc.no_lever()
        );
    }
}
