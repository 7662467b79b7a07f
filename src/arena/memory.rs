//! Memory images: the seam between the walker and a process.
//!
//! The walker reads through [`Memory`] ("N bytes at this address"), so it runs the
//! same on a live process ([`ProcessMemory`]: `process_vm_readv`, falling back to
//! `/proc/PID/mem` where a seccomp filter refuses the system call), on a cache of one
//! ([`BlockCache`]: 64 KiB blocks read on first use, so that walking 100,000 chunks
//! costs a few hundred system calls instead of 100,000), and on synthetic images
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

const BLOCK: u64 = 64 * 1024;

/// One readable range the cache serves, split into blocks read on first use.
struct CachedRange {
    start: u64,
    end: u64,
    blocks: Vec<Option<Box<[u8]>>>,
}

/// A cache of 64 KiB blocks over the ranges the walker reads most (the arenas' heaps),
/// in front of another [`Memory`]. Reads outside those ranges go straight through.
/// Over `cap_bytes` it forgets every block (a walk that needs more re-reads them).
pub struct BlockCache<M: Memory> {
    inner: M,
    ranges: Vec<CachedRange>,
    /// The range the last read hit (walks read close to where they read last).
    last: usize,
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
                blocks: vec![None; (end - start).div_ceil(BLOCK) as usize],
            })
            .collect();
        BlockCache {
            inner,
            ranges,
            last: 0,
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
            r.blocks.iter_mut().for_each(|b| *b = None);
        }
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

    /// Copy from one block; returns the bytes copied.
    fn copy_from_block(&mut self, ri: usize, addr: u64, buf: &mut [u8]) -> Result<usize, Fault> {
        let (start, end) = (self.ranges[ri].start, self.ranges[ri].end);
        let bi = ((addr - start) / BLOCK) as usize;
        let bstart = start + bi as u64 * BLOCK;
        let bend = (bstart + BLOCK).min(end);
        if self.ranges[ri].blocks[bi].is_none() {
            if self.cached_bytes + BLOCK > self.cap_bytes {
                self.clear();
            }
            let mut data = vec![0u8; (bend - bstart) as usize].into_boxed_slice();
            self.inner.read(bstart, &mut data)?;
            self.cached_bytes += data.len() as u64;
            self.ranges[ri].blocks[bi] = Some(data);
        }
        let block = self.ranges[ri].blocks[bi].as_ref().expect("filled above");
        let off = (addr - bstart) as usize;
        let n = buf.len().min(block.len() - off);
        buf[..n].copy_from_slice(&block[off..off + n]);
        Ok(n)
    }
}

impl<M: Memory> Memory for BlockCache<M> {
    /// The walker's hot path: an aligned word in a block already read.
    fn u64_at(&mut self, addr: u64) -> Result<u64, Fault> {
        if addr % 8 == 0 {
            if let Some(ri) = self.range_of(addr) {
                let r = &self.ranges[ri];
                let bi = ((addr - r.start) / BLOCK) as usize;
                if let Some(b) = &r.blocks[bi] {
                    let off = (addr - r.start - bi as u64 * BLOCK) as usize;
                    if let Some(w) = b.get(off..off + 8) {
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
