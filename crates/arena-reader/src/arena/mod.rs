//! Read glibc's arenas from outside a live process: per arena, its heaps,
//! `system_mem`, the top chunk, the free chunks in the fast bins and bins, the bytes
//! in use, and what `malloc_trim(0)` would give back in RSS. No debug symbols, no
//! gdb, and (unless asked with `freeze`) no stop.
//!
//! How: the process's memory is read with `process_vm_readv` (or `/proc/PID/mem`),
//! through [`memory::Memory`], the seam the fuzz tests use. `target` identifies the
//! glibc version and architecture and reads the maps; `layout` knows glibc's structs
//! (2.26 to 2.42, x86_64 and aarch64); `discover` finds the arenas from the heaps'
//! `heap_info` headers and the ring through `next` (the main arena by its shape in
//! libc's data); `walk` walks each arena's lists and chunks with every pointer and
//! size checked; `residency` turns the free chunks into what a trim returns, checked
//! against `/proc/PID/pagemap`; `freeze` stops the process with ptrace when asked;
//! `permission` says which rule refused a read.
//!
//! A live process changes while it is read. Each read of the whole set is checked:
//! each arena's `malloc_state` is read again after its walk, a locked arena (its mutex
//! held) or one that changed is read again, up to `retries` times, and figures that
//! never settled are listed in [`Arena::inconsistent`]; the chunk walk (every chunk
//! header, from the first chunk of each heap to top) checks the bins against the
//! heaps. With `freeze` one read is exact (unless a thread was stopped while it held
//! an arena's lock: then that arena is flagged), and the chunk walk is skipped, since
//! nothing can move and it would only lengthen the stop.
//!
//! The parent of a paused child (a sweep's run at `done`) calls [`read`] with the
//! child's PID; nothing here needs the child's cooperation.

pub mod discover;
pub mod error;
pub mod freeze;
pub mod layout;
pub mod memory;
pub mod permission;
pub mod residency;
pub mod snapshot;
pub mod state;
pub mod target;
pub mod walk;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod synthetic;

use std::time::Instant;

pub use error::{ReadError, Unsupported};
pub use layout::Arch;
pub use memory::{Fault, Memory, ProcessMemory};
pub use permission::PermissionRule;
pub use snapshot::{Arena, ArenaSnapshot, Figure, Heap, Totals};

use discover::{Discovery, Found, Unsettled};
use layout::{Layout, NONCONTIGUOUS};
use memory::BlockCache;
use residency::Pagemap;
use target::{Maps, TargetInfo};
use walk::{Span, Stop, Walked};

/// How to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Stop the process (every thread, with ptrace) for an exact snapshot.
    pub freeze: bool,
    /// Reads of the whole set after the first, while some arena keeps changing.
    pub retries: u32,
    /// Check residency in `/proc/PID/pagemap` (`trimmable_bytes` and the heaps'
    /// `resident_bytes` are 0 without it).
    pub pagemap: bool,
    /// The caller knows the process cannot change its arenas while it is read (a
    /// sweep's child, paused in a read with no other thread): read once, and skip the
    /// chunk walk, as a frozen read does, without stopping it.
    pub quiescent: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            freeze: false,
            retries: 3,
            pagemap: true,
            quiescent: false,
        }
    }
}

/// Most bytes of the target kept in memory at once while walking.
const CACHE_CAP_BYTES: u64 = 256 * 1024 * 1024;

/// Read `pid`'s arenas.
pub fn read(pid: i32, opts: &ReadOptions) -> Result<ArenaSnapshot, ReadError> {
    read_with(pid, opts, &mut ProcessMemory::new(pid))
}

/// [`read`], through a given view of the process's memory (a test wraps the real one
/// to make the process exit in the middle of a read).
pub fn read_with(
    pid: i32,
    opts: &ReadOptions,
    mem: &mut dyn Memory,
) -> Result<ArenaSnapshot, ReadError> {
    let started = Instant::now();
    let info = target::identify(pid)?;
    let layout =
        Layout::new(&info.glibc_version, info.arch).map_err(|e| ReadError::Unsupported {
            pid,
            why: Unsupported::Version(e.to_string()),
        })?;
    // SAFETY: sysconf is always safe to call.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let frozen = if opts.freeze {
        Some(freeze::Frozen::stop(pid).map_err(|e| freeze_error(pid, e))?)
    } else {
        None
    };
    let tries = if frozen.is_some() || opts.quiescent {
        1
    } else {
        opts.retries + 1
    };
    let mut best: Option<Attempt> = None;
    let mut why = String::new();
    let mut attempts = 0;
    for _ in 0..tries {
        attempts += 1;
        match attempt(&info, &layout, page, opts, mem) {
            Ok(a) => {
                let settled = a.arenas.iter().all(|x| x.inconsistent.is_empty());
                let flagged =
                    |a: &Attempt| a.arenas.iter().map(|x| x.inconsistent.len()).sum::<usize>();
                if best.as_ref().is_none_or(|b| flagged(&a) <= flagged(b)) {
                    best = Some(a);
                }
                if settled {
                    break;
                }
            }
            Err(AttemptError::Retry(w)) => why = w,
            Err(AttemptError::Fatal(e)) => return Err(e),
        }
    }
    let stopped_s = frozen.map(|f| f.release().as_secs_f64());
    if !crate::process::target::same_process(pid, info.start_ticks) {
        return Err(ReadError::ProcessGone { pid });
    }
    let a = best.ok_or(ReadError::Inconsistent { pid, attempts, why })?;
    let resident = a
        .arenas
        .iter()
        .flat_map(|x| &x.heaps)
        .map(|h| h.resident_bytes)
        .sum();
    Ok(ArenaSnapshot {
        pid,
        glibc_version: info.glibc_version.clone(),
        arch: info.arch,
        page_size_bytes: page,
        totals: Totals::of(&a.arenas, resident),
        consistent: a.arenas.iter().all(|x| x.inconsistent.is_empty()),
        arenas: a.arenas,
        frozen: stopped_s.is_some(),
        stopped_s,
        read_s: started.elapsed().as_secs_f64(),
        attempts,
        notes: a.notes,
    })
}

fn freeze_error(pid: i32, e: freeze::FreezeError) -> ReadError {
    use freeze::FreezeError as F;
    match e {
        F::Gone => ReadError::ProcessGone { pid },
        F::Denied => ReadError::Permission {
            pid,
            rule: permission::diagnose(pid),
        },
        F::Stuck { tid } => ReadError::Freeze {
            pid,
            why: format!("thread {tid} did not stop within 2 s (stuck in the kernel?)"),
        },
        F::Other { errno } => ReadError::Freeze {
            pid,
            why: format!("ptrace failed with errno {errno}"),
        },
    }
}

pub(crate) struct Attempt {
    pub(crate) arenas: Vec<Arena>,
    pub(crate) notes: Vec<String>,
}

pub(crate) enum AttemptError {
    Retry(String),
    Fatal(ReadError),
}

fn fault_error(pid: i32, f: &Fault) -> AttemptError {
    match f {
        Fault::Gone => AttemptError::Fatal(ReadError::ProcessGone { pid }),
        // The caller names the rule (it knows the PID).
        Fault::Denied { .. } => AttemptError::Fatal(ReadError::Permission {
            pid,
            rule: PermissionRule::NotDumpable,
        }),
        Fault::Unmapped { addr, .. } => AttemptError::Retry(format!("{addr:#x} was unreadable")),
        Fault::Other { errno } => AttemptError::Retry(format!("a read failed with errno {errno}")),
    }
}

fn stop_error(pid: i32, s: Stop) -> AttemptError {
    match s {
        Stop::Gone => fault_error(pid, &Fault::Gone),
        Stop::Denied { errno } => fault_error(pid, &Fault::Denied { errno }),
    }
}

/// Where each arena's chunks may lie.
fn spans(layout: &Layout, f: &Found, maps: &Maps) -> Vec<Span> {
    if f.is_main {
        return maps
            .brk
            .map(|(s, e)| Span {
                start: s,
                end: e,
                first_chunk: Some(s.div_ceil(16) * 16),
                first_chunk_certain: false,
            })
            .into_iter()
            .collect();
    }
    f.heaps
        .iter()
        .map(|h| {
            let body = h.address + layout.heap_info;
            let first = if f.state.address == body {
                layout.first_chunk_after_state(body)
            } else {
                body
            };
            Span {
                start: body,
                end: h.address + h.size,
                first_chunk: Some(first),
                first_chunk_certain: true,
            }
        })
        .collect()
}

/// One read of every arena.
fn attempt(
    info: &TargetInfo,
    layout: &Layout,
    page: u64,
    opts: &ReadOptions,
    mem: &mut dyn Memory,
) -> Result<Attempt, AttemptError> {
    let pid = info.pid;
    let maps = Maps::read(info).map_err(AttemptError::Fatal)?;
    let mut pagemap = |ranges: &[(u64, u64)]| {
        if opts.pagemap {
            Pagemap::read(pid, ranges, page).map(Some)
        } else {
            Ok(None)
        }
    };
    // Frozen, nothing moves: the chunk walk (a check against a moving process, which
    // reads every chunk header) would only make the stop longer.
    let walk_chunks = !(opts.freeze || opts.quiescent);
    walk_all(mem, layout, &maps, page, walk_chunks, &mut pagemap).map_err(|e| match e {
        AttemptError::Fatal(ReadError::ProcessGone { .. }) => {
            AttemptError::Fatal(ReadError::ProcessGone { pid })
        }
        AttemptError::Fatal(ReadError::Permission { .. }) => {
            AttemptError::Fatal(ReadError::Permission {
                pid,
                rule: permission::diagnose(pid),
            })
        }
        other => other,
    })
}

/// Reads residency for some ranges (`/proc/PID/pagemap`, or nothing).
pub(crate) type PagemapReader<'a> = dyn FnMut(&[(u64, u64)]) -> Result<Option<Pagemap>, Fault> + 'a;

/// Discover and walk every arena in `mem`, laid out as `maps` says.
pub(crate) fn walk_all(
    mem: &mut dyn Memory,
    layout: &Layout,
    maps: &Maps,
    page: u64,
    walk_chunks: bool,
    pagemap: &mut PagemapReader,
) -> Result<Attempt, AttemptError> {
    let mut ranges = maps.heap_slots.clone();
    ranges.extend(maps.brk);
    let mut cache = BlockCache::new(&mut *mem, ranges, CACHE_CAP_BYTES);
    let Discovery {
        arenas: found,
        mut notes,
    } = discover::discover(&mut cache, layout, maps).map_err(|u| match u {
        Unsettled::Moved(w) => AttemptError::Retry(w),
        Unsettled::Fault(f) => fault_error(0, &f),
    })?;
    let mut walked = Vec::with_capacity(found.len());
    for f in &found {
        let mut sp = spans(layout, f, maps);
        if !walk_chunks {
            sp.iter_mut().for_each(|s| s.first_chunk = None);
        }
        let mut w = walk::walk(&mut cache, layout, &f.state, &sp).map_err(|s| stop_error(0, s))?;
        if f.is_main && f.state.flags & NONCONTIGUOUS != 0 {
            w.problems.push((
                vec![Figure::FastFreeBytes, Figure::BinFreeBytes, Figure::TopBytes],
                "the main arena gave up on brk (non-contiguous): part of its memory is outside [heap]".into(),
            ));
        }
        walked.push(w);
    }
    let mut pr: Vec<(u64, u64)> = found
        .iter()
        .flat_map(|f| f.heaps.iter().map(|h| (h.address, h.address + h.size)))
        .collect();
    pr.extend(maps.brk);
    let pagemap = match pagemap(&pr) {
        Ok(p) => p,
        Err(Fault::Gone) => return Err(fault_error(0, &Fault::Gone)),
        Err(_) => {
            notes.push(
                "/proc/PID/pagemap was unreadable: resident and trimmable bytes are 0".into(),
            );
            None
        }
    };
    let ctx = Ctx {
        layout,
        maps,
        page,
        pagemap: pagemap.as_ref(),
    };
    let mut arenas = Vec::with_capacity(found.len());
    for (index, (f, w)) in found.iter().zip(walked).enumerate() {
        let again =
            state_again(cache.inner(), layout, f.state.address).map_err(|e| fault_error(0, &e))?;
        arenas.push(figures(index, f, w, &again, &ctx, cache.inner()));
    }
    Ok(Attempt { arenas, notes })
}

fn state_again(mem: &mut dyn Memory, layout: &Layout, addr: u64) -> Result<state::State, Fault> {
    let mut buf = vec![0u8; layout.state.size as usize];
    mem.read(addr, &mut buf)?;
    Ok(state::State::parse(layout, addr, &buf))
}

/// What every arena's figures are computed with.
struct Ctx<'a> {
    layout: &'a Layout,
    maps: &'a Maps,
    page: u64,
    pagemap: Option<&'a Pagemap>,
}

/// One arena's figures, with the ones that moved or failed flagged.
fn figures(
    index: usize,
    f: &Found,
    w: Walked,
    again: &state::State,
    ctx: &Ctx,
    mem: &mut dyn Memory,
) -> Arena {
    let (maps, page, pagemap) = (ctx.maps, ctx.page, ctx.pagemap);
    let st = &f.state;
    let mut flagged: Vec<Figure> = st.moved(again);
    let mut problems: Vec<String> = Vec::new();
    for (figs, msg) in &w.problems {
        flagged.extend(figs);
        problems.push(msg.clone());
    }
    if st.mutex != 0 || again.mutex != 0 {
        flagged.extend([
            Figure::FastFreeBytes,
            Figure::BinFreeBytes,
            Figure::TopBytes,
        ]);
        problems.push(
            "the arena was locked (a thread was inside malloc or free) while it was read".into(),
        );
    }
    if st.top == again.top && w.top_bytes > 0 {
        let size_now = mem.u64_at(st.top + 8).map(|v| v & !layout::SIZE_BITS);
        if size_now.is_ok_and(|s| s != w.top_bytes) {
            flagged.push(Figure::TopBytes);
            problems.push("the top chunk changed size while it was read".into());
        }
    }
    if flagged.iter().any(|f| {
        matches!(
            f,
            Figure::FastFreeBytes | Figure::BinFreeBytes | Figure::TopBytes
        )
    }) {
        flagged.extend([Figure::InUseBytes, Figure::TrimmableBytes]);
    }
    flagged.sort_unstable();
    flagged.dedup();
    let resident = |s: u64, e: u64| pagemap.map_or(0, |p| p.resident_bytes(s, e));
    let heaps: Vec<Heap> = if f.is_main {
        maps.brk
            .map(|(s, e)| Heap {
                address: s,
                size_bytes: e - s,
                committed_bytes: e - s,
                resident_bytes: resident(s, e),
            })
            .into_iter()
            .collect()
    } else {
        f.heaps
            .iter()
            .map(|h| Heap {
                address: h.address,
                size_bytes: h.size,
                committed_bytes: h.mprotect_size,
                resident_bytes: resident(h.address, h.address + h.size),
            })
            .collect()
    };
    let top = (st.top != ctx.layout.initial_top(st.address)).then_some((st.top, w.top_bytes));
    let brk_end = maps.brk.map(|b| b.1);
    let trimmable = residency::trim_ranges(&w.free, top, f.is_main, brk_end, page)
        .iter()
        .map(|&(s, e)| resident(s, e))
        .sum();
    let top_trim = top
        .filter(|_| !f.is_main)
        .and_then(|(t, size)| {
            residency::top_trim_range(t, size, residency::TRIM_THRESHOLD_128K, page)
        })
        .map_or(0, |(s, e)| resident(s, e));
    let free_masked = w.fast_bytes + w.bin_bytes + w.top_bytes;
    Arena {
        index,
        address: st.address,
        is_main: f.is_main,
        heaps,
        system_mem_bytes: st.system_mem,
        max_system_mem_bytes: st.max_system_mem,
        top_bytes: w.top_bytes,
        fast_free_chunks: w.fast_chunks,
        fast_free_bytes: w.fast_bytes,
        bin_free_chunks: w.bin_chunks,
        bin_free_bytes: w.bin_bytes,
        free_bytes: w.fast_bytes + w.bin_bytes_nomask + w.top_bytes,
        in_use_bytes: st.system_mem.saturating_sub(free_masked),
        trimmable_bytes: trimmable,
        top_trim_bytes: top_trim,
        free_chunk_median_bytes: snapshot::weighted_median(w.free.iter().map(|&(_, s)| (s, s))),
        attached_threads: st.attached_threads,
        inconsistent: flagged,
        problems,
    }
}
