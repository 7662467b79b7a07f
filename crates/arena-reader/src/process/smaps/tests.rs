//! Tests of the smaps parser and classifier on small hand-made mappings: the fast
//! parser against procfs, arena heaps, candidates for the reader, thread stacks.

use super::*;

#[test]
fn the_fast_parser_reads_what_procfs_reads() {
    use procfs::FromBufRead;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("smaps")
        {
            continue;
        }
        let text = std::fs::read(&path).unwrap();
        let reference =
            from_procfs(&procfs::process::MemoryMaps::from_buf_read(&text[..]).unwrap());
        assert_eq!(parse_bytes(&text).unwrap(), reference, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 3, "the real smaps captures are in {dir}");
}

const MIB: u64 = 1024 * 1024;

fn anon(start: u64, len: u64, rw: bool, rss: u64) -> Mapping {
    Mapping {
        start,
        end: start + len,
        read: rw,
        write: rw,
        private: true,
        kind: Kind::Anonymous,
        rss_bytes: rss,
    }
}

#[test]
fn an_arena_heap_is_an_aligned_rw_head_with_a_none_tail() {
    let base = 0x7f00_0000_0000u64; // a multiple of 64 MiB
    assert_eq!(base % ARENA_HEAP_SIZE, 0);
    let maps = vec![
        anon(base, 132 * 1024, true, 40 * 1024),
        anon(base + 132 * 1024, ARENA_HEAP_SIZE - 132 * 1024, false, 0),
        // Not aligned: an mmapped chunk, "other".
        anon(base + ARENA_HEAP_SIZE + 4096, 64 * MIB, true, 8 * 1024),
    ];
    let r = classify(&maps);
    assert_eq!(r.arena_heaps, 1);
    assert_eq!(r.arena_heap_rss_kib, 40);
    assert_eq!(r.arena_heap_committed_kib, 132);
    assert_eq!(r.anon_other_rss_kib, 8);
    assert_eq!(r.total_rss_kib, 48);
}

#[test]
fn a_heap_merged_with_the_mapping_below_is_a_candidate_for_the_reader() {
    let base = 0x7f00_0000_0000u64;
    // Another allocator's 3 MiB read-write region ends where the heap starts; the
    // kernel shows one mapping from base - 3 MiB to the heap's committed end.
    let maps = vec![
        anon(base - 3 * MIB, 3 * MIB + 132 * 1024, true, 1024 * 1024),
        anon(base + 132 * 1024, ARENA_HEAP_SIZE - 132 * 1024, false, 0),
    ];
    assert_eq!(classify(&maps).arena_heaps, 0, "smaps cannot split its RSS");
    assert_eq!(arena_heap_candidates(&maps), [(base, base + 132 * 1024)]);
    // A plain slot is a candidate too; a read-write mapping without the tail is not.
    let plain = vec![
        anon(base, 132 * 1024, true, 40 * 1024),
        anon(base + 132 * 1024, ARENA_HEAP_SIZE - 132 * 1024, false, 0),
    ];
    assert_eq!(arena_heap_candidates(&plain), [(base, base + 132 * 1024)]);
    assert!(arena_heap_candidates(&[anon(base - MIB, 2 * MIB, true, 0)]).is_empty());
}

#[test]
fn an_aligned_rw_mapping_without_the_reservation_is_not_a_heap() {
    let base = 0x7f00_0000_0000u64;
    // Aligned, but the tail stops short of the 64 MiB slot.
    let maps = vec![anon(base, MIB, true, 4096), anon(base + MIB, MIB, false, 0)];
    assert_eq!(classify(&maps).arena_heaps, 0);
    // Aligned and longer than a slot (e.g. an allocator's own reservation).
    assert_eq!(
        classify(&[anon(base, 128 * MIB, true, 4096)]).arena_heaps,
        0
    );
}

#[test]
fn a_guarded_rw_mapping_is_a_thread_stack() {
    let g = 0x7f10_0000_1000u64;
    let maps = vec![
        anon(g, 4096, false, 0),
        anon(g + 4096, 8 * MIB, true, 16 * 1024),
    ];
    let r = classify(&maps);
    assert_eq!(r.thread_stacks, 1);
    assert_eq!(r.stack_rss_kib, 16);
    // A big PROT_NONE below is not a guard.
    let maps = vec![
        anon(g, MIB, false, 0),
        anon(g + MIB, 8 * MIB, true, 16 * 1024),
    ];
    assert_eq!(classify(&maps).thread_stacks, 0);
}
