//! Walk one arena: its fast bins, its bins, its top chunk, and every chunk of its
//! heaps, the way `malloc_info` and `malloc_trim` do, on any [`Memory`].
//!
//! Nothing read is trusted. Every pointer must be a 16-byte-aligned address inside one
//! of the arena's own spans before it is followed; every size must fit the span and
//! the bin it was found in; a bin's `bk` must point back to the chunk before. Every
//! list and the chunk walk share a step budget of two steps per 16 bytes of the
//! arena's spans, so a loop (or a list another thread is rewriting) ends the walk
//! instead of spinning. What fails becomes a problem charged to the figures it feeds;
//! the walk itself never fails, except when the process is gone or the kernel
//! refuses a read.

use super::layout::{
    bin_index, fastbin_index, Layout, CHUNK_HDR, MINSIZE, NBINS, NFASTBINS, PREV_INUSE, SIZE_BITS,
};
use super::memory::{Fault, Memory};
use super::snapshot::Figure;
use super::state::State;

/// Where an arena's chunks may lie: one heap (or `[heap]` for the main arena).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The lowest address a chunk may start at.
    pub start: u64,
    /// One past the last byte the arena uses here (`heap + heap_info.size`).
    pub end: u64,
    /// The first chunk, where a chunk walk starts; `None` when it is not known.
    pub first_chunk: Option<u64>,
    /// A walk from `first_chunk` that goes wrong is a problem (false for the main
    /// arena, whose first chunk is only presumed to be at the start of `[heap]`:
    /// a static program's TLS lies there first).
    pub first_chunk_certain: bool,
}

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walked {
    pub top_bytes: u64,
    pub fast_chunks: u64,
    pub fast_bytes: u64,
    pub bin_chunks: u64,
    pub bin_bytes: u64,
    /// The binned chunks' sizes with their flag bits, as malloc_info adds them.
    pub bin_bytes_nomask: u64,
    /// Every free chunk in the fast bins and bins: (address, size).
    pub free: Vec<(u64, u64)>,
    /// Free bytes and chunks the chunk walk saw (not counting top), when it ran.
    pub walked_free: Option<(u64, u64)>,
    pub problems: Vec<(Vec<Figure>, String)>,
}

/// Ends a walk: the process is gone or reading it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Gone,
    Denied { errno: i32 },
}

struct Walker<'a, M: Memory + ?Sized> {
    mem: &'a mut M,
    layout: &'a Layout,
    spans: &'a [Span],
    budget: u64,
    out: Walked,
}

/// Why a single read inside a walk failed: a problem, unless it ends the walk.
fn fault(f: Fault) -> Result<String, Stop> {
    match f {
        Fault::Gone => Err(Stop::Gone),
        Fault::Denied { errno } => Err(Stop::Denied { errno }),
        Fault::Unmapped { addr, .. } => Ok(format!("{addr:#x} is not readable")),
        Fault::Other { errno } => Ok(format!("a read failed (errno {errno})")),
    }
}

impl<M: Memory + ?Sized> Walker<'_, M> {
    fn span_of(&self, p: u64) -> Option<Span> {
        self.spans
            .iter()
            .copied()
            .find(|s| p >= s.start && p < s.end)
    }

    /// `p` is an aligned chunk address with at least `len` bytes inside a span.
    fn chunk_ok(&self, p: u64, len: u64) -> bool {
        p % 16 == 0
            && self
                .span_of(p)
                .is_some_and(|s| p.checked_add(len).is_some_and(|e| e <= s.end))
    }

    fn problem(&mut self, figures: &[Figure], msg: String) {
        self.out.problems.push((figures.to_vec(), msg));
    }

    fn step(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    /// Read a word; a fault is a problem charged to `figures` (Ok(None)).
    fn word(&mut self, addr: u64, figures: &[Figure]) -> Result<Option<u64>, Stop> {
        match self.mem.u64_at(addr) {
            Ok(v) => Ok(Some(v)),
            Err(f) => {
                let msg = fault(f)?;
                self.problem(figures, msg);
                Ok(None)
            }
        }
    }

    fn fast_bins(&mut self, st: &State) -> Result<(), Stop> {
        const F: &[Figure] = &[Figure::FastFreeBytes];
        for i in 0..NFASTBINS {
            let mut p = st.fastbins[i];
            while p != 0 {
                if !self.step() {
                    self.problem(
                        F,
                        format!("fast bin {i} is longer than the arena can hold (a loop)"),
                    );
                    break;
                }
                if !self.chunk_ok(p, MINSIZE) {
                    self.problem(
                        F,
                        format!("fast bin {i} points outside the arena's heaps ({p:#x})"),
                    );
                    break;
                }
                let Some(raw) = self.word(p + 8, F)? else {
                    break;
                };
                let size = raw & !SIZE_BITS;
                if fastbin_index(size) != i as u64 || !self.chunk_ok(p, size) {
                    self.problem(
                        F,
                        format!("fast bin {i} holds a chunk of {size} bytes at {p:#x}"),
                    );
                    break;
                }
                self.out.fast_chunks += 1;
                self.out.fast_bytes += size;
                self.out.free.push((p, size));
                let Some(stored) = self.word(p + 16, F)? else {
                    break;
                };
                p = self.layout.reveal(p + 16, stored);
            }
        }
        Ok(())
    }

    fn bins(&mut self, st: &State) -> Result<(), Stop> {
        const F: &[Figure] = &[Figure::BinFreeBytes];
        for i in 1..NBINS {
            let head = self.layout.bin_at(st.address, i);
            let (fd, bk) = st.bin(i);
            let (mut prev, mut p) = (head, fd);
            let mut whole = true;
            while p != head {
                if !self.step() {
                    self.problem(
                        F,
                        format!("bin {i} is longer than the arena can hold (a loop)"),
                    );
                    whole = false;
                    break;
                }
                if !self.chunk_ok(p, MINSIZE) {
                    self.problem(
                        F,
                        format!("bin {i} points outside the arena's heaps ({p:#x})"),
                    );
                    whole = false;
                    break;
                }
                let (Some(raw), Some(next), Some(back)) = (
                    self.word(p + 8, F)?,
                    self.word(p + 16, F)?,
                    self.word(p + 24, F)?,
                ) else {
                    whole = false;
                    break;
                };
                let size = raw & !SIZE_BITS;
                let wrong_bin = i != 1 && bin_index(size) != i;
                if size < MINSIZE || !self.chunk_ok(p, size) || wrong_bin || back != prev {
                    self.problem(
                        F,
                        format!(
                            "bin {i} holds a chunk at {p:#x} of {size} bytes that does not fit it"
                        ),
                    );
                    whole = false;
                    break;
                }
                self.out.bin_chunks += 1;
                self.out.bin_bytes += size;
                self.out.bin_bytes_nomask += raw;
                self.out.free.push((p, size));
                prev = p;
                p = next;
            }
            if whole && bk != prev {
                self.problem(
                    F,
                    format!("bin {i}'s last chunk is not the one its head names"),
                );
            }
        }
        Ok(())
    }

    fn top(&mut self, st: &State) -> Result<(), Stop> {
        const F: &[Figure] = &[Figure::TopBytes];
        if st.top == self.layout.initial_top(st.address) {
            // An arena that never got memory: its top is the unsorted bin's fake
            // chunk, whose size field is `last_remainder`.
            self.out.top_bytes = st.last_remainder & !SIZE_BITS;
            return Ok(());
        }
        if !self.chunk_ok(st.top, CHUNK_HDR) {
            self.problem(
                F,
                format!("the top chunk ({:#x}) is outside the arena's heaps", st.top),
            );
            return Ok(());
        }
        let Some(raw) = self.word(st.top + 8, F)? else {
            return Ok(());
        };
        let size = raw & !SIZE_BITS;
        let span = self.span_of(st.top).expect("checked by chunk_ok");
        if st.top.checked_add(size).is_none_or(|e| e > span.end) {
            self.problem(
                F,
                format!("the top chunk's size ({size}) runs past its heap"),
            );
            return Ok(());
        }
        self.out.top_bytes = size;
        Ok(())
    }

    /// Walk one span chunk by chunk; returns (free bytes, free chunks), or None when
    /// the walk could not be completed.
    fn chunks(&mut self, span: Span, top: u64) -> Result<Option<(u64, u64)>, Stop> {
        const F: &[Figure] = &[Figure::InUseBytes, Figure::BinFreeBytes];
        let Some(mut p) = span.first_chunk else {
            return Ok(None);
        };
        let has_top = top >= span.start && top < span.end;
        let (mut free_bytes, mut free_chunks) = (0u64, 0u64);
        let fail = |w: &mut Self, msg: String| {
            if span.first_chunk_certain {
                w.problem(F, msg);
            }
            Ok(None)
        };
        loop {
            if has_top && p == top {
                return Ok(Some((free_bytes, free_chunks)));
            }
            if !self.step() {
                return fail(self, "the chunk walk did not end (a loop)".into());
            }
            if p % 16 != 0 || p.checked_add(CHUNK_HDR).is_none_or(|e| e > span.end) {
                return fail(self, format!("the chunk walk left its heap at {p:#x}"));
            }
            let Some(raw) = self.word(p + 8, F)? else {
                return Ok(None);
            };
            let size = raw & !SIZE_BITS;
            if size == 0 && !has_top {
                // The fence post sysmalloc leaves at the end of a full heap.
                return Ok(Some((free_bytes, free_chunks)));
            }
            let next = p.saturating_add(size);
            if size < CHUNK_HDR || next.saturating_add(CHUNK_HDR) > span.end {
                return fail(
                    self,
                    format!("a chunk at {p:#x} of {size} bytes does not fit its heap"),
                );
            }
            let Some(next_raw) = self.word(next + 8, F)? else {
                return Ok(None);
            };
            if next_raw & PREV_INUSE == 0 {
                free_bytes += size;
                free_chunks += 1;
            }
            p = next;
        }
    }
}

/// Walk the arena whose `malloc_state` is `st`, with chunks confined to `spans`.
pub fn walk<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    st: &State,
    spans: &[Span],
) -> Result<Walked, Stop> {
    let bytes: u64 = spans.iter().map(|s| s.end.saturating_sub(s.start)).sum();
    let mut w = Walker {
        mem,
        layout,
        spans,
        // At most one chunk per 16 bytes and one free chunk per 32: a list or walk
        // that needs more steps than that is going round in a loop.
        budget: bytes / 8 + 64,
        out: Walked::default(),
    };
    w.top(st)?;
    w.fast_bins(st)?;
    w.bins(st)?;
    let mut total = Some((0u64, 0u64));
    for span in spans {
        match (w.chunks(*span, st.top)?, total) {
            (Some((b, c)), Some((tb, tc))) => total = Some((tb + b, tc + c)),
            _ => total = None,
        }
    }
    if let Some((b, c)) = total {
        if (b, c) != (w.out.bin_bytes, w.out.bin_chunks) && w.out.problems.is_empty() {
            w.problem(
                &[Figure::BinFreeBytes, Figure::InUseBytes],
                format!(
                    "the heaps hold {c} free chunk(s) of {b} bytes, the bins {} of {}",
                    w.out.bin_chunks, w.out.bin_bytes
                ),
            );
        }
    }
    w.out.walked_free = total;
    Ok(w.out)
}
