//! Tests of what the collector keeps: arena rows in creation order with the rest summed
//! as "other", which GLIBC_TUNABLES strings may reach a label, and the error reasons.

use super::*;
use crate::arena::{Arch, Arena, Heap, Totals};

fn arena(index: usize, is_main: bool, system: u64) -> Arena {
    Arena {
        index,
        address: 0x1000 * (index as u64 + 1),
        is_main,
        heaps: vec![Heap {
            address: 0,
            size_bytes: system,
            committed_bytes: system,
            resident_bytes: system,
        }],
        system_mem_bytes: system,
        max_system_mem_bytes: system,
        top_bytes: 10,
        fast_free_chunks: 1,
        fast_free_bytes: 20,
        bin_free_chunks: 1,
        bin_free_bytes: 30,
        free_bytes: 60,
        in_use_bytes: system - 60,
        trimmable_bytes: 4096,
        top_trim_bytes: 0,
        free_chunk_median_bytes: 0,
        attached_threads: 1,
        inconsistent: Vec::new(),
        problems: Vec::new(),
    }
}

fn snapshot(n: usize) -> ArenaSnapshot {
    // malloc_info's order: main, then the newest thread arena first.
    let arenas: Vec<Arena> = (0..n)
        .map(|i| arena(i, i == 0, if i == 0 { 1000 } else { (n - i) as u64 * 1000 }))
        .collect();
    ArenaSnapshot {
        pid: 1,
        glibc_version: "2.36".into(),
        arch: Arch::X86_64,
        page_size_bytes: 4096,
        totals: Totals::default(),
        consistent: true,
        arenas,
        frozen: false,
        stopped_s: None,
        read_s: 0.001,
        attempts: 1,
        notes: Vec::new(),
    }
}

#[test]
fn thread_arenas_are_labelled_in_creation_order_and_the_rest_summed() {
    // Arenas created first get the lower labels: the oldest is last in glibc's ring.
    let f = figures(&snapshot(5), 3);
    let labels: Vec<&str> = f.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["0", "1", "2", "other"]);
    assert_eq!(f.arenas, 5);
    assert!(
        f.rows[0].heaps == 0,
        "the main arena's [heap] is not a heap"
    );
    // Ring order 1..4 had system 4000, 3000, 2000, 1000: creation order reverses it.
    assert_eq!(f.rows[1].system_bytes, 1000);
    assert_eq!(f.rows[2].system_bytes, 2000);
    let other = &f.rows[3];
    assert_eq!(other.system_bytes, 3000 + 4000);
    assert_eq!(other.attached_threads, 2);
    assert_eq!(other.trimmable_bytes, 2 * 4096);
    assert_eq!(other.heaps, 2);
    let total: u64 = f.rows.iter().map(|r| r.system_bytes).sum();
    assert_eq!(total, 1000 + 1000 + 2000 + 3000 + 4000);
}

#[test]
fn no_other_row_when_every_arena_fits() {
    let f = figures(&snapshot(3), 16);
    let labels: Vec<&str> = f.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["0", "1", "2"]);
}

#[test]
fn only_tunables_shaped_strings_reach_the_label() {
    assert!(valid_tunables("glibc.malloc.arena_max=2"));
    assert!(valid_tunables(
        "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=0x20000"
    ));
    for bad in [
        "",
        "glibc.malloc.arena_max",
        "a=1:",
        "a=\"1\"",
        "a=1\nb=2",
        "a=$(reboot)",
        "a=1 b=2",
    ] {
        assert!(!valid_tunables(bad), "{bad:?}");
    }
    assert!(!valid_tunables(&format!("a={}", "9".repeat(600))));
    assert_eq!(env_label(None, valid_tunables), "");
    assert_eq!(env_label(Some("x\"y".into()), valid_tunables), INVALID);
}

#[test]
fn every_reason_has_its_place() {
    for r in REASONS {
        assert_eq!(REASONS[reason_index(r)], r);
    }
    for kind in ["permission", "inconsistent", "unsupported", "io"] {
        assert_eq!(REASONS[reason_index(kind)], kind);
    }
}
