//! Classify a process's memory from `/proc/<pid>/smaps` into the regions the report
//! speaks of: glibc arena heaps, the main `[heap]`, thread stacks, file-backed
//! memory and other anonymous memory.
//!
//! How each region is recognised, from outside the process:
//! - **Arena heap** (glibc non-main arena, 64-bit): glibc reserves `HEAP_MAX_SIZE` =
//!   64 MiB aligned to 64 MiB with `PROT_NONE` and makes the used part read-write
//!   with `mprotect`. So: an anonymous private `rw` mapping that starts on a 64 MiB
//!   boundary, either 64 MiB long, or shorter and followed directly by an anonymous
//!   `---p` mapping reaching the end of the 64 MiB slot. The `rw` part is the heap's
//!   committed size; its resident bytes are the heap's RSS.
//! - **Main heap**: the `[heap]` mapping (brk), used by the main arena.
//! - **Thread stack**: glibc maps a thread's stack with a guard below it, so an
//!   anonymous `rw` mapping directly above an anonymous `---p` mapping of at most
//!   64 KiB (the guard) is a stack; the main thread's is `[stack]`.
//! - **Python allocator** (free-threaded builds): CPython's mimalloc reserves its
//!   arenas as large read-write anonymous mappings aligned to its 32 MiB segment
//!   size (1 GiB by default). So: an anonymous `rw` mapping aligned to 32 MiB and at
//!   least 64 MiB long that is not an arena heap. pymalloc's 1 MiB arenas (GIL builds)
//!   cannot be told apart from outside, because the kernel merges them with
//!   neighbouring anonymous mappings; the driver reports them from inside the process
//!   (`sys._debugmallocstats`) as a cross-check, and smaps counts them as other
//!   anonymous memory.
//! - **File-backed**: any mapping with a path (libraries, the interpreter).
//! - **Other anonymous**: everything else (mmapped chunks, Python's allocators,
//!   mappings the classifier cannot tell apart).
//!
//! The classifier works on plain [`Mapping`]s so that it can be tested on captured
//! smaps files and fuzzed without a live process.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

/// glibc's `HEAP_MAX_SIZE` on 64-bit: 2 * DEFAULT_MMAP_THRESHOLD_MAX (32 MiB).
pub const ARENA_HEAP_SIZE: u64 = 64 * 1024 * 1024;
/// mimalloc's segment alignment on 64-bit (MI_SEGMENT_SIZE in CPython's mimalloc).
const MIMALLOC_SEGMENT: u64 = 32 * 1024 * 1024;
/// Largest `---p` mapping taken for a stack guard.
const MAX_GUARD: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Anonymous,
    Heap,
    Stack,
    File,
    /// vdso, vvar, vsyscall and other pseudo-paths.
    Special,
}

/// One line of smaps with the fields the classifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub private: bool,
    pub kind: Kind,
    pub rss_bytes: u64,
}

impl Mapping {
    fn len(&self) -> u64 {
        self.end - self.start
    }
    fn is_anon_rw(&self) -> bool {
        self.kind == Kind::Anonymous && self.read && self.write && self.private
    }
    fn is_anon_none(&self) -> bool {
        self.kind == Kind::Anonymous && !self.read && !self.write
    }
}

/// Where resident memory sits, in KiB, plus counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regions {
    /// Arena heaps found (64 MiB-aligned reservations).
    pub arena_heaps: u32,
    /// Resident bytes of those heaps, in KiB.
    pub arena_heap_rss_kib: u64,
    /// Their committed (read-write) size, in KiB.
    pub arena_heap_committed_kib: u64,
    /// `[heap]`: the main arena.
    pub main_heap_rss_kib: u64,
    /// Thread stacks found (not counting the main thread's `[stack]`).
    pub thread_stacks: u32,
    /// Resident bytes of every stack, the main one included, in KiB.
    pub stack_rss_kib: u64,
    /// Python's own allocator regions that can be told apart (mimalloc), in KiB.
    #[serde(default)]
    pub python_alloc_rss_kib: u64,
    /// Resident bytes of file-backed mappings, in KiB.
    pub file_rss_kib: u64,
    /// Every other anonymous mapping, in KiB.
    pub anon_other_rss_kib: u64,
    /// Sum of every mapping's Rss, in KiB.
    pub total_rss_kib: u64,
}

impl Regions {
    /// `self - before`, region by region (KiB may go negative; counts too).
    pub fn delta(&self, before: &Regions) -> RegionDelta {
        let d = |a: u64, b: u64| a as i64 - b as i64;
        RegionDelta {
            arena_heaps: self.arena_heaps as i64 - before.arena_heaps as i64,
            arena_heap_kib: d(self.arena_heap_rss_kib, before.arena_heap_rss_kib),
            main_heap_kib: d(self.main_heap_rss_kib, before.main_heap_rss_kib),
            thread_stacks: self.thread_stacks as i64 - before.thread_stacks as i64,
            stack_kib: d(self.stack_rss_kib, before.stack_rss_kib),
            python_alloc_kib: d(self.python_alloc_rss_kib, before.python_alloc_rss_kib),
            file_kib: d(self.file_rss_kib, before.file_rss_kib),
            anon_other_kib: d(self.anon_other_rss_kib, before.anon_other_rss_kib),
            total_kib: d(self.total_rss_kib, before.total_rss_kib),
        }
    }
}

/// Where a delta went, region by region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionDelta {
    pub arena_heaps: i64,
    pub arena_heap_kib: i64,
    pub main_heap_kib: i64,
    pub thread_stacks: i64,
    pub stack_kib: i64,
    pub python_alloc_kib: i64,
    pub file_kib: i64,
    pub anon_other_kib: i64,
    pub total_kib: i64,
}

/// Classify mappings (in address order, as smaps lists them).
pub fn classify(maps: &[Mapping]) -> Regions {
    let mut r = Regions::default();
    let mut i = 0;
    while i < maps.len() {
        let m = &maps[i];
        let rss = m.rss_bytes / 1024;
        r.total_rss_kib += rss;
        let prev = i.checked_sub(1).map(|p| &maps[p]);
        if is_heap_slot(maps, i) {
            r.arena_heaps += 1;
            r.arena_heap_rss_kib += rss;
            r.arena_heap_committed_kib += m.len() / 1024;
        } else {
            match m.kind {
                Kind::Heap => r.main_heap_rss_kib += rss,
                Kind::Stack => r.stack_rss_kib += rss,
                Kind::File => r.file_rss_kib += rss,
                Kind::Anonymous | Kind::Special => {
                    let guarded = m.is_anon_rw()
                        && prev.is_some_and(|p| {
                            p.is_anon_none() && p.end == m.start && p.len() <= MAX_GUARD
                        });
                    let mimalloc = m.is_anon_rw()
                        && m.start % MIMALLOC_SEGMENT == 0
                        && m.len() >= 2 * MIMALLOC_SEGMENT;
                    if guarded {
                        r.thread_stacks += 1;
                        r.stack_rss_kib += rss;
                    } else if mimalloc {
                        r.python_alloc_rss_kib += rss;
                    } else {
                        r.anon_other_rss_kib += rss;
                    }
                }
            }
        }
        i += 1;
    }
    r
}

/// Is `maps[i]` the read-write part of a 64 MiB-aligned arena heap reservation?
fn is_heap_slot(maps: &[Mapping], i: usize) -> bool {
    let m = &maps[i];
    let next = maps.get(i + 1);
    m.is_anon_rw() && m.start % ARENA_HEAP_SIZE == 0 && {
        let slot_end = m.start + ARENA_HEAP_SIZE;
        m.len() == ARENA_HEAP_SIZE
            || (m.len() < ARENA_HEAP_SIZE
                && next.is_some_and(|n| n.is_anon_none() && n.start == m.end && n.end >= slot_end))
    }
}

/// The arena heaps among `maps` (in address order), as (start, end of the read-write
/// part): where `arena::read` looks for glibc's `heap_info` headers.
pub fn arena_heap_slots(maps: &[Mapping]) -> Vec<(u64, u64)> {
    (0..maps.len())
        .filter(|&i| is_heap_slot(maps, i))
        .map(|i| (maps[i].start, maps[i].end))
        .collect()
}

/// Where glibc heap headers may be, for the arena reader: the arena heaps, plus a
/// heap whose read-write head the kernel merged with an adjacent read-write anonymous
/// mapping below it (another allocator's, e.g. an extension's jemalloc), which smaps
/// then shows unaligned: its slot starts at the last 64 MiB boundary inside the
/// merged mapping, with the heap's PROT_NONE tail right after. The reader checks each
/// candidate's `heap_info` before believing it; the region split counts only
/// [`arena_heap_slots`], whose RSS smaps gives apart.
pub fn arena_heap_candidates(maps: &[Mapping]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        if is_heap_slot(maps, i) {
            out.push((m.start, m.end));
            continue;
        }
        let Some(next) = maps.get(i + 1) else {
            continue;
        };
        if !(m.is_anon_rw() && next.is_anon_none() && next.start == m.end) {
            continue;
        }
        let a = (m.end - 1) & !(ARENA_HEAP_SIZE - 1);
        if a > m.start && next.end >= a + ARENA_HEAP_SIZE {
            out.push((a, m.end));
        }
    }
    out
}

/// Convert procfs's parsed smaps into [`Mapping`]s.
pub fn from_procfs(maps: &procfs::process::MemoryMaps) -> Vec<Mapping> {
    use procfs::process::{MMPermissions, MMapPath};
    maps.0
        .iter()
        .map(|m| Mapping {
            start: m.address.0,
            end: m.address.1,
            read: m.perms.contains(MMPermissions::READ),
            write: m.perms.contains(MMPermissions::WRITE),
            private: m.perms.contains(MMPermissions::PRIVATE),
            kind: match &m.pathname {
                MMapPath::Anonymous => Kind::Anonymous,
                MMapPath::Heap => Kind::Heap,
                MMapPath::Stack | MMapPath::TStack(_) => Kind::Stack,
                MMapPath::Path(_) | MMapPath::Vsys(_) => Kind::File,
                _ => Kind::Special,
            },
            rss_bytes: m.extension.map.get("Rss").copied().unwrap_or(0),
        })
        .collect()
}

/// Parse smaps text (a live file or a captured fixture).
///
/// Only what the classifier needs is read: each mapping's header line (range,
/// permissions, path kind) and its `Rss:` line. A run reads smaps twice while its
/// child waits, so this is on the measured path: a general parser (procfs's, which
/// the tests keep as the reference) costs several times more.
pub fn parse<R: BufRead>(mut r: R) -> Result<Vec<Mapping>, String> {
    let mut text = Vec::with_capacity(64 * 1024);
    r.read_to_end(&mut text).map_err(|e| e.to_string())?;
    parse_bytes(&text)
}

/// [`parse`] over the whole text.
pub fn parse_bytes(text: &[u8]) -> Result<Vec<Mapping>, String> {
    let mut out: Vec<Mapping> = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"Rss:") {
            let m = out
                .last_mut()
                .ok_or_else(|| format!("line {}: Rss before any mapping", i + 1))?;
            m.rss_bytes = kib_field(rest).ok_or_else(|| format!("line {}: bad Rss", i + 1))? * 1024;
            continue;
        }
        // A header starts with a hex range; a field line with a name and ':'.
        let first = line.split(|&b| b == b' ').next().unwrap_or_default();
        if !first.contains(&b'-') || first.ends_with(b":") {
            continue;
        }
        out.push(header(line).ok_or_else(|| {
            format!(
                "line {}: not a mapping header: {:?}",
                i + 1,
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )
        })?);
    }
    Ok(out)
}

/// "   1234 kB" -> 1234.
fn kib_field(rest: &[u8]) -> Option<u64> {
    let t = std::str::from_utf8(rest).ok()?.trim();
    t.strip_suffix("kB")?.trim().parse().ok()
}

fn hex(b: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

/// `start-end perms offset dev inode [path]`.
fn header(line: &[u8]) -> Option<Mapping> {
    let mut fields = line.splitn(6, |&b| b == b' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let (_offset, _dev, _inode) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields
        .next()
        .map(|p| p.trim_ascii_start())
        .unwrap_or_default();
    let dash = range.iter().position(|&b| b == b'-')?;
    let (start, end) = (hex(&range[..dash])?, hex(&range[dash + 1..])?);
    if perms.len() < 4 || end < start {
        return None;
    }
    let kind = match path {
        b"" => Kind::Anonymous,
        b"[heap]" => Kind::Heap,
        p if p == b"[stack]" || p.starts_with(b"[stack:") => Kind::Stack,
        p if p.starts_with(b"/") => Kind::File,
        _ => Kind::Special,
    };
    Some(Mapping {
        start,
        end,
        read: perms[0] == b'r',
        write: perms[1] == b'w',
        private: perms[3] == b'p',
        kind,
        rss_bytes: 0,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fixture_tests {
    //! smaps captured from real processes on this project's machines (Debian 12,
    //! glibc 2.36, 2 CPUs): CPython 3.13.5 with arena_poc after 4 Python threads x 5
    //! calls x 8 Rust threads of pattern `seed`. malloc_info in the same process counted
    //! the arenas given in each test (it includes the main arena, which lives in [heap]).
    use super::*;

    fn regions(name: &str) -> Regions {
        let path = format!("{}/tests/fixtures/proc/{name}", env!("CARGO_MANIFEST_DIR"));
        let file = std::fs::File::open(&path).unwrap();
        classify(&parse(std::io::BufReader::new(file)).unwrap())
    }

    #[test]
    fn free_threaded_build_reaches_the_two_cpu_arena_cap() {
        // malloc_info: 16 arenas = main + 15 heaps (cap 8 x 2 CPUs).
        let r = regions("smaps-nogil-done.txt");
        assert_eq!(r.arena_heaps, 15);
        // mimalloc's 1 GiB reservation at 0x21cf4000000, 7268 KiB resident.
        assert_eq!(r.python_alloc_rss_kib, 7268);
        assert!(r.arena_heap_rss_kib > 0);
        assert!(r.main_heap_rss_kib > 0);
    }

    #[test]
    fn gil_build_uses_fewer_arenas() {
        // malloc_info: 5 arenas = main + 4 heaps.
        let r = regions("smaps-gil-done.txt");
        assert_eq!(r.arena_heaps, 4);
        // pymalloc's arenas merge into other anonymous mappings: nothing identified.
        assert_eq!(r.python_alloc_rss_kib, 0);
    }

    #[test]
    fn arena_max_1_leaves_no_arena_heaps() {
        // malloc_info: 1 arena, the main one.
        let r = regions("smaps-nogil-arena-max-1-done.txt");
        assert_eq!(r.arena_heaps, 0);
        assert_eq!(r.arena_heap_rss_kib, 0);
    }

    #[test]
    fn regions_add_up_to_the_total() {
        for f in [
            "smaps-nogil-done.txt",
            "smaps-gil-done.txt",
            "smaps-nogil-arena-max-1-done.txt",
        ] {
            let r = regions(f);
            let sum = r.arena_heap_rss_kib
                + r.main_heap_rss_kib
                + r.stack_rss_kib
                + r.python_alloc_rss_kib
                + r.file_rss_kib
                + r.anon_other_rss_kib;
            assert_eq!(sum, r.total_rss_kib, "{f}");
        }
    }
}
