//! Synthetic process images for the walker's tests: one non-main arena in a 64 MiB-
//! aligned heap, laid out chunk by chunk as glibc 2.36 lays it out, and a main arena
//! in a "libc data" region that has never had memory (its top is `initial_top`).

use super::layout::{bin_index, fastbin_index, Arch, Layout, HEAP_MAX, MINSIZE, NBINS};
use super::memory::Image;
use super::target::Maps;

/// What a chunk of the synthetic heap is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InUse,
    /// Free, in its small or large bin.
    Binned,
    /// Free, in its fast bin (looks in use to its neighbour).
    Fast,
}

/// A built image and where things are in it.
pub struct Synth {
    pub layout: Layout,
    pub image: Image,
    pub maps: Maps,
    pub heap: u64,
    pub heap_size: u64,
    pub state: u64,
    pub main: u64,
    pub top: u64,
    /// (address, size, kind) of every chunk below top.
    pub chunks: Vec<(u64, u64, Kind)>,
}

pub const HEAP: u64 = 0x7f00_0000_0000 + 3 * HEAP_MAX;
const DATA: u64 = 0x7f80_0000_0000;
const DATA_LEN: u64 = 0x2000;
const MAIN_OFF: u64 = 0x100;

impl Synth {
    /// A heap of `heap_size` bytes holding `chunks` (sizes multiples of 16, >= 32)
    /// after the arena's `malloc_state`, then top up to the end.
    pub fn new(chunks: &[(u64, Kind)], heap_size: u64) -> Synth {
        let layout = Layout::new("2.36", Arch::X86_64).expect("known");
        let (heap, state, main) = (HEAP, HEAP + layout.heap_info, DATA + MAIN_OFF);
        let mut s = Synth {
            layout,
            image: Image::new(),
            maps: Maps {
                heap_slots: vec![(heap, heap + heap_size)],
                brk: None,
                data: vec![(DATA, DATA + DATA_LEN)],
            },
            heap,
            heap_size,
            state,
            main,
            top: 0,
            chunks: Vec::new(),
        };
        s.image.add(heap, vec![0; heap_size as usize]);
        s.image.add(DATA, vec![0; DATA_LEN as usize]);
        // heap_info: ar_ptr, prev, size, mprotect_size, pagesize.
        for (i, v) in [state, 0, heap_size, heap_size, 4096]
            .into_iter()
            .enumerate()
        {
            s.image.put_u64(heap + 8 * i as u64, v);
        }
        let mut p = layout.first_chunk_after_state(state);
        for &(size, kind) in chunks {
            assert!(size >= MINSIZE && size % 16 == 0);
            s.chunks.push((p, size, kind));
            p += size;
        }
        s.top = p;
        assert!(p + MINSIZE <= heap + heap_size, "chunks overflow the heap");
        s.write_chunks();
        s.write_state(state, heap_size, main, true);
        s.write_state(main, 0, state, false);
        s
    }

    fn write_chunks(&mut self) {
        let mut prev_free = false;
        for &(p, size, kind) in &self.chunks.clone() {
            let flags = if prev_free { 0 } else { 1 } | 4;
            self.image.put_u64(p + 8, size | flags);
            prev_free = kind == Kind::Binned;
            if prev_free {
                // The footer: the next chunk's prev_size.
                self.image.put_u64(p + size, size);
            }
        }
        let top_size = self.heap + self.heap_size - self.top;
        self.image
            .put_u64(self.top + 8, top_size | if prev_free { 0 } else { 1 });
    }

    /// Write a malloc_state at `at`: the non-main arena (with bins and fast bins from
    /// the chunks) or the main arena (empty).
    fn write_state(&mut self, at: u64, system_mem: u64, next: u64, with_chunks: bool) {
        let l = self.layout;
        let s = l.state;
        self.image.put_u64(at + s.next, next);
        self.image.put_u64(at + s.attached_threads, 1);
        self.image.put_u64(at + s.system_mem, system_mem);
        self.image.put_u64(at + s.max_system_mem, system_mem);
        self.image.put_u64(
            at + s.top,
            if with_chunks {
                self.top
            } else {
                l.initial_top(at)
            },
        );
        let mut bins: Vec<Vec<u64>> = vec![Vec::new(); NBINS];
        let mut fast: Vec<Vec<u64>> = vec![Vec::new(); 10];
        if with_chunks {
            for &(p, size, kind) in &self.chunks {
                match kind {
                    Kind::Binned => bins[bin_index(size)].push(p),
                    Kind::Fast => fast[fastbin_index(size) as usize].push(p),
                    Kind::InUse => {}
                }
            }
        }
        for (i, list) in fast.iter().enumerate() {
            let head = list.first().copied().unwrap_or(0);
            self.image.put_u64(at + s.fastbins + 8 * i as u64, head);
            for (j, &p) in list.iter().enumerate() {
                let next = list.get(j + 1).copied().unwrap_or(0);
                self.image.put_u64(p + 16, ((p + 16) >> 12) ^ next);
            }
        }
        for (i, list) in bins.iter().enumerate().skip(1) {
            let head = l.bin_at(at, i);
            let first = list.first().copied().unwrap_or(head);
            let last = list.last().copied().unwrap_or(head);
            self.image.put_u64(head + 16, first);
            self.image.put_u64(head + 24, last);
            for (j, &p) in list.iter().enumerate() {
                let fd = list.get(j + 1).copied().unwrap_or(head);
                let bk = if j == 0 { head } else { list[j - 1] };
                self.image.put_u64(p + 16, fd);
                self.image.put_u64(p + 24, bk);
            }
        }
    }

    /// What the fast bins, bins and top hold: (fast bytes, fast chunks, binned bytes,
    /// binned chunks, top bytes).
    pub fn expected(&self) -> (u64, u64, u64, u64, u64) {
        let sum = |k: Kind| {
            let c: Vec<u64> = self
                .chunks
                .iter()
                .filter(|c| c.2 == k)
                .map(|c| c.1)
                .collect();
            (c.iter().sum::<u64>(), c.len() as u64)
        };
        let (fb, fc) = sum(Kind::Fast);
        let (bb, bc) = sum(Kind::Binned);
        (fb, fc, bb, bc, self.heap + self.heap_size - self.top)
    }
}

#[cfg(test)]
mod tests {
    use super::super::residency::Pagemap;
    use super::super::{walk_all, Attempt, AttemptError, Figure};
    use super::*;

    pub(crate) fn read(s: &mut Synth) -> Result<Attempt, AttemptError> {
        let mut pm = |_: &[(u64, u64)]| Ok(Some(Pagemap::all_resident(4096)));
        let maps = s.maps.clone();
        walk_all(&mut s.image, &s.layout, &maps, 4096, true, &mut pm)
    }

    fn mixed() -> Vec<(u64, Kind)> {
        let mut c = Vec::new();
        for i in 0..40u64 {
            c.push((32 + 16 * (i % 8), Kind::InUse));
            c.push(match i % 4 {
                0 => (48, Kind::Fast),
                1 => (96 + 16 * (i % 5), Kind::Fast),
                2 => (1040 + 512 * i, Kind::Binned),
                _ => (20_480, Kind::Binned),
            });
        }
        c
    }

    #[test]
    fn a_synthetic_arena_is_read_exactly() {
        let mut s = Synth::new(&mixed(), 1 << 20);
        let (fb, fc, bb, bc, top) = s.expected();
        let a = read(&mut s).unwrap_or_else(|_| panic!("unreadable"));
        assert_eq!(a.arenas.len(), 2);
        let (main, arena) = (&a.arenas[0], &a.arenas[1]);
        assert!(main.is_main && !arena.is_main);
        assert_eq!(main.address, s.main);
        assert_eq!(arena.address, s.state);
        assert_eq!((main.system_mem_bytes, main.free_bytes), (0, 0));
        assert_eq!(arena.problems, Vec::<String>::new());
        assert_eq!(
            (
                arena.fast_free_bytes,
                arena.fast_free_chunks,
                arena.bin_free_bytes,
                arena.bin_free_chunks,
                arena.top_bytes
            ),
            (fb, fc, bb, bc, top)
        );
        // malloc_info adds each binned chunk's flag bits (PREV_INUSE | NON_MAIN_ARENA).
        assert_eq!(arena.free_bytes, fb + bb + top + 5 * bc);
        assert_eq!(arena.in_use_bytes, s.heap_size - fb - bb - top);
        assert_eq!(arena.heaps.len(), 1);
        assert_eq!(arena.heaps[0].address, s.heap);
        // Every 20 KiB binned chunk gives back its whole pages; nothing else can.
        assert!(
            arena.trimmable_bytes >= 10 * 16384,
            "{}",
            arena.trimmable_bytes
        );
        assert!(arena.trimmable_bytes <= bb);
    }

    #[test]
    fn a_loop_in_a_bin_is_a_problem_not_a_hang() {
        let mut s = Synth::new(&mixed(), 1 << 20);
        let binned: Vec<u64> = s
            .chunks
            .iter()
            .filter(|c| c.2 == Kind::Binned)
            .map(|c| c.0)
            .collect();
        // The last 20 KiB chunk points back at itself, with a matching bk.
        let p = *binned
            .iter()
            .rev()
            .find(|&&p| s.chunks.iter().any(|c| c.0 == p && c.1 == 20_480))
            .unwrap();
        s.image.put_u64(p + 16, p);
        s.image.put_u64(p + 24, p);
        let a = read(&mut s).unwrap_or_else(|_| panic!("unreadable"));
        let arena = &a.arenas[1];
        assert!(
            arena.inconsistent.contains(&Figure::BinFreeBytes),
            "{arena:?}"
        );
        assert!(!arena.problems.is_empty());
    }

    #[test]
    fn pointers_outside_the_heap_are_refused() {
        let mut s = Synth::new(&mixed(), 1 << 20);
        let fast = s.chunks.iter().find(|c| c.2 == Kind::Fast).unwrap().0;
        // A fast chunk whose (mangled) next points into libc's data.
        s.image.put_u64(fast + 16, ((fast + 16) >> 12) ^ s.main);
        let a = read(&mut s).unwrap_or_else(|_| panic!("unreadable"));
        let arena = &a.arenas[1];
        assert!(
            arena.inconsistent.contains(&Figure::FastFreeBytes),
            "{arena:?}"
        );
        assert!(
            arena.problems.iter().any(|p| p.contains("outside")),
            "{arena:?}"
        );
    }
}
