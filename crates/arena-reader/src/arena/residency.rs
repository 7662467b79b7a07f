//! What `malloc_trim(0)` would give back, in resident bytes.
//!
//! glibc's `mtrim` (malloc.c, the same from 2.26 to 2.42), per arena:
//! 1. `malloc_consolidate`: every fast-bin chunk merges with the free chunks next to
//!    it (and with top), so a run of adjacent free chunks becomes one chunk;
//! 2. for every chunk in the bins, `madvise (MADV_DONTNEED)` on the whole pages
//!    inside it, from the first page boundary at or after `chunk + sizeof (struct
//!    malloc_chunk)` (its header and list pointers stay), for `size & ~(page - 1)`
//!    bytes of what is left, if that is more than a page minus one;
//! 3. for the main arena only, `systrim`: the top beyond `MINSIZE + 1` bytes, in whole
//!    pages, goes back through `sbrk` if `[heap]` still ends where top ends. A
//!    non-main arena's top is not trimmed by `malloc_trim` (free does that, with
//!    `heap_trim`, once top passes `trim_threshold`).
//!
//! Only resident pages count (a page that was never touched or was already given
//! back returns nothing), so the ranges are checked against `/proc/PID/pagemap`.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::layout::{MALLOC_CHUNK, MINSIZE};
use super::memory::Fault;

/// The page ranges (start, end) malloc_trim would release for one arena.
pub fn trim_ranges(
    free: &[(u64, u64)],
    top: Option<(u64, u64)>,
    is_main: bool,
    brk_end: Option<u64>,
    page: u64,
) -> Vec<(u64, u64)> {
    let mut chunks: Vec<(u64, u64, bool)> = free.iter().map(|&(a, s)| (a, s, false)).collect();
    if let Some((a, s)) = top {
        chunks.push((a, s, true));
    }
    chunks.sort_unstable_by_key(|c| c.0);
    // Runs of adjacent free chunks: what consolidation leaves.
    let mut runs: Vec<(u64, u64, bool)> = Vec::new();
    for (a, s, is_top) in chunks {
        match runs.last_mut() {
            Some(r) if r.0.saturating_add(r.1) == a => {
                r.1 = r.1.saturating_add(s);
                r.2 |= is_top;
            }
            _ => runs.push((a, s, is_top)),
        }
    }
    let psm1 = page - 1;
    let mut out = Vec::new();
    for (start, size, has_top) in runs {
        let end = start.saturating_add(size);
        if has_top {
            if is_main && brk_end == Some(end) && size > MINSIZE + 1 {
                let extra = (size - MINSIZE - 1) & !psm1;
                if extra > 0 {
                    out.push((end - extra, end));
                }
            }
            continue;
        }
        if size <= psm1 + MALLOC_CHUNK {
            continue;
        }
        let paligned = (start + MALLOC_CHUNK + psm1) & !psm1;
        let left = size - (paligned - start);
        if left > psm1 {
            out.push((paligned, paligned + (left & !psm1)));
        }
    }
    out
}

/// The trim threshold the `trim-threshold-128k` profile sets.
pub const TRIM_THRESHOLD_128K: u64 = 128 * 1024;

/// The range of a non-main arena's top that `heap_trim` gives back at a trim
/// threshold of `threshold` (glibc's arena.c: a top of at least the threshold shrinks
/// by `ALIGN_DOWN(top - MINSIZE - 1 - top_pad, page)`, `top_pad` 0 by default), or
/// None when it keeps all of it.
pub fn top_trim_range(top: u64, size: u64, threshold: u64, page: u64) -> Option<(u64, u64)> {
    if size < threshold || size <= MINSIZE + 1 {
        return None;
    }
    let extra = (size - MINSIZE - 1) & !(page - 1);
    let end = top.checked_add(size)?;
    (extra > 0).then_some((end - extra, end))
}

/// Present bits of `/proc/PID/pagemap` for some address ranges.
pub struct Pagemap {
    page: u64,
    /// (start page number, one entry per page)
    ranges: Vec<(u64, Vec<u64>)>,
    /// Every page is resident (synthetic images in tests).
    all: bool,
}

const PRESENT: u64 = 1 << 63;

impl Pagemap {
    /// Read the entries of `ranges` (page-aligned or not; whole pages are read).
    pub fn read(pid: i32, ranges: &[(u64, u64)], page: u64) -> Result<Pagemap, Fault> {
        let f = File::open(format!("/proc/{pid}/pagemap")).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT | libc::ESRCH) => Fault::Gone,
            Some(errno @ (libc::EACCES | libc::EPERM)) => Fault::Denied { errno },
            errno => Fault::Other {
                errno: errno.unwrap_or(0),
            },
        })?;
        let mut out = Vec::new();
        for &(s, e) in ranges {
            let (first, last) = (s / page, e.div_ceil(page));
            if last <= first {
                continue;
            }
            let mut raw = vec![0u8; ((last - first) * 8) as usize];
            f.read_exact_at(&mut raw, first * 8)
                .map_err(|err| match err.raw_os_error() {
                    Some(libc::ESRCH) => Fault::Gone,
                    _ => Fault::Unmapped {
                        addr: s,
                        len: e.saturating_sub(s),
                    },
                })?;
            let entries = raw
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            out.push((first, entries));
        }
        out.sort_by_key(|r| r.0);
        Ok(Pagemap {
            page,
            ranges: out,
            all: false,
        })
    }

    /// A pagemap where every page is resident (for synthetic images).
    #[cfg(test)]
    pub fn all_resident(page: u64) -> Pagemap {
        Pagemap {
            page,
            ranges: Vec::new(),
            all: true,
        }
    }

    /// Resident bytes among the whole pages of `[start, end)` (pages outside the read
    /// ranges count as not resident).
    pub fn resident_bytes(&self, start: u64, end: u64) -> u64 {
        let (first, last) = (start / self.page, end / self.page);
        if self.all {
            return last.saturating_sub(first) * self.page;
        }
        let mut n = 0;
        for (rfirst, entries) in &self.ranges {
            let rlast = rfirst + entries.len() as u64;
            let (a, b) = (first.max(*rfirst), last.min(rlast));
            if a < b {
                n += entries[(a - rfirst) as usize..(b - rfirst) as usize]
                    .iter()
                    .filter(|&&e| e & PRESENT != 0)
                    .count() as u64;
            }
        }
        n * self.page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn a_free_chunk_gives_back_the_whole_pages_after_its_header() {
        // A 64 KiB free chunk at a page boundary + 0x10: pages from the first boundary
        // at or after chunk + 48 bytes.
        let a = 0x10_0010;
        let r = trim_ranges(&[(a, 65536)], None, false, None, PAGE);
        assert_eq!(r, vec![(0x10_1000, 0x10_1000 + 61440)]);
        // Too small to hold a page after its header.
        assert!(trim_ranges(&[(a, 4096 + 32)], None, false, None, PAGE).is_empty());
    }

    #[test]
    fn fast_chunks_merge_with_their_neighbours_first() {
        // Three chunks side by side, none of which holds a whole page alone.
        let free = [
            (0x20_0000, 2992),
            (0x20_0000 + 2992, 2000),
            (0x20_0000 + 4992, 3200),
        ];
        let r = trim_ranges(&free, None, false, None, PAGE);
        assert_eq!(r, vec![(0x20_1000, 0x20_2000)]);
    }

    #[test]
    fn only_the_main_arenas_top_is_trimmed_and_only_at_brk() {
        let top = Some((0x30_0000, 5 * PAGE));
        let end = 0x30_0000 + 5 * PAGE;
        // (5 pages - 33 bytes) rounded down: 4 pages, at the end.
        assert_eq!(
            trim_ranges(&[], top, true, Some(end), PAGE),
            vec![(end - 4 * PAGE, end)]
        );
        assert!(trim_ranges(&[], top, false, Some(end), PAGE).is_empty());
        assert!(trim_ranges(&[], top, true, Some(end + PAGE), PAGE).is_empty());
        // A free chunk right below top merges into it (fast chunk consolidation).
        let r = trim_ranges(&[(0x30_0000 - PAGE, PAGE)], top, true, Some(end), PAGE);
        assert_eq!(r, vec![(end - 5 * PAGE, end)]);
    }

    #[test]
    fn pagemap_counts_this_processs_touched_pages() {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let mut v = vec![0u8; 16 * page as usize];
        let base = (v.as_ptr() as u64).div_ceil(page) * page;
        // Touch 3 whole pages inside the buffer.
        for i in 0..3 {
            let off = (base - v.as_ptr() as u64 + i * page) as usize;
            v[off] = 1;
        }
        std::hint::black_box(&v);
        let pm =
            Pagemap::read(std::process::id() as i32, &[(base, base + 3 * page)], page).unwrap();
        assert_eq!(pm.resident_bytes(base, base + 3 * page), 3 * page);
        assert_eq!(pm.resident_bytes(base + 3 * page, base + 5 * page), 0);
    }
}
