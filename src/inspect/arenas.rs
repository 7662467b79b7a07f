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
    arena_cap, closing_advice, heap_level, mib, suggest, version_notes, Facts, Level, Verdict,
    ARENA_MAX, MIDDLE_GROUND, MMAP, NOTICE_HEAP_KIB, RETAINED_MIN_KIB, TRIM,
};

/// Bytes as MiB with one decimal.
pub fn mib_b(bytes: u64) -> String {
    mib(bytes / 1024)
}

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
        mib_b(t.system_mem_bytes),
        mib_b(t.in_use_bytes),
        mib_b(t.fast_free_bytes + t.bin_free_bytes + t.top_bytes),
        mib_b(t.fast_free_bytes),
        mib_b(t.bin_free_bytes),
        mib_b(t.top_bytes)
    ));
    if n > 0 {
        out.push(format!(
            "the thread arenas hold {} in use and {} free",
            mib_b(sh.live_threads),
            mib_b(sh.free_threads)
        ));
    }
    out.push(format!(
        "malloc_trim(0) would return {} of RSS now (whole resident pages inside free chunks{})",
        mib_b(t.trimmable_bytes),
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
            mib_b(t.arena_free_bytes),
            mib_b(t.system_mem_bytes),
            mib_b(t.trimmable_bytes)
        )
    } else if sh.growth && sh.level >= Level::Notice {
        format!(
            "arena growth: {n} thread arenas hold {} in use ({} heap(s), {} resident)",
            mib_b(sh.live_threads),
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
            mib_b(sh.live_threads),
            mib_b(sh.free_threads)
        )
    }
}

pub fn verdict(
    f: &Facts,
    catalog: &Catalog,
    snap: &ArenaSnapshot,
    mut notes: Vec<String>,
) -> Verdict {
    let sh = shape(f, snap);
    let (cap, _) = arena_cap(f);
    if !snap.consistent {
        notes.push("some figures moved while they were read and are marked inconsistent; `--freeze` reads them exactly".into());
    }
    let mut suggestions = Vec::new();
    let mut advice = Vec::new();
    if sh.level >= Level::Notice {
        let mut add = |name: &str, entries: &[(&str, u64)], why: String| {
            suggest(catalog, name, entries, why, &mut suggestions, &mut notes)
        };
        if sh.trim_leads {
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
        if sh.growth && cap > 2 {
            add(
                "arena-max-2",
                &[(ARENA_MAX, 2)],
                format!("caps arenas at 2 instead of {cap}: live memory spread over {} thread arenas packs into fewer, each with its own free space", sh.n),
            );
        }
        if sh.growth && cap > 4 {
            add("arena-max-4", &[(ARENA_MAX, 4)], MIDDLE_GROUND.into());
        }
        if sh.trim_kib >= RETAINED_MIN_KIB {
            advice.push(format!(
                "call malloc_trim(0) after bursts, from inside the process: it would return {} now (Python: ctypes.CDLL(None).malloc_trim(0))",
                mib_b(snap.totals.trimmable_bytes)
            ));
        }
        closing_advice(&suggestions, &mut advice);
    }
    version_notes(f, &suggestions, &mut notes);
    Verdict {
        level: sh.level,
        headline: headline(f, snap, &sh),
        findings: findings(f, snap, &sh),
        suggestions,
        advice,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::{Arch, Arena, Totals};
    use crate::inspect::target::LibcKind;
    use crate::sampler::Regions;

    const MIB: u64 = 1024 * 1024;

    fn catalog() -> Catalog {
        Catalog::from_text(include_str!(
            "../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt"
        ))
    }

    /// An arena holding `live` bytes in use and `free` bytes free in its bins, of
    /// which `trim` would go back with a trim.
    fn arena(index: usize, live: u64, free: u64, trim: u64) -> Arena {
        Arena {
            index,
            address: 0x7f00_0000_0030 + index as u64 * 64 * MIB,
            is_main: index == 0,
            heaps: Vec::new(),
            system_mem_bytes: live + free,
            max_system_mem_bytes: live + free,
            top_bytes: 0,
            fast_free_chunks: 0,
            fast_free_bytes: 0,
            bin_free_chunks: 1,
            bin_free_bytes: free,
            free_bytes: free,
            in_use_bytes: live,
            trimmable_bytes: trim,
            attached_threads: 0,
            inconsistent: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn snapshot(arenas: Vec<Arena>) -> ArenaSnapshot {
        let resident = arenas.iter().map(|a| a.system_mem_bytes).sum();
        ArenaSnapshot {
            pid: 1,
            glibc_version: "2.36".into(),
            arch: Arch::X86_64,
            page_size_bytes: 4096,
            totals: Totals::of(&arenas, resident),
            arenas,
            consistent: true,
            frozen: true,
            stopped_s: Some(0.001),
            read_s: 0.002,
            attempts: 1,
            notes: Vec::new(),
        }
    }

    fn facts(snap: &ArenaSnapshot, mimalloc_kib: u64) -> Facts {
        let heaps = snap.thread_arenas().count() as u32;
        let heap_kib = snap
            .thread_arenas()
            .map(|a| a.system_mem_bytes)
            .sum::<u64>()
            / 1024;
        Facts {
            regions: Regions {
                arena_heaps: heaps,
                arena_heap_rss_kib: heap_kib,
                main_heap_rss_kib: 256,
                python_alloc_rss_kib: mimalloc_kib,
                total_rss_kib: heap_kib + 256 + mimalloc_kib + 8192,
                ..Regions::default()
            },
            threads: 1,
            libc: LibcKind::Glibc,
            libc_static: false,
            glibc_version: Some("2.36".into()),
            replacement: None,
            pointer_bits: Some(64),
            arena_max: None,
            online_cpus: 2,
            host_glibc_version: "2.36".into(),
            arenas: Some(snap.clone()),
        }
    }

    fn names(v: &Verdict) -> Vec<&str> {
        v.suggestions
            .iter()
            .map(|s| s.profile.name.as_str())
            .collect()
    }

    #[test]
    fn free_memory_a_trim_returns_leads_to_trimming_not_arena_max() {
        // The stranded case: 4 thread arenas of 16 MiB free each, nearly nothing live.
        let mut a = vec![arena(0, 100_000, 150_000, 0)];
        a.extend((1..=4).map(|i| arena(i, 4096, 16 * MIB, 16 * MIB - 8192)));
        let snap = snapshot(a);
        let v = super::super::verdict::verdict(&facts(&snap, 3 * 1024), &catalog());
        assert_eq!(v.level, Level::Significant, "{v:#?}");
        assert!(
            v.headline.starts_with("free memory inside arenas"),
            "{}",
            v.headline
        );
        assert!(
            v.headline.contains("malloc_trim(0) would return 64.0 MiB"),
            "{}",
            v.headline
        );
        assert_eq!(
            names(&v),
            vec!["trim-threshold-128k", "mmap-threshold-128k"]
        );
        assert!(
            v.advice[0].starts_with("call malloc_trim(0)"),
            "{:?}",
            v.advice
        );
        assert!(v
            .findings
            .iter()
            .any(|f| f.contains("mimalloc") && f.contains("neither")));
    }

    #[test]
    fn live_memory_over_many_thread_arenas_points_to_arena_max() {
        // 15 thread arenas, each 2 MiB live and 64 KiB free: nothing to trim.
        let mut a = vec![arena(0, 100_000, 10_000, 0)];
        a.extend((1..=15).map(|i| arena(i, 2 * MIB, 64 * 1024, 0)));
        let snap = snapshot(a);
        let v = super::super::verdict::verdict(&facts(&snap, 0), &catalog());
        assert!(
            v.headline
                .starts_with("arena growth: 15 thread arenas hold 30.0 MiB"),
            "{}",
            v.headline
        );
        assert_eq!(names(&v), vec!["arena-max-2", "arena-max-4"]);
        assert!(
            v.findings[0].contains("the cap is 16") && v.findings[0].contains("reached"),
            "{:?}",
            v.findings
        );
        assert!(!v.advice.iter().any(|a| a.contains("malloc_trim")));
    }

    #[test]
    fn both_free_and_spread_memory_lead_with_trimming_then_arena_max() {
        let mut a = vec![arena(0, 100_000, 10_000, 0)];
        a.extend((1..=8).map(|i| arena(i, MIB, 8 * MIB, 8 * MIB - 4096)));
        let snap = snapshot(a);
        let v = super::super::verdict::verdict(&facts(&snap, 0), &catalog());
        assert_eq!(
            names(&v),
            vec![
                "trim-threshold-128k",
                "mmap-threshold-128k",
                "arena-max-2",
                "arena-max-4"
            ]
        );
    }

    #[test]
    fn the_main_arena_alone_is_fine_and_inconsistency_is_noted() {
        let mut snap = snapshot(vec![arena(0, 2 * MIB, 100_000, 0)]);
        snap.consistent = false;
        let v = super::super::verdict::verdict(&facts(&snap, 0), &catalog());
        assert_eq!(v.level, Level::Fine);
        assert!(
            v.headline.starts_with("only the main arena"),
            "{}",
            v.headline
        );
        assert!(v.suggestions.is_empty());
        assert!(
            v.notes.iter().any(|n| n.contains("--freeze")),
            "{:?}",
            v.notes
        );
    }
}
