//! Tests of the assessment read from the arenas: which levers lead, and that a sweep
//! names the same lever as `inspect` for the same figures.
use super::*;
use crate::arena::{Arch, Arena, Totals};
use crate::inspect::target::LibcKind;
use crate::sampler::Regions;

const MIB: u64 = 1024 * 1024;

fn catalog() -> Catalog {
    Catalog::from_text(include_str!(
        "../../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt"
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
        top_trim_bytes: 0,
        free_chunk_median_bytes: 0,
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

fn lever_names(v: &Assessment) -> Vec<&str> {
    v.levers.iter().map(|a| a.lever.as_str()).collect()
}

/// `a` with a top chunk of `top` bytes (counted free, and in its heap, all of it
/// resident), of which a 128 KiB trim threshold returns whole pages past `MINSIZE`.
fn with_top(mut a: Arena, top: u64) -> Arena {
    a.top_bytes = top;
    if top >= 128 * 1024 {
        a.top_trim_bytes = (top - 33) & !4095;
    }
    a.free_bytes += top;
    a.system_mem_bytes += top;
    a.max_system_mem_bytes += top;
    a
}

fn names(v: &Assessment) -> Vec<&str> {
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
    let v = super::super::assessment::assess(&facts(&snap, 3 * 1024), &catalog());
    assert_eq!(v.level, Level::Significant, "{v:#?}");
    assert!(
        v.headline.starts_with("free memory inside arenas"),
        "{}",
        v.headline
    );
    assert!(
        v.headline.contains("malloc_trim(0) would return 63.97 MiB"),
        "{}",
        v.headline
    );
    // The free memory sits in the bins, below live blocks: only malloc_trim(0)
    // returns it, so it leads and no tunable is suggested for it.
    assert_eq!(
        lever_names(&v),
        vec!["malloc_trim", "trim_threshold", "mmap_threshold"]
    );
    assert!(
        v.levers[0].line().contains("(returns 63.97 of 64.14 MiB)"),
        "{:?}",
        v.levers
    );
    assert!(names(&v).is_empty(), "{:?}", names(&v));
    assert!(
        v.advice[0].starts_with("no tunable returns the memory free below live blocks"),
        "{:?}",
        v.advice
    );
    assert!(v
        .findings
        .iter()
        .any(|f| f.contains("mimalloc") && f.contains("neither")));
}

/// Live memory spread over thread arenas with little free space between it: capping
/// the arenas would move the live blocks, not free them. The cap is listed with its
/// bound (the free bytes of the arenas it would fold away) and not suggested.
#[test]
fn live_memory_over_many_thread_arenas_lists_the_cap_with_what_it_could_save() {
    // 15 thread arenas, each 2 MiB live and 64 KiB free: nothing to trim.
    let mut a = vec![arena(0, 100_000, 10_000, 0)];
    a.extend((1..=15).map(|i| arena(i, 2 * MIB, 64 * 1024, 0)));
    let snap = snapshot(a);
    let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
    assert!(
        v.headline
            .starts_with("arena growth: 15 thread arenas hold 30.00 MiB"),
        "{}",
        v.headline
    );
    assert!(
        v.findings[0].contains("the cap is 16") && v.findings[0].contains("reached"),
        "{:?}",
        v.findings
    );
    assert!(!v.advice.iter().any(|a| a.contains("malloc_trim")));
    assert_eq!(lever_names(&v), vec!["arena_max"]);
    // 14 arenas' 64 KiB: 0.88 of the 30.94 MiB the thread arenas hold.
    assert_eq!(v.levers[0].returns(), "returns at most 0.88 of 30.94 MiB");
    assert_eq!(
        names(&v),
        Vec::<String>::new(),
        "a cap that saves 3% is not suggested"
    );
}

/// The same arenas with 6 MiB free in each: the cap could return most of it.
#[test]
fn free_space_in_each_of_many_arenas_suggests_the_cap() {
    let mut a = vec![arena(0, 100_000, 10_000, 0)];
    a.extend((1..=15).map(|i| arena(i, 2 * MIB, 6 * MIB, 0)));
    let snap = snapshot(a);
    let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
    assert_eq!(names(&v), vec!["arena-max-2", "arena-max-4"]);
    assert_eq!(v.levers[0].returns(), "returns at most 84.00 of 120.00 MiB");
}

#[test]
fn both_free_and_spread_memory_lead_with_trimming_then_arena_max() {
    let mut a = vec![arena(0, 100_000, 10_000, 0)];
    a.extend((1..=8).map(|i| arena(i, MIB, 8 * MIB, 8 * MIB - 4096)));
    let snap = snapshot(a);
    let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
    assert_eq!(
        lever_names(&v),
        vec![
            "malloc_trim",
            "arena_max",
            "trim_threshold",
            "mmap_threshold"
        ]
    );
    assert_eq!(names(&v), vec!["arena-max-2", "arena-max-4"]);
}

#[test]
fn free_thread_arena_tops_lead_with_the_trim_threshold() {
    // 4 thread arenas whose 12 MiB tops a trim leaves; 1 MiB free in the bins.
    let mut a = vec![arena(0, 100_000, 10_000, 0)];
    a.extend((1..=4).map(|i| with_top(arena(i, 4096, MIB / 4, MIB / 4 - 4096), 12 * MIB)));
    let snap = snapshot(a);
    let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
    assert_eq!(
        lever_names(&v),
        vec!["trim_threshold", "malloc_trim", "mmap_threshold"]
    );
    assert_eq!(names(&v), vec!["trim-threshold-128k"]);
    assert!(
        !v.advice.iter().any(|a| a.starts_with("no tunable")),
        "{:?}",
        v.advice
    );
}

/// A sweep's diagnosis and `inspect` fed the same figures (free memory glibc holds,
/// what a trim returns, the tops it leaves) name the same lever first.
#[test]
fn a_sweep_and_inspect_name_the_same_lever_for_the_same_figures() {
    use crate::levers::Mechanism;
    // (free MiB in the bins a trim returns, free MiB in thread arenas' tops)
    for (bins, tops) in [(16u64, 0u64), (1, 12), (6, 5), (2, 9)] {
        let mut a = vec![arena(0, 100_000, 10_000, 0)];
        a.push(with_top(arena(1, 4096, bins * MIB, bins * MIB), tops * MIB));
        let snap = snapshot(a);
        let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
        // The sweep's figures for the same memory: the free bytes grew by all of it,
        // the trim returned the bins' share, and the tops read from outside hold what
        // a 128 KiB trim threshold returns.
        let free_kib = ((bins + tops) * 1024) as f64;
        let mut b = crate::aggregate::tests_support::build_stats_for(free_kib);
        b.reclaimable_kib.median = (bins * 1024) as f64;
        b.arena_free_delta_kib = Some(free_kib);
        b.top_trim_kib = Some((snap.totals.top_trim_bytes / 1024) as f64);
        b.regions_delta_kib.arena_heaps = free_kib;
        b.regions_delta_kib.arena_heaps_added = 0.0;
        let d = crate::risk::diagnosis::diagnose(&b);
        let part = d.main().unwrap();
        assert_eq!(part.mechanism, Mechanism::FreeRetained, "{d:?}");
        let sweep = d.actions(part);
        assert_eq!(
            sweep[0].lever, v.levers[0].lever,
            "bins {bins} MiB, tops {tops} MiB: {:?} vs {:?}",
            sweep, v.levers
        );
        assert!(d
            .line()
            .contains(&format!("Lever: {}", sweep[0].lever.short())));
    }
}

#[test]
fn the_main_arena_alone_is_fine_and_inconsistency_is_noted() {
    let mut snap = snapshot(vec![arena(0, 2 * MIB, 100_000, 0)]);
    snap.consistent = false;
    let v = super::super::assessment::assess(&facts(&snap, 0), &catalog());
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
