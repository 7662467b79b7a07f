//! Memory images: the seam between the walker and a process.
//!
//! The walker reads through [`Memory`] ("N bytes at this address"), so it runs the
//! same on a live process ([`ProcessMemory`]: `process_vm_readv`, falling back to
//! `/proc/PID/mem` where a seccomp filter refuses the system call), on a cache of one
//! ([`BlockCache`]: pages read on first use, more at once while the walk runs through
//! a heap, so that walking 100,000 chunks costs a few hundred system calls instead of
//! 100,000), and on synthetic images
//! ([`Image`]) that the fuzz tests build and corrupt.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

/// Why bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Nothing readable is mapped there (or the read was cut short).
    Unmapped {
        addr: u64,
        len: u64,
    },
    /// The process is gone.
    Gone,
    /// The kernel refused (ptrace access mode check, seccomp, a security module).
    Denied {
        errno: i32,
    },
    Other {
        errno: i32,
    },
}

/// "Read N bytes at an address": what the walker needs of a process.
pub trait Memory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;

    fn u64_at(&mut self, addr: u64) -> Result<u64, Fault> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl<M: Memory + ?Sized> Memory for &mut M {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        (**self).read(addr, buf)
    }
}

impl<M: Memory + ?Sized> Memory for Box<M> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        (**self).read(addr, buf)
    }
}

/// A live process's memory.
pub struct ProcessMemory {
    pid: i32,
    /// `/proc/PID/mem`, once `process_vm_readv` was refused.
    mem: Option<File>,
    /// Reads issued (system calls), for the benchmark and tests.
    pub reads: u64,
}

impl ProcessMemory {
    pub fn new(pid: i32) -> ProcessMemory {
        ProcessMemory {
            pid,
            mem: None,
            reads: 0,
        }
    }

    fn via_proc_mem(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if self.mem.is_none() {
            let f = File::open(format!("/proc/{}/mem", self.pid)).map_err(|e| io_fault(&e))?;
            self.mem = Some(f);
        }
        let f = self.mem.as_ref().expect("opened above");
        self.reads += 1;
        match f.read_exact_at(buf, addr) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Fault::Unmapped {
                addr,
                len: buf.len() as u64,
            }),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Err(Fault::Unmapped {
                addr,
                len: buf.len() as u64,
            }),
            Err(e) => Err(io_fault(&e)),
        }
    }
}

fn io_fault(e: &std::io::Error) -> Fault {
    match e.raw_os_error() {
        Some(libc::ESRCH | libc::ENOENT) => Fault::Gone,
        Some(errno @ (libc::EPERM | libc::EACCES)) => Fault::Denied { errno },
        Some(errno) => Fault::Other { errno },
        None => Fault::Other { errno: 0 },
    }
}

impl Memory for ProcessMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.mem.is_some() {
            return self.via_proc_mem(addr, buf);
        }
        let len = buf.len();
        let remote = [RemoteIoVec {
            base: addr as usize,
            len,
        }];
        self.reads += 1;
        match process_vm_readv(
            Pid::from_raw(self.pid),
            &mut [IoSliceMut::new(buf)],
            &remote,
        ) {
            Ok(n) if n == len => Ok(()),
            Ok(_) | Err(Errno::EFAULT) => Err(Fault::Unmapped {
                addr,
                len: len as u64,
            }),
            Err(Errno::ESRCH) => Err(Fault::Gone),
            // Refused by a seccomp filter (containers) or not built into the kernel:
            // /proc/PID/mem takes the same ptrace access check by another path.
            Err(Errno::EPERM | Errno::ENOSYS) => self.via_proc_mem(addr, buf),
            Err(e) => Err(Fault::Other { errno: e as i32 }),
        }
    }
}

/// The cache's unit.
const PAGE: u64 = 4096;
/// Most pages read at once, once reads run in one direction.
const MAX_AHEAD: u64 = 32;

/// One readable range the cache serves: which block holds each page (0: none yet).
struct CachedRange {
    start: u64,
    end: u64,
    pages: Vec<u32>,
}

/// A cache in front of another [`Memory`], over the ranges the walker reads most (the
/// arenas' heaps); reads outside them go straight through. A miss reads one page, or,
/// when misses run up or down through a range (a chunk walk, a list freed in address
/// order), twice as many pages as the last read in that direction, up to 128 KiB: a
/// dense heap is read in a few hundred system calls, and a sparse one (free chunks
/// spread over a big heap) only where its chunk headers are. Over `cap_bytes` it
/// forgets everything (a walk that needs more re-reads it).
pub struct BlockCache<M: Memory> {
    inner: M,
    ranges: Vec<CachedRange>,
    /// (start address, bytes) of each block read.
    blocks: Vec<(u64, Box<[u8]>)>,
    /// The range the last read hit (walks read close to where they read last).
    last: usize,
    /// The last block read: (range, first page, end page), and how many pages it had.
    run: Option<(usize, u64, u64)>,
    ahead: u64,
    cached_bytes: u64,
    cap_bytes: u64,
}

impl<M: Memory> BlockCache<M> {
    /// `ranges`: (start, end) pairs, readable in full.
    pub fn new(inner: M, mut ranges: Vec<(u64, u64)>, cap_bytes: u64) -> BlockCache<M> {
        ranges.sort_unstable();
        ranges.dedup();
        let ranges = ranges
            .into_iter()
            .filter(|(s, e)| e > s)
            .map(|(start, end)| CachedRange {
                start,
                end,
                pages: vec![0; (end - start).div_ceil(PAGE) as usize],
            })
            .collect();
        BlockCache {
            inner,
            ranges,
            blocks: Vec::new(),
            last: 0,
            run: None,
            ahead: 1,
            cached_bytes: 0,
            cap_bytes,
        }
    }

    pub fn inner(&mut self) -> &mut M {
        &mut self.inner
    }

    /// Forget every cached block (before a retry).
    pub fn clear(&mut self) {
        for r in &mut self.ranges {
            r.pages.iter_mut().for_each(|b| *b = 0);
        }
        self.blocks.clear();
        self.run = None;
        self.cached_bytes = 0;
    }

    fn range_of(&mut self, addr: u64) -> Option<usize> {
        if let Some(r) = self.ranges.get(self.last) {
            if addr >= r.start && addr < r.end {
                return Some(self.last);
            }
        }
        let i = self.ranges.partition_point(|r| r.start <= addr);
        let i = i.checked_sub(1)?;
        (addr < self.ranges[i].end).then(|| {
            self.last = i;
            i
        })
    }

    /// The pages to read for a miss on page `p` of range `ri`: [first, end).
    fn pages_to_read(&mut self, ri: usize, p: u64) -> (u64, u64) {
        let r = &self.ranges[ri];
        let n = r.pages.len() as u64;
        let (up, down) = match self.run {
            Some((rr, a, b)) if rr == ri => (p == b, p + 1 == a),
            _ => (false, false),
        };
        self.ahead = if up || down {
            (self.ahead * 2).min(MAX_AHEAD)
        } else {
            1
        };
        if down {
            let mut first = p;
            while first > 0 && p + 1 - first < self.ahead && r.pages[first as usize - 1] == 0 {
                first -= 1;
            }
            (first, p + 1)
        } else {
            let mut end = p + 1;
            while end < n && end - p < self.ahead && r.pages[end as usize] == 0 {
                end += 1;
            }
            (p, end)
        }
    }

    /// The block holding `addr` (in range `ri`), reading it first if needed.
    fn block(&mut self, ri: usize, addr: u64) -> Result<usize, Fault> {
        let p = (addr - self.ranges[ri].start) / PAGE;
        let id = self.ranges[ri].pages[p as usize];
        if id != 0 {
            return Ok(id as usize - 1);
        }
        let (first, end) = self.pages_to_read(ri, p);
        let r = &self.ranges[ri];
        let (bstart, bend) = (r.start + first * PAGE, (r.start + end * PAGE).min(r.end));
        if self.cached_bytes + (bend - bstart) > self.cap_bytes {
            self.clear();
            return self.block(ri, addr);
        }
        let mut data = vec![0u8; (bend - bstart) as usize].into_boxed_slice();
        self.inner.read(bstart, &mut data)?;
        self.cached_bytes += data.len() as u64;
        self.blocks.push((bstart, data));
        let id = self.blocks.len() as u32;
        self.ranges[ri].pages[first as usize..end as usize]
            .iter_mut()
            .for_each(|x| *x = id);
        self.run = Some((ri, first, end));
        Ok(id as usize - 1)
    }

    /// Copy from one block; returns the bytes copied.
    fn copy_from_block(&mut self, ri: usize, addr: u64, buf: &mut [u8]) -> Result<usize, Fault> {
        let bi = self.block(ri, addr)?;
        let (bstart, data) = &self.blocks[bi];
        let off = (addr - bstart) as usize;
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }
}

impl<M: Memory> Memory for BlockCache<M> {
    /// The walker's hot path: an aligned word in a block already read.
    fn u64_at(&mut self, addr: u64) -> Result<u64, Fault> {
        if addr % 8 == 0 {
            if let Some(ri) = self.range_of(addr) {
                let r = &self.ranges[ri];
                let id = r.pages[((addr - r.start) / PAGE) as usize];
                if id != 0 {
                    let (bstart, data) = &self.blocks[id as usize - 1];
                    let off = (addr - bstart) as usize;
                    if let Some(w) = data.get(off..off + 8) {
                        return Ok(u64::from_le_bytes(w.try_into().expect("8 bytes")));
                    }
                }
            }
        }
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        let mut done = 0;
        while done < buf.len() {
            let at = addr.checked_add(done as u64).ok_or(Fault::Unmapped {
                addr,
                len: buf.len() as u64,
            })?;
            match self.range_of(at) {
                Some(ri) => done += self.copy_from_block(ri, at, &mut buf[done..])?,
                None => {
                    // Outside the cached ranges: read the rest directly.
                    return self.inner.read(at, &mut buf[done..]);
                }
            }
        }
        Ok(())
    }
}

/// An in-memory image: a few regions of bytes at given addresses. Reads that leave a
/// region fail as unmapped.
#[derive(Debug, Clone, Default)]
pub struct Image {
    regions: Vec<(u64, Vec<u8>)>,
}

impl Image {
    pub fn new() -> Image {
        Image::default()
    }

    /// Add `bytes` at `start` (regions must not overlap).
    pub fn add(&mut self, start: u64, bytes: Vec<u8>) {
        self.regions.push((start, bytes));
        self.regions.sort_by_key(|r| r.0);
    }

    pub fn regions_mut(&mut self) -> impl Iterator<Item = (u64, &mut Vec<u8>)> {
        self.regions.iter_mut().map(|(s, b)| (*s, b))
    }

    /// Write a little-endian u64 (the address must be inside a region).
    pub fn put_u64(&mut self, addr: u64, v: u64) {
        let (start, bytes) = self
            .regions
            .iter_mut()
            .find(|(s, b)| addr >= *s && addr + 8 <= *s + b.len() as u64)
            .unwrap_or_else(|| panic!("{addr:#x} is outside the image"));
        let off = (addr - *start) as usize;
        bytes[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
}

impl Memory for Image {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        let len = buf.len() as u64;
        let fault = Fault::Unmapped { addr, len };
        let end = addr.checked_add(len).ok_or(fault.clone())?;
        let (start, bytes) = self
            .regions
            .iter()
            .find(|(s, b)| addr >= *s && end <= *s + b.len() as u64)
            .ok_or(fault)?;
        let off = (addr - start) as usize;
        buf.copy_from_slice(&bytes[off..off + buf.len()]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_serves_reads_across_blocks_and_ranges() {
        let mut img = Image::new();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        img.add(0x10_0000, data.clone());
        img.add(0x90_0000, vec![7; 100]);
        let mut cache = BlockCache::new(img, vec![(0x10_0000, 0x10_0000 + 300_000)], 1 << 20);
        // Straddles the first block boundary.
        let mut buf = vec![0u8; 1000];
        cache.read(0x10_0000 + 65_000, &mut buf).unwrap();
        assert_eq!(buf, data[65_000..66_000]);
        // The last, short block.
        let mut tail = [0u8; 16];
        cache.read(0x10_0000 + 300_000 - 16, &mut tail).unwrap();
        assert_eq!(tail, data[300_000 - 16..]);
        // Outside the cached range: passes through.
        assert_eq!(cache.u64_at(0x90_0000).unwrap(), 0x0707_0707_0707_0707);
        assert!(cache.u64_at(0x90_0000 + 96).is_err());
        assert!(cache.u64_at(u64::MAX - 3).is_err());
    }

    #[test]
    fn this_process_reads_itself() {
        let x: u64 = 0xdead_beef_1234_5678;
        let mut m = ProcessMemory::new(std::process::id() as i32);
        assert_eq!(m.u64_at(&x as *const u64 as u64).unwrap(), x);
        assert!(matches!(m.u64_at(8), Err(Fault::Unmapped { .. })));
    }
}
