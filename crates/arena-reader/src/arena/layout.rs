//! glibc's malloc structures as they lie in memory, per glibc version, on 64-bit
//! x86_64 and aarch64 (both little-endian, `SIZE_SZ` = 8, `MALLOC_ALIGNMENT` = 16, and
//! `__libc_lock_t` an `int` inside libc).
//!
//! Read from glibc's own sources (`malloc/malloc.c`, `malloc/arena.c`) at every
//! version from 2.26 to 2.42:
//! - `struct malloc_state`: `mutex` (int), `flags` (int), `have_fastchunks` (int, from
//!   2.27; 2.26 kept it as bit 0 of `flags`), `fastbinsY[NFASTBINS]`, `top`,
//!   `last_remainder`, `bins[NBINS * 2 - 2]`, `binmap[BINMAPSIZE]` (unsigned int),
//!   `next`, `next_free`, `attached_threads`, `system_mem`, `max_system_mem`.
//!   NFASTBINS = fastbin_index(request2size(80 * SIZE_SZ / 4)) + 1 = 10, NBINS = 128,
//!   BINMAPSIZE = 4. The development tree after 2.42 removes the fast bins from the
//!   struct ("malloc: Remove fastbin infrastructure"), so no later layout is assumed.
//! - `heap_info` (arena.c): `ar_ptr`, `prev`, `size`, `mprotect_size`, then from 2.35
//!   `pagesize`, padded so that `sizeof (heap_info) + 2 * SIZE_SZ` is a multiple of
//!   16: 32 bytes up to 2.34, 48 from 2.35. The arena's `malloc_state` follows it in
//!   an arena's first heap.
//! - chunks: `mchunk_prev_size`, `mchunk_size` (low bits PREV_INUSE 1, IS_MMAPPED 2,
//!   NON_MAIN_ARENA 4), then `fd`, `bk` (and `fd_nextsize`, `bk_nextsize` in large
//!   bins). From 2.32 a fast bin's `fd` is mangled ("safe-linking"): stored as
//!   `(&fd >> 12) ^ next`.
//! - `malloc_info` (2.31 and later) counts per arena: fast = the fast bins'
//!   `chunksize`, rest = `chunksize (top)` plus every binned chunk's
//!   `chunksize_nomask` (flag bits included). Before 2.31 it left the top chunk out.

use std::fmt;

/// Bytes in a `size_t` (`SIZE_SZ`).
pub const SIZE_SZ: u64 = 8;
/// `MALLOC_ALIGNMENT` on x86_64 and aarch64.
pub const ALIGNMENT: u64 = 16;
/// `MINSIZE`: the smallest chunk.
pub const MINSIZE: u64 = 32;
/// `CHUNK_HDR_SZ`: prev_size + size.
pub const CHUNK_HDR: u64 = 16;
/// `sizeof (struct malloc_chunk)`: prev_size, size, fd, bk, fd_nextsize, bk_nextsize.
pub const MALLOC_CHUNK: u64 = 48;
/// `HEAP_MAX_SIZE` on 64-bit: heaps are reserved this big and aligned to it.
pub const HEAP_MAX: u64 = 64 * 1024 * 1024;
pub const NFASTBINS: usize = 10;
pub const NBINS: usize = 128;
/// Flag bits in `mchunk_size`.
pub const PREV_INUSE: u64 = 1;
pub const SIZE_BITS: u64 = 7;
/// `NONCONTIGUOUS_BIT` in `malloc_state.flags`: the main arena gave up on brk.
pub const NONCONTIGUOUS: u32 = 2;

/// The newest glibc whose layout arena-sweep knows.
pub const NEWEST: (u32, u32) = (2, 42);
/// The oldest: tcache (2.26) changed what free memory the bins hold.
pub const OLDEST: (u32, u32) = (2, 26);

/// A 64-bit architecture arena-sweep reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        })
    }
}

/// Byte offsets of `struct malloc_state`'s fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLayout {
    pub mutex: u64,
    pub flags: u64,
    /// `None` in 2.26, where it is bit 0 of `flags`.
    pub have_fastchunks: Option<u64>,
    pub fastbins: u64,
    pub top: u64,
    pub last_remainder: u64,
    pub bins: u64,
    pub binmap: u64,
    pub next: u64,
    pub next_free: u64,
    pub attached_threads: u64,
    pub system_mem: u64,
    pub max_system_mem: u64,
    /// `sizeof (struct malloc_state)`.
    pub size: u64,
}

/// Everything version-dependent the walker needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub glibc: (u32, u32),
    pub arch: Arch,
    /// `sizeof (heap_info)`.
    pub heap_info: u64,
    pub state: StateLayout,
    /// Fast bin `fd` pointers are mangled (2.32 and later).
    pub safe_linking: bool,
}

/// Why a glibc version has no layout here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionProblem {
    Unparsable(String),
    TooOld(String),
    TooNew(String),
}

impl fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionProblem::Unparsable(v) => write!(f, "glibc version `{v}` is not MAJOR.MINOR"),
            VersionProblem::TooOld(v) => write!(
                f,
                "glibc {v} predates 2.26; arena-sweep knows the malloc_state layouts from 2.26 (tcache) on"
            ),
            VersionProblem::TooNew(v) => write!(
                f,
                "glibc {v} is newer than {}.{}, the last version whose malloc_state layout arena-sweep knows (glibc's development tree after 2.42 removes the fast bins from malloc_state), so its layout cannot be assumed",
                NEWEST.0, NEWEST.1
            ),
        }
    }
}

/// "2.36" -> (2, 36).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

impl Layout {
    pub fn new(version: &str, arch: Arch) -> Result<Layout, VersionProblem> {
        let v = parse_version(version).ok_or_else(|| VersionProblem::Unparsable(version.into()))?;
        if v < OLDEST {
            return Err(VersionProblem::TooOld(version.into()));
        }
        if v > NEWEST {
            return Err(VersionProblem::TooNew(version.into()));
        }
        Ok(Layout {
            glibc: v,
            arch,
            heap_info: if v >= (2, 35) { 48 } else { 32 },
            state: state_layout(v >= (2, 27)),
            safe_linking: v >= (2, 32),
        })
    }

    /// `bin_at (state, i)`: a fake chunk whose `fd` and `bk` are `bins[2i-2]`, `bins[2i-1]`.
    pub fn bin_at(&self, state: u64, i: usize) -> u64 {
        state + self.state.bins + (i as u64 - 1) * 2 * SIZE_SZ - 2 * SIZE_SZ
    }

    /// `initial_top`: the unsorted bin's fake chunk, the top of an arena that has no memory.
    pub fn initial_top(&self, state: u64) -> u64 {
        self.bin_at(state, 1)
    }

    /// The first chunk after a `malloc_state` that starts at `state` (as `_int_new_arena`
    /// places the first top chunk).
    pub fn first_chunk_after_state(&self, state: u64) -> u64 {
        align_up(state + self.state.size + CHUNK_HDR, ALIGNMENT) - CHUNK_HDR
    }

    /// The fast bin `fd` as stored -> the next chunk's address.
    pub fn reveal(&self, fd_field_addr: u64, stored: u64) -> u64 {
        if self.safe_linking {
            (fd_field_addr >> 12) ^ stored
        } else {
            stored
        }
    }
}

/// Offsets in field order, with C's alignment rules (ints 4, pointers and size_t 8).
fn state_layout(separate_have_fastchunks: bool) -> StateLayout {
    let mut off = 8; // mutex (int) + flags (int)
    let have_fastchunks = separate_have_fastchunks.then(|| {
        let at = off;
        off += 4;
        at
    });
    off = align_up(off, 8);
    let fastbins = off;
    off += NFASTBINS as u64 * 8;
    let top = off;
    let last_remainder = top + 8;
    let bins = last_remainder + 8;
    let binmap = bins + (NBINS as u64 * 2 - 2) * 8;
    let next = align_up(binmap + 4 * 4, 8);
    StateLayout {
        mutex: 0,
        flags: 4,
        have_fastchunks,
        fastbins,
        top,
        last_remainder,
        bins,
        binmap,
        next,
        next_free: next + 8,
        attached_threads: next + 16,
        system_mem: next + 24,
        max_system_mem: next + 32,
        size: next + 40,
    }
}

/// `fastbin_index (sz)` on 64-bit.
pub fn fastbin_index(size: u64) -> u64 {
    (size >> 4).wrapping_sub(2)
}

/// `bin_index (sz)` on 64-bit: the small or large bin a chunk of `size` belongs to.
pub fn bin_index(size: u64) -> usize {
    let i = if size < 1024 {
        size >> 4
    } else if (size >> 6) <= 48 {
        48 + (size >> 6)
    } else if (size >> 9) <= 20 {
        91 + (size >> 9)
    } else if (size >> 12) <= 10 {
        110 + (size >> 12)
    } else if (size >> 15) <= 4 {
        119 + (size >> 15)
    } else if (size >> 18) <= 2 {
        124 + (size >> 18)
    } else {
        126
    };
    i as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malloc_state_offsets_follow_the_c_layout() {
        // Hand-computed from the struct in glibc 2.36's malloc.c: mutex 0, flags 4,
        // have_fastchunks 8, fastbinsY 16..96, top 96, last_remainder 104, bins
        // 112..2144, binmap 2144..2160, next 2160 ... max_system_mem 2192.
        let l = Layout::new("2.36", Arch::X86_64).unwrap();
        let s = l.state;
        assert_eq!(
            (s.have_fastchunks, s.fastbins, s.top, s.bins, s.binmap),
            (Some(8), 16, 96, 112, 2144)
        );
        assert_eq!(
            (s.next, s.attached_threads, s.system_mem),
            (2160, 2176, 2184)
        );
        assert_eq!(s.size, 2200);
        assert_eq!(l.heap_info, 48);
        assert!(l.safe_linking);
        // 2.26: no have_fastchunks field, everything after flags moves up by 8.
        let old = Layout::new("2.26", Arch::Aarch64).unwrap();
        assert_eq!(old.state.have_fastchunks, None);
        assert_eq!((old.state.fastbins, old.state.top), (8, 88));
        assert_eq!(old.state.size, 2192);
        assert_eq!(old.heap_info, 32);
        assert!(!old.safe_linking);
        assert_eq!(Layout::new("2.34", Arch::X86_64).unwrap().heap_info, 32);
        assert_eq!(Layout::new("2.35", Arch::X86_64).unwrap().heap_info, 48);
        assert!(!Layout::new("2.31", Arch::X86_64).unwrap().safe_linking);
    }

    #[test]
    fn versions_outside_the_known_range_are_refused_with_the_reason() {
        assert!(matches!(
            Layout::new("2.25", Arch::X86_64),
            Err(VersionProblem::TooOld(_))
        ));
        let e = Layout::new("2.43", Arch::X86_64).unwrap_err();
        assert!(e.to_string().contains("removes the fast bins"), "{e}");
        assert!(matches!(
            Layout::new("two", Arch::X86_64),
            Err(VersionProblem::Unparsable(_))
        ));
        assert!(Layout::new("2.42", Arch::X86_64).is_ok());
    }

    #[test]
    fn bins_and_fast_bins_index_like_glibc() {
        // NFASTBINS = fastbin_index (request2size (160)) + 1 = fastbin_index (176) + 1.
        assert_eq!(fastbin_index(176) + 1, NFASTBINS as u64);
        assert_eq!(fastbin_index(32), 0);
        assert_eq!(bin_index(32), 2);
        assert_eq!(bin_index(1008), 63);
        assert_eq!(bin_index(1024), 64);
        // mtrim's psindex for 4 KiB pages.
        assert_eq!(bin_index(4096), 99);
        assert_eq!(bin_index(1 << 30), 126);
        let l = Layout::new("2.36", Arch::X86_64).unwrap();
        // bin_at (m, 1) is 16 bytes before bins[0]: its fd is bins[0].
        assert_eq!(l.bin_at(0x1000, 1) + 16, 0x1000 + l.state.bins);
        assert_eq!(l.first_chunk_after_state(0x1000) % 16, 0);
        assert!(l.first_chunk_after_state(0x1000) >= 0x1000 + l.state.size);
    }
}
