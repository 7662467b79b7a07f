//! One `struct malloc_state`, decoded from its bytes with a [`Layout`], and the shape
//! test that finds the main arena in libc's writable data.

use super::layout::{Layout, NBINS, NFASTBINS};

/// The fields of a `malloc_state` the reader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Where the struct is in the target.
    pub address: u64,
    pub mutex: u32,
    pub flags: u32,
    pub have_fastchunks: u32,
    pub fastbins: [u64; NFASTBINS],
    pub top: u64,
    pub last_remainder: u64,
    /// `bins[NBINS * 2 - 2]`: fd, bk of bin 1, then of bin 2, ...
    pub bins: Vec<u64>,
    pub next: u64,
    pub next_free: u64,
    pub attached_threads: u64,
    pub system_mem: u64,
    pub max_system_mem: u64,
}

fn u32_at(b: &[u8], off: u64) -> u32 {
    let o = off as usize;
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

impl State {
    /// Decode `bytes` (at least `layout.state.size` long) read at `address`.
    pub fn parse(layout: &Layout, address: u64, bytes: &[u8]) -> State {
        let s = &layout.state;
        assert!(bytes.len() as u64 >= s.size, "short malloc_state");
        let mut fastbins = [0u64; NFASTBINS];
        for (i, f) in fastbins.iter_mut().enumerate() {
            *f = u64_at(bytes, s.fastbins + 8 * i as u64);
        }
        let bins = (0..(NBINS * 2 - 2) as u64)
            .map(|i| u64_at(bytes, s.bins + 8 * i))
            .collect();
        let flags = u32_at(bytes, s.flags);
        State {
            address,
            mutex: u32_at(bytes, s.mutex),
            flags,
            have_fastchunks: match s.have_fastchunks {
                Some(off) => u32_at(bytes, off),
                None => flags & 1,
            },
            fastbins,
            top: u64_at(bytes, s.top),
            last_remainder: u64_at(bytes, s.last_remainder),
            bins,
            next: u64_at(bytes, s.next),
            next_free: u64_at(bytes, s.next_free),
            attached_threads: u64_at(bytes, s.attached_threads),
            system_mem: u64_at(bytes, s.system_mem),
            max_system_mem: u64_at(bytes, s.max_system_mem),
        }
    }

    /// The bin list heads: (fd, bk) of bin `i` (1..NBINS).
    pub fn bin(&self, i: usize) -> (u64, u64) {
        (self.bins[2 * (i - 1)], self.bins[2 * (i - 1) + 1])
    }

    /// Plausible as the main arena, whose chunks lie in `brk` (the `[heap]` mapping,
    /// if any): a lock word glibc's low-level lock can hold, known flag bits only,
    /// `max_system_mem >= system_mem`, and every bin head, fast bin head and the top
    /// either pointing into `[heap]` (16-byte aligned) or, for empty bins and an arena
    /// that never got memory, at the arena itself. `self_ring` also asks that `next`
    /// points to itself, the shape of a process that never made a second arena.
    pub fn looks_like_main(
        &self,
        layout: &Layout,
        brk: Option<(u64, u64)>,
        self_ring: bool,
    ) -> bool {
        if self_ring && self.next != self.address {
            return false;
        }
        if self.mutex > 2 || self.flags & !7 != 0 || self.have_fastchunks > 1 {
            return false;
        }
        if self.max_system_mem < self.system_mem || self.attached_threads > 1 << 24 {
            return false;
        }
        let in_brk = |p: u64| p % 16 == 0 && brk.is_some_and(|(s, e)| p >= s && p < e);
        let initial_top = layout.initial_top(self.address);
        if !(self.top == initial_top || in_brk(self.top)) {
            return false;
        }
        if self.top == initial_top && self.system_mem != 0 {
            return false;
        }
        if let Some((s, e)) = brk {
            if self.system_mem > e - s {
                return false;
            }
        } else if self.system_mem != 0 {
            return false;
        }
        if !self.fastbins.iter().all(|&p| p == 0 || in_brk(p)) {
            return false;
        }
        (1..NBINS).all(|i| {
            let own = layout.bin_at(self.address, i);
            let (fd, bk) = self.bin(i);
            (fd == own || in_brk(fd)) && (bk == own || in_brk(bk))
        })
    }

    /// Bytes that differ between two reads of the same arena, as the figures they feed.
    pub fn moved(&self, later: &State) -> Vec<super::snapshot::Figure> {
        use super::snapshot::Figure;
        let mut out = Vec::new();
        if self.fastbins != later.fastbins {
            out.push(Figure::FastFreeBytes);
        }
        if self.bins != later.bins {
            out.push(Figure::BinFreeBytes);
        }
        if self.top != later.top {
            out.push(Figure::TopBytes);
        }
        if self.system_mem != later.system_mem {
            out.push(Figure::SystemMemBytes);
        }
        if self.attached_threads != later.attached_threads {
            out.push(Figure::AttachedThreads);
        }
        out
    }
}
