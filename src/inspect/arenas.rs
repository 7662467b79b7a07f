//! The assessment when the arenas were read from the process's memory: what is free
//! inside them, what a `malloc_trim(0)` would return, what a lower trim threshold
//! would return (thread arenas' tops), and how much live memory the thread arenas
//! hold decide the levers, ordered by what each returns (`crate::levers`):
//! - **free memory** (>= 4 MiB that a trim or a lower trim threshold returns):
//!   `malloc_trim(0)` for free pages below live blocks, a lower `trim_threshold` for
//!   the tops, whichever returns more first; `mmap_threshold` returns none of it (it
//!   acts only on large blocks when they are allocated). A tunable is suggested only
//!   when it returns a quarter or more of the free memory; when none does, the advice
//!   says so. `arena_max` would not give that memory back;
//! - **live memory spread over thread arenas** (two or more, holding >= 1 MiB in use)
//!   points to `arena_max`: a cap packs it into fewer arenas, each with its own free
//!   space;
//! - memory in **mimalloc regions** (CPython's free-threaded object allocator) points
//!   to neither, and is said so.

use crate::arena::ArenaSnapshot;
use crate::levers::{self, Action, Figures, Lever, Mechanism};
use crate::tunables::Catalog;

use super::assessment::{
    arena_cap, closing_advice, heap_level, suggest, version_notes, Assessment, Facts, Level,
    ARENA_MAX, MIDDLE_GROUND, MMAP, NOTICE_HEAP_KIB, RETAINED_MIN_KIB, TRIM,
};
use crate::units::{mib, mib_of_bytes};

const TRIM_LEAD_SHARE: f64 = 0.25;

/// What the arena figures add up to.
struct Shape {
    /// Thread arenas.
    n: u64,
    live_threads: u64,
    free_threads: u64,
    trim_kib: u64,
    trim_leads: bool,
    growth: bool,
    level: Level,
}

fn shape(f: &Facts, snap: &ArenaSnapshot) -> Shape {
    let r = &f.regions;
    let thread_arenas: Vec<_> = snap.thread_arenas().collect();
    let live_threads: u64 = thread_arenas.iter().map(|a| a.in_use_bytes).sum();
    let n = thread_arenas.len() as u64;
    let held_kib = r.arena_heap_rss_kib + r.main_heap_rss_kib;
    let trim_kib = snap.totals.trimmable_bytes / 1024;
    let (mut level, _) = heap_level(r);
    if trim_kib >= RETAINED_MIN_KIB {
        level = level.max(Level::Notice);
    }
    Shape {
        n,
        live_threads,
        free_threads: thread_arenas.iter().map(|a| a.free_bytes).sum(),
        trim_kib,
        trim_leads: trim_kib >= RETAINED_MIN_KIB
            && trim_kib as f64 >= TRIM_LEAD_SHARE * held_kib.max(1) as f64,
        growth: n >= 2 && live_threads / 1024 >= NOTICE_HEAP_KIB,
        level,
    }
}

fn findings(f: &Facts, snap: &ArenaSnapshot, sh: &Shape) -> Vec<String> {
    let t = &snap.totals;
    let n = sh.n;
    let (cap, cap_text) = arena_cap(f);
    let mut out = vec![format!(
        "{} arena(s): the main one and {n} thread arena(s) in {} heap(s); the cap is {cap}: {cap_text}{}",
        t.arenas,
        t.heaps,
        if n + 1 >= cap { " (reached: new threads now share arenas)" } else { "" }
    )];
    out.push(format!(
        "glibc holds {} in its arenas: {} in use, {} free (fast bins {}, bins {}, tops {})",
        mib_of_bytes(t.system_mem_bytes),
        mib_of_bytes(t.in_use_bytes),
        mib_of_bytes(t.fast_free_bytes + t.bin_free_bytes + t.top_bytes),
        mib_of_bytes(t.fast_free_bytes),
        mib_of_bytes(t.bin_free_bytes),
        mib_of_bytes(t.top_bytes)
    ));
    if n > 0 {
        out.push(format!(
            "the thread arenas hold {} in use and {} free",
            mib_of_bytes(sh.live_threads),
            mib_of_bytes(sh.free_threads)
        ));
    }
    out.push(format!(
        "malloc_trim(0) would return {} of RSS now (whole resident pages inside free chunks{})",
        mib_of_bytes(t.trimmable_bytes),
        if t.top_bytes > 0 {
            ", and the main arena's top"
        } else {
            ""
        }
    ));
    if f.regions.python_alloc_rss_kib > 0 {
        out.push(format!(
            "{} sits in mimalloc regions (CPython's free-threaded object allocator): neither arena_max nor trimming changes it",
            mib(f.regions.python_alloc_rss_kib)
        ));
    }
    out
}

fn headline(f: &Facts, snap: &ArenaSnapshot, sh: &Shape) -> String {
    let (t, n) = (&snap.totals, sh.n);
    if sh.trim_leads {
        format!(
            "free memory inside arenas: {} of the {} glibc holds is free, and malloc_trim(0) would return {} of RSS",
            mib_of_bytes(t.arena_free_bytes),
            mib_of_bytes(t.system_mem_bytes),
            mib_of_bytes(t.trimmable_bytes)
        )
    } else if sh.growth && sh.level >= Level::Notice {
        format!(
            "arena growth: {n} thread arenas hold {} in use ({} heap(s), {} resident)",
            mib_of_bytes(sh.live_threads),
            t.heaps,
            mib(f.regions.arena_heap_rss_kib)
        )
    } else if n == 0 {
        format!(
            "only the main arena ([heap], {}) is in use: no arena growth",
            mib(f.regions.main_heap_rss_kib)
        )
    } else {
        format!(
            "{n} thread arena(s) hold {} in use and {} free: nothing to tune for now",
            mib_of_bytes(sh.live_threads),
            mib_of_bytes(sh.free_threads)
        )
    }
}

pub fn assess(
    f: &Facts,
    catalog: &Catalog,
    snap: &ArenaSnapshot,
    mut notes: Vec<String>,
) -> Assessment {
    let sh = shape(f, snap);
    let (cap, _) = arena_cap(f);
    if !snap.consistent {
        notes.push("some figures moved while they were read and are marked inconsistent; `--freeze` reads them exactly".into());
    }
    let mut suggestions = Vec::new();
    let mut advice = Vec::new();
    let mut levers = Vec::new();
    if sh.level >= Level::Notice {
        levers = actions(snap, &sh, cap);
        let mut add = |name: &str, entries: &[(&str, u64)], why: String| {
            suggest(catalog, name, entries, why, &mut suggestions, &mut notes)
        };
        // Tunables in the levers' order, each only where it returns a real share of
        // the memory it acts on (or acts on the arena count).
        for a in levers.iter().filter(|a| a.suggested()) {
            match a.lever {
                Lever::TrimThreshold => add(
                    "trim-threshold-128k",
                    &[(TRIM, 128 * 1024)],
                    format!("free heap tops go back as soon as they pass 128 KiB ({}); memory free below live blocks goes back only with malloc_trim(0)", a.returns()),
                ),
                Lever::MmapThreshold => add(
                    "mmap-threshold-128k",
                    &[(MMAP, 128 * 1024)],
                    format!("blocks of 128 KiB or more get their own mapping and leave no free space in the heaps; {}", a.detail),
                ),
                Lever::ArenaMax => {
                    add(
                        "arena-max-2",
                        &[(ARENA_MAX, 2)],
                        format!("caps arenas at 2 instead of {cap}: live memory spread over {} thread arenas packs into fewer, each with its own free space", sh.n),
                    );
                    if cap > 4 {
                        add("arena-max-4", &[(ARENA_MAX, 4)], MIDDLE_GROUND.into());
                    }
                }
                _ => {}
            }
        }
        let frees = [Lever::TrimThreshold, Lever::MmapThreshold];
        if sh.trim_leads
            && !levers
                .iter()
                .any(|a| a.suggested() && frees.contains(&a.lever))
        {
            advice.push(format!(
                "no tunable returns the memory free below live blocks: a lower trim_threshold returns only heap tops, mmap_threshold acts only on blocks of 128 KiB or more when they are allocated; only malloc_trim(0) returns it ({})",
                mib_of_bytes(snap.totals.trimmable_bytes)
            ));
        }
        closing_advice(&suggestions, &mut advice);
    }
    version_notes(f, &suggestions, &mut notes);
    Assessment {
        level: sh.level,
        headline: headline(f, snap, &sh),
        findings: findings(f, snap, &sh),
        levers,
        suggestions,
        advice,
        notes,
    }
}

/// The levers for the memory read, most returned first: the free memory's (when a
/// trim or a lower trim threshold would return some of it) and the arena count's
/// (when live memory is spread over thread arenas).
fn actions(snap: &ArenaSnapshot, sh: &Shape, cap: u64) -> Vec<Action> {
    let t = &snap.totals;
    let tops = t.top_trim_bytes;
    let mut out = Vec::new();
    if sh.trim_kib >= RETAINED_MIN_KIB || tops / 1024 >= RETAINED_MIN_KIB {
        let f = Figures {
            held_kib: t.arena_free_bytes as f64 / 1024.0,
            trim_kib: Some(t.trimmable_bytes as f64 / 1024.0),
            tops_kib: Some(tops as f64 / 1024.0),
            free_chunk_kib: Some(t.free_chunk_median_bytes as f64 / 1024.0),
            merge_free_kib: None,
        };
        out.extend(levers::actions(Mechanism::FreeRetained, &f));
    }
    if sh.growth && cap > 2 {
        // What the thread arenas hold, and the free bytes of all but the one with the
        // least: a cap of 2 keeps one thread arena, so at most that much goes.
        let kept = snap
            .thread_arenas()
            .map(|a| a.free_bytes)
            .min()
            .unwrap_or(0);
        let f = Figures {
            held_kib: (sh.live_threads + sh.free_threads) as f64 / 1024.0,
            merge_free_kib: Some((sh.free_threads - kept) as f64 / 1024.0),
            ..Figures::default()
        };
        out.extend(levers::actions(Mechanism::MoreArenas, &f));
    }
    levers::order(&mut out);
    out
}

#[cfg(test)]
mod tests;
