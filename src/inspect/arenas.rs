//! The verdict when the arenas were read from the process's memory: what is free
//! inside them, what a `malloc_trim(0)` would return, and how much live memory the
//! thread arenas hold decide what to suggest, in this order:
//! - **free memory that a trim returns** (>= 4 MiB and >= 25% of the arenas' resident
//!   memory) leads: `malloc_trim(0)` now and after bursts, then `trim_threshold`
//!   (free heap tops go back sooner) and `mmap_threshold` (large blocks stay out of
//!   the heaps). `arena_max` would not give that memory back;
//! - **live memory spread over thread arenas** (two or more, holding >= 1 MiB in use)
//!   points to `arena_max`: a cap packs it into fewer arenas, each with its own free
//!   space;
//! - memory in **mimalloc regions** (CPython's free-threaded object allocator) points
//!   to neither, and is said so.

use crate::arena::ArenaSnapshot;
use crate::tunables::Catalog;

use super::verdict::{
    arena_cap, heap_level, measure_advice, mib, suggest, version_notes, Facts, Level, Verdict,
    NOTICE_HEAP_KIB, RETAINED_MIN_KIB,
};

/// Bytes as MiB with one decimal.
pub fn mib_b(bytes: u64) -> String {
    mib(bytes / 1024)
}

const TRIM_LEAD_SHARE: f64 = 0.25;

pub fn verdict(
    f: &Facts,
    catalog: &Catalog,
    snap: &ArenaSnapshot,
    mut notes: Vec<String>,
) -> Verdict {
    let r = &f.regions;
    let t = &snap.totals;
    let (cap, cap_text) = arena_cap(f);
    let thread_arenas: Vec<_> = snap.thread_arenas().collect();
    let n = thread_arenas.len() as u64;
    let live_threads: u64 = thread_arenas.iter().map(|a| a.in_use_bytes).sum();
    let free_threads: u64 = thread_arenas.iter().map(|a| a.free_bytes).sum();
    let held_kib = r.arena_heap_rss_kib + r.main_heap_rss_kib;
    let trim_kib = t.trimmable_bytes / 1024;
    let trim_leads =
        trim_kib >= RETAINED_MIN_KIB && trim_kib as f64 >= TRIM_LEAD_SHARE * held_kib.max(1) as f64;
    let growth = n >= 2 && live_threads / 1024 >= NOTICE_HEAP_KIB;
    let (mut level, _) = heap_level(r);
    if trim_kib >= RETAINED_MIN_KIB {
        level = level.max(Level::Notice);
    }

    let mut findings = vec![format!(
        "{} arena(s): the main one and {n} thread arena(s) in {} heap(s); the cap is {cap}: {cap_text}{}",
        t.arenas,
        t.heaps,
        if n + 1 >= cap { " (reached: new threads now share arenas)" } else { "" }
    )];
    findings.push(format!(
        "glibc holds {} in its arenas: {} in use, {} free (fast bins {}, bins {}, tops {})",
        mib_b(t.system_mem_bytes),
        mib_b(t.in_use_bytes),
        mib_b(t.fast_free_bytes + t.bin_free_bytes + t.top_bytes),
        mib_b(t.fast_free_bytes),
        mib_b(t.bin_free_bytes),
        mib_b(t.top_bytes)
    ));
    if n > 0 {
        findings.push(format!(
            "the thread arenas hold {} in use and {} free",
            mib_b(live_threads),
            mib_b(free_threads)
        ));
    }
    findings.push(format!(
        "malloc_trim(0) would return {} of RSS now (whole resident pages inside free chunks{})",
        mib_b(t.trimmable_bytes),
        if t.top_bytes > 0 {
            ", and the main arena's top"
        } else {
            ""
        }
    ));
    if r.python_alloc_rss_kib > 0 {
        findings.push(format!(
            "{} sits in mimalloc regions (CPython's free-threaded object allocator): neither arena_max nor trimming changes it",
            mib(r.python_alloc_rss_kib)
        ));
    }
    if !snap.consistent {
        notes.push("some figures moved while they were read and are marked inconsistent; `--freeze` reads them exactly".into());
    }

    let headline = if trim_leads {
        format!(
            "free memory inside arenas: {} of the {} glibc holds is free, and malloc_trim(0) would return {} of RSS",
            mib_b(t.arena_free_bytes),
            mib_b(t.system_mem_bytes),
            mib_b(t.trimmable_bytes)
        )
    } else if growth && level >= Level::Notice {
        format!(
            "arena growth: {n} thread arenas hold {} in use ({} heap(s), {} resident)",
            mib_b(live_threads),
            t.heaps,
            mib(r.arena_heap_rss_kib)
        )
    } else if n == 0 {
        format!(
            "only the main arena ([heap], {}) is in use: no arena growth",
            mib(r.main_heap_rss_kib)
        )
    } else {
        format!(
            "{n} thread arena(s) hold {} in use and {} free: nothing to tune for now",
            mib_b(live_threads),
            mib_b(free_threads)
        )
    };

    let mut suggestions = Vec::new();
    let mut advice = Vec::new();
    if level >= Level::Notice {
        const ARENA_MAX: &str = "glibc.malloc.arena_max";
        const TRIM: &str = "glibc.malloc.trim_threshold";
        const MMAP: &str = "glibc.malloc.mmap_threshold";
        let mut add = |name: &str, entries: &[(&str, u64)], why: String| {
            suggest(catalog, name, entries, why, &mut suggestions, &mut notes)
        };
        if trim_leads {
            add(
                "trim-threshold-128k",
                &[(TRIM, 128 * 1024)],
                "free memory at the top of each heap goes back as soon as it passes 128 KiB; memory free below live blocks (most of it here) goes back only with malloc_trim(0)".into(),
            );
            add(
                "mmap-threshold-128k",
                &[(MMAP, 128 * 1024)],
                "blocks of 128 KiB or more get their own mapping and leave no free space in the heaps when freed".into(),
            );
        }
        if growth {
            if cap > 2 {
                add(
                    "arena-max-2",
                    &[(ARENA_MAX, 2)],
                    format!("caps arenas at 2 instead of {cap}: live memory spread over {n} thread arenas packs into fewer, each with its own free space"),
                );
            }
            if cap > 4 {
                add(
                    "arena-max-4",
                    &[(ARENA_MAX, 4)],
                    "a middle ground if 2 arenas cost throughput (lock contention)".into(),
                );
            }
        }
        if trim_leads || trim_kib >= RETAINED_MIN_KIB {
            advice.push(format!(
                "call malloc_trim(0) after bursts, from inside the process: it would return {} now (Python: ctypes.CDLL(None).malloc_trim(0))",
                mib_b(t.trimmable_bytes)
            ));
        }
        advice.push(
            "a preloaded jemalloc (profile preload-jemalloc) avoids glibc arenas altogether".into(),
        );
        measure_advice(&suggestions, &mut advice);
    }
    version_notes(f, &suggestions, &mut notes);
    Verdict {
        level,
        headline,
        findings,
        suggestions,
        advice,
        notes,
    }
}
