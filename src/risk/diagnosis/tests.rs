//! Tests of the diagnosis: which mechanism holds a delta, and its lever.
use super::*;
use crate::aggregate::{RegionMedians, Summary};

#[test]
fn the_interpreters_own_cost_is_a_mechanism_of_its_own() {
    // The free-threaded talk cell on a small host: 1.03 MiB gross, 0.64 MiB of it
    // with no native call (mimalloc pages of the Python threads); the rest is 15
    // new arena heaps.
    let gross = stats(
        1055.0,
        20.0,
        0.0,
        RegionMedians {
            arena_heaps: 400.0,
            arena_heaps_added: 15.0,
            python_alloc: 620.0,
            stacks: 35.0,
            ..Default::default()
        },
    );
    let control = stats(
        655.0,
        5.0,
        0.0,
        RegionMedians {
            python_alloc: 600.0,
            stacks: 30.0,
            anon_other: 25.0,
            ..Default::default()
        },
    );
    let d = diagnose_net(&gross, &control);
    assert_eq!(d.delta_kib, 1055.0);
    let first = d.main().unwrap();
    assert_eq!(first.mechanism, Mechanism::InterpreterCost);
    assert_eq!(first.kib, 655.0);
    // The net 400 KiB are the new arenas, not mimalloc.
    let arenas = d
        .parts
        .iter()
        .find(|p| p.mechanism == Mechanism::MoreArenas);
    assert!(arenas.is_some_and(|p| p.kib > 300.0), "{d:?}");
    let mimalloc = d.parts.iter().find(|p| p.mechanism == Mechanism::Mimalloc);
    assert!(mimalloc.is_none_or(|p| p.kib <= 20.0), "{d:?}");
    let line = d.line();
    assert!(line.contains("interpreter's own per-thread cost"), "{line}");
    assert!(line.contains("no glibc tunable acts on it"), "{line}");
}

fn summary(median: f64) -> Summary {
    Summary {
        median,
        min: median,
        max: median,
        n: 3,
    }
}

/// A build's stats with the given delta, trim return, store and region split.
fn stats(delta: f64, reclaimable: f64, store: f64, regions: RegionMedians) -> BuildStats {
    let mut b = crate::aggregate::tests_support::build_stats_for(delta);
    b.reclaimable_kib = summary(reclaimable);
    b.store_kib = Some(store);
    b.regions_delta_kib = regions;
    b
}

#[test]
fn growth_in_mimalloc_is_not_told_to_cap_arenas() {
    // A free-threaded run whose growth sits in mimalloc, with arena heaps that hold
    // only free memory (the shape of CPython's report on C extensions).
    let b = stats(
        70_000.0,
        6_000.0,
        0.0,
        RegionMedians {
            arena_heaps: 6_000.0,
            arena_heaps_added: 4.0,
            python_alloc: 64_000.0,
            ..Default::default()
        },
    );
    let d = diagnose(&b);
    assert_eq!(d.main().unwrap().mechanism, Mechanism::Mimalloc);
    let line = d.line();
    assert!(line.contains("mostly CPython's mimalloc"), "{line}");
    assert!(!line.contains("cap the arenas"), "{line}");
    assert!(line.contains("none of glibc's tunables"), "{line}");
}

#[test]
fn new_arenas_that_trimming_leaves_point_to_arena_max() {
    // The talk's seed cell: 15 new heaps of ~30 KiB each, nothing trimmed.
    let b = stats(
        600.0,
        10.0,
        0.0,
        RegionMedians {
            arena_heaps: 450.0,
            arena_heaps_added: 15.0,
            stacks: 40.0,
            anon_other: 100.0,
            ..Default::default()
        },
    );
    let d = diagnose(&b);
    assert_eq!(d.main().unwrap().mechanism, Mechanism::MoreArenas);
    assert!(d.line().contains("15 new heap(s)"), "{}", d.line());
    assert!(d.line().contains("glibc.malloc.arena_max"), "{}", d.line());
}

#[test]
fn new_arenas_of_a_few_pages_are_more_arenas_even_when_their_pages_are_free() {
    // The talk's seed cell read from outside: 15 new heaps of ~23 KiB resident,
    // whose tops count ~1.9 MiB free (mostly committed, untouched), trim returned
    // 0.03 MiB. Only fewer arenas would save those pages.
    let mut b = stats(
        560.0,
        30.0,
        0.0,
        RegionMedians {
            arena_heaps: 350.0,
            arena_heaps_added: 15.0,
            stacks: 40.0,
            file: 130.0,
            ..Default::default()
        },
    );
    b.arena_free_delta_kib = Some(1900.0);
    let d = diagnose(&b);
    assert_eq!(d.main().unwrap().mechanism, Mechanism::MoreArenas, "{d:?}");
    // Arena heaps of ~140 KiB each that hold free memory: trimming.
    b.regions_delta_kib.arena_heaps = 1430.0;
    b.regions_delta_kib.arena_heaps_added = 10.0;
    b.delta_kib.median = 1560.0;
    b.arena_free_delta_kib = Some(1390.0);
    let d = diagnose(&b);
    assert_eq!(
        d.main().unwrap().mechanism,
        Mechanism::FreeRetained,
        "{d:?}"
    );
    assert!(
        d.line()
            .contains("of which malloc_trim(0) returned 0.03 MiB"),
        "{}",
        d.line()
    );
}

#[test]
fn memory_a_trim_returns_points_to_trimming() {
    let b = stats(
        44_000.0,
        43_000.0,
        0.0,
        RegionMedians {
            arena_heaps: 20_000.0,
            arena_heaps_added: 1.0,
            main_heap: 23_000.0,
            python_alloc: 600.0,
            ..Default::default()
        },
    );
    let d = diagnose(&b);
    assert_eq!(d.main().unwrap().mechanism, Mechanism::FreeRetained);
    assert!(d.line().contains("trim_threshold"), "{}", d.line());
}

#[test]
fn kept_blocks_are_live_data_and_stacks_are_stacks() {
    let b = stats(
        12_000.0,
        500.0,
        10_000.0,
        RegionMedians {
            arena_heaps: 11_000.0,
            arena_heaps_added: 3.0,
            stacks: 800.0,
            ..Default::default()
        },
    );
    let d = diagnose(&b);
    assert_eq!(d.main().unwrap().mechanism, Mechanism::LiveData);
    // 11000 - 500 trimmed = 10500 kept; 10000 of it is the store, 500 arenas.
    let arenas = d
        .parts
        .iter()
        .find(|p| p.mechanism == Mechanism::MoreArenas);
    assert_eq!(arenas.map(|p| p.kib), Some(500.0));
    let b = stats(
        6_000.0,
        0.0,
        0.0,
        RegionMedians {
            stacks: 5_500.0,
            ..Default::default()
        },
    );
    assert_eq!(
        diagnose(&b).main().unwrap().mechanism,
        Mechanism::ThreadStacks
    );
}

#[test]
fn a_small_delta_has_nothing_to_act_on() {
    let b = stats(300.0, 0.0, 0.0, RegionMedians::default());
    assert!(diagnose(&b).main().is_none());
    assert!(diagnose(&b).line().starts_with("little growth (0.29 MiB)"));
}
