//! Fuzz tests (proptest) of the arena reader on synthetic images: a valid arena
//! (see `synthetic`) with random words overwritten by random values, by chunk
//! addresses, by pointers into and out of the heap (wrong sizes, cycles, lists that
//! leave the heap), and heaps of random bytes. Discovery and the walk must never
//! panic and must end (every walk is bounded). `scripts/test.sh` runs these with
//! 20000 cases (`PROPTEST_CASES`).

use proptest::prelude::*;

use super::residency::Pagemap;
use super::synthetic::{Kind, Synth, HEAP};
use super::walk_all;

const HEAP_SIZE: u64 = 64 * 1024;

fn chunks() -> impl Strategy<Value = Vec<(u64, Kind)>> {
    prop::collection::vec(
        (2u64..200, 0u8..3).prop_map(|(n, k)| {
            let kind = match k {
                0 => Kind::InUse,
                1 => Kind::Binned,
                _ => Kind::Fast,
            };
            // Fast chunks must fit a fast bin (32..=176 bytes).
            let size = if kind == Kind::Fast {
                16 * (2 + n % 10)
            } else {
                16 * n
            };
            (size, kind)
        }),
        0..60,
    )
}

/// Where to write and what: (offset choice, value choice, raw value).
fn edits() -> impl Strategy<Value = Vec<(u64, u8, u64)>> {
    prop::collection::vec((any::<u64>(), 0u8..6, any::<u64>()), 1..24)
}

fn read(s: &mut Synth) {
    let mut pm = |_: &[(u64, u64)]| Ok(Some(Pagemap::all_resident(4096)));
    let maps = s.maps.clone();
    let _ = walk_all(&mut s.image, &s.layout, &maps, 4096, true, &mut pm);
}

/// Build the arena and apply the edits.
fn corrupted(chunks: &[(u64, Kind)], edits: &[(u64, u8, u64)]) -> Synth {
    let total: u64 = chunks.iter().map(|c| c.0).sum();
    let keep: Vec<(u64, Kind)> = if total + 4096 > HEAP_SIZE {
        chunks[..chunks.len() / 4].to_vec()
    } else {
        chunks.to_vec()
    };
    let mut s = Synth::new(&keep, HEAP_SIZE);
    let addrs: Vec<u64> = s
        .chunks
        .iter()
        .map(|c| c.0)
        .chain([s.top, s.state, s.main])
        .collect();
    for &(where_, what, raw) in edits {
        // Aligned words in the heap (the states' fields included) or in main's state.
        let at = if where_ % 5 == 0 {
            s.main + (where_ / 5 % (s.layout.state.size / 8)) * 8
        } else {
            s.heap + (where_ % (HEAP_SIZE / 8)) * 8
        };
        let value = match what {
            0 => raw,
            1 => addrs[(raw % addrs.len() as u64) as usize],
            2 => addrs[(raw % addrs.len() as u64) as usize] + 16,
            3 => HEAP + (raw % (1 << 30)),
            4 => raw % 4096,
            _ => at, // points at itself: a one-element cycle
        };
        if at + 8 <= s.heap + HEAP_SIZE || at >= s.main {
            s.image.put_u64(at, value);
        }
    }
    s
}

proptest! {
    #[test]
    fn fuzz_corrupted_arenas_never_panic_or_hang(c in chunks(), e in edits()) {
        let mut s = corrupted(&c, &e);
        read(&mut s);
    }

    #[test]
    fn fuzz_random_heaps_never_panic_or_hang(bytes in prop::collection::vec(any::<u8>(), 0..4096), c in chunks()) {
        let mut s = corrupted(&c, &[]);
        // Random bytes over the arena's state and first chunks (heap_info stays).
        for (start, region) in s.image.regions_mut() {
            if start == s.heap {
                let from = 48usize;
                let n = bytes.len().min(region.len() - from);
                region[from..from + n].copy_from_slice(&bytes[..n]);
            }
        }
        read(&mut s);
    }

    #[test]
    fn fuzz_a_valid_arena_reads_exactly(c in chunks()) {
        let mut s = corrupted(&c, &[]);
        let (fb, fc, bb, bc, top) = s.expected();
        let mut pm = |_: &[(u64, u64)]| Ok(Some(Pagemap::all_resident(4096)));
        let maps = s.maps.clone();
        let a = walk_all(&mut s.image, &s.layout, &maps, 4096, true, &mut pm)
            .unwrap_or_else(|_| panic!("a valid image is readable"));
        let arena = &a.arenas[1];
        prop_assert!(arena.problems.is_empty(), "{:?}", arena.problems);
        prop_assert_eq!(
            (arena.fast_free_bytes, arena.fast_free_chunks, arena.bin_free_bytes, arena.bin_free_chunks, arena.top_bytes),
            (fb, fc, bb, bc, top)
        );
    }
}
