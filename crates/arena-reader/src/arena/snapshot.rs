//! What one read of a process's arenas gives: [`ArenaSnapshot`] (serde; `inspect
//! --json` writes it as it is, and docs/inspect.md documents every field).

use serde::{Deserialize, Serialize};

use super::layout::Arch;

/// A figure of an arena, named as in the JSON, for the "could not be read
/// consistently" flags.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Figure {
    SystemMemBytes,
    TopBytes,
    FastFreeBytes,
    BinFreeBytes,
    InUseBytes,
    TrimmableBytes,
    AttachedThreads,
}

impl Figure {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One heap of an arena: a 64 MiB-aligned reservation with its `heap_info` header,
/// or, for the main arena, `[heap]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heap {
    /// Start address (where `heap_info` is, for a non-main arena).
    pub address: u64,
    /// `heap_info.size`: the bytes in use by the arena (for `[heap]`: the mapping's size).
    pub size_bytes: u64,
    /// `heap_info.mprotect_size`: bytes made read-write (for `[heap]`: the mapping's size).
    pub committed_bytes: u64,
    /// Resident bytes of `[address, address + size_bytes)`, from /proc/PID/pagemap.
    pub resident_bytes: u64,
}

/// One arena's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arena {
    /// Position in glibc's ring of arenas, as malloc_info numbers them (`<heap nr=...>`):
    /// 0 is the main arena, then from the newest arena to the oldest.
    pub index: usize,
    /// Address of the arena's `malloc_state`.
    pub address: u64,
    /// The main arena (`main_arena` in libc's data; its memory is `[heap]`).
    pub is_main: bool,
    pub heaps: Vec<Heap>,
    /// `system_mem`: bytes the arena holds from the kernel (malloc_info's
    /// `<system type="current">`).
    pub system_mem_bytes: u64,
    /// `max_system_mem` (`<system type="max">`).
    pub max_system_mem_bytes: u64,
    /// Size of the top chunk (the free space at the end of the newest heap).
    pub top_bytes: u64,
    /// Free chunks in the fast bins, and their bytes.
    pub fast_free_chunks: u64,
    pub fast_free_bytes: u64,
    /// Free chunks in the unsorted, small and large bins, and their bytes.
    pub bin_free_chunks: u64,
    pub bin_free_bytes: u64,
    /// malloc_info's `<total type="fast">` + `<total type="rest">` (glibc 2.31 and
    /// later): fast + bins + top, where glibc adds each binned chunk's size with its
    /// flag bits (`chunksize_nomask`), so this is a few bytes per binned chunk above
    /// fast + bin + top.
    pub free_bytes: u64,
    /// `system_mem` minus the free chunks (mallinfo2's `uordblks` for this arena):
    /// live blocks, chunks cached in threads' tcaches, and glibc's own headers.
    pub in_use_bytes: u64,
    /// Resident bytes a `malloc_trim(0)` would give back now: whole pages inside free
    /// chunks (after merging the fast bins, as malloc_trim does) and, for the main
    /// arena, the top beyond one page. glibc's malloc_trim does not shrink a non-main
    /// arena's top; free() does, past `trim_threshold`.
    pub trimmable_bytes: u64,
    /// Resident bytes of a non-main arena's top that glibc's `heap_trim` would give
    /// back with `glibc.malloc.trim_threshold=131072`: a top of at least 128 KiB
    /// shrinks to under a page past `MINSIZE` (`top_pad` is 0 by default). What a lower
    /// trim threshold returns and `malloc_trim(0)` leaves; 0 for the main arena, whose
    /// top `malloc_trim(0)` returns.
    #[serde(default)]
    pub top_trim_bytes: u64,
    /// The size of the free chunk (fast bins and bins) that half the free bytes are
    /// in chunks of at most: what kind of blocks left the free memory. Blocks that
    /// size are kept out of the heaps only by an mmap threshold at or below it.
    #[serde(default)]
    pub free_chunk_median_bytes: u64,
    /// `attached_threads`: threads using the arena (0: on the free list, for reuse).
    pub attached_threads: u64,
    /// Figures that could not be read consistently (the process changed them while
    /// they were read, and every retry saw them move).
    pub inconsistent: Vec<Figure>,
    /// Why, one sentence each.
    pub problems: Vec<String>,
}

/// Sums over every arena.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Arenas, the main one included.
    pub arenas: u64,
    /// Heaps of non-main arenas (what malloc_info calls subheaps).
    pub heaps: u64,
    pub system_mem_bytes: u64,
    /// fast + rest, top included, as malloc_info counts them.
    pub arena_free_bytes: u64,
    pub in_use_bytes: u64,
    /// Resident bytes a `malloc_trim(0)` would give back now.
    pub trimmable_bytes: u64,
    /// Resident bytes a 128 KiB trim threshold would return from thread arenas' tops.
    #[serde(default)]
    pub top_trim_bytes: u64,
    /// The byte-weighted median of the arenas' `free_chunk_median_bytes`, weighted by
    /// their bin and fast-bin free bytes.
    #[serde(default)]
    pub free_chunk_median_bytes: u64,
    /// Resident bytes of every heap (non-main arenas) and of `[heap]`.
    pub resident_bytes: u64,
    pub fast_free_bytes: u64,
    pub bin_free_bytes: u64,
    pub top_bytes: u64,
}

/// One read of a process's glibc arenas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArenaSnapshot {
    pub pid: i32,
    /// The target's glibc, "2.36".
    pub glibc_version: String,
    pub arch: Arch,
    pub page_size_bytes: u64,
    /// Every arena, in malloc_info's order (main first).
    pub arenas: Vec<Arena>,
    pub totals: Totals,
    /// Every figure of every arena was read consistently.
    pub consistent: bool,
    /// The process was stopped (`--freeze`) while it was read.
    pub frozen: bool,
    /// How long it was stopped, in seconds (with `frozen`).
    pub stopped_s: Option<f64>,
    /// How long the read took, in seconds.
    pub read_s: f64,
    /// Reads of the whole set of arenas (1 + retries used).
    pub attempts: u32,
    /// Things worth knowing that are not figures (64 MiB-aligned mappings no arena
    /// claims, a main arena that gave up on brk, ...).
    pub notes: Vec<String>,
}

impl ArenaSnapshot {
    /// The non-main arenas.
    pub fn thread_arenas(&self) -> impl Iterator<Item = &Arena> {
        self.arenas.iter().filter(|a| !a.is_main)
    }

    pub fn main_arena(&self) -> Option<&Arena> {
        self.arenas.iter().find(|a| a.is_main)
    }
}

impl Totals {
    pub fn of(arenas: &[Arena], resident_bytes: u64) -> Totals {
        let sum = |f: fn(&Arena) -> u64| arenas.iter().map(f).sum();
        Totals {
            arenas: arenas.len() as u64,
            heaps: arenas
                .iter()
                .filter(|a| !a.is_main)
                .map(|a| a.heaps.len() as u64)
                .sum(),
            system_mem_bytes: sum(|a| a.system_mem_bytes),
            arena_free_bytes: sum(|a| a.free_bytes),
            in_use_bytes: sum(|a| a.in_use_bytes),
            trimmable_bytes: sum(|a| a.trimmable_bytes),
            top_trim_bytes: sum(|a| a.top_trim_bytes),
            free_chunk_median_bytes: weighted_median(arenas.iter().map(|a| {
                (
                    a.free_chunk_median_bytes,
                    a.fast_free_bytes + a.bin_free_bytes,
                )
            })),
            resident_bytes,
            fast_free_bytes: sum(|a| a.fast_free_bytes),
            bin_free_bytes: sum(|a| a.bin_free_bytes),
            top_bytes: sum(|a| a.top_bytes),
        }
    }
}

/// The value below which half the weight lies, of (value, weight) pairs; 0 for none.
pub fn weighted_median(items: impl Iterator<Item = (u64, u64)>) -> u64 {
    let mut v: Vec<(u64, u64)> = items.filter(|&(_, w)| w > 0).collect();
    v.sort_unstable();
    let total: u64 = v.iter().map(|&(_, w)| w).sum();
    let mut seen = 0;
    for (value, w) in v {
        seen += w;
        if 2 * seen >= total {
            return value;
        }
    }
    0
}
