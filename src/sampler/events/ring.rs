//! The kernel side of the event series: one `perf_event_open(2)` per task and CPU for
//! `kmem:rss_stat`, and one ring buffer per CPU that the kernel writes their records
//! into, read here without a system call.
//!
//! Why per CPU: the kernel refuses to map the buffer of an inherited event that is
//! not bound to a CPU (`perf_mmap`: "Don't allow mmap() of inherited per-task
//! counters"), so each task gets one event per online CPU, with `inherit` (threads it
//! starts later get copies, whose records go to the original event's buffer) and
//! `inherit_thread` (not the processes it forks). Every event of a CPU writes into
//! that CPU's buffer (`PERF_EVENT_IOC_SET_OUTPUT`). `task` adds a `PERF_RECORD_FORK`
//! or `_EXIT` record to the same buffer whenever a followed thread starts or ends.
//! Timestamps are CLOCK_MONOTONIC (`use_clockid`), the clock of `std::time::Instant`.
//! The kernel signals the buffer's descriptor only once half the buffer is full
//! (`watermark`), so a reader blocked in poll() sleeps through a window that fits.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use perf_event_open_sys::bindings as sys;

/// One CPU's ring buffer: the header page, then `data_size` bytes of records.
pub struct Ring {
    /// The event that owns the mapping (the CPU's first).
    fd: OwnedFd,
    base: *mut u8,
    map_len: usize,
    data_offset: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by the Ring and only touched through &mut self.
unsafe impl Send for Ring {}

impl Ring {
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn header(&self) -> *mut sys::perf_event_mmap_page {
        self.base.cast()
    }

    /// Append every record the kernel wrote since the last drain to `out`, in the
    /// order written, and give their space back. Returns the bytes copied.
    pub fn drain(&mut self, out: &mut Vec<u8>) -> usize {
        let page = self.header();
        // SAFETY: data_head and data_tail are naturally aligned u64 fields of the
        // mapped header page, which lives as long as self; the kernel writes the head
        // and reads the tail, as perf_event_open(2) describes.
        let (head, tail) = unsafe {
            let head = &*(std::ptr::addr_of_mut!((*page).data_head) as *const AtomicU64);
            let tail = &*(std::ptr::addr_of_mut!((*page).data_tail) as *const AtomicU64);
            (head, tail)
        };
        let h = head.load(Ordering::Acquire);
        let t = tail.load(Ordering::Relaxed);
        let n = (h - t) as usize;
        if n == 0 {
            return 0;
        }
        let start = (t as usize) % self.data_size;
        // SAFETY: [data_offset, data_offset + data_size) is inside the mapping.
        let data =
            unsafe { std::slice::from_raw_parts(self.base.add(self.data_offset), self.data_size) };
        let first = n.min(self.data_size - start);
        out.extend_from_slice(&data[start..start + first]);
        out.extend_from_slice(&data[..n - first]);
        // Release: the copies above happen before the kernel may overwrite them.
        tail.store(h, Ordering::Release);
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/map_len are what mmap returned.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// Every event opened for a target: the rings (one per CPU) and the other events,
/// kept open for as long as the series runs.
pub struct Opened {
    pub rings: Vec<Ring>,
    pub others: Vec<OwnedFd>,
}

fn attr(id: u64, watermark: u32, inherit_thread: bool) -> sys::perf_event_attr {
    let mut a = sys::perf_event_attr {
        type_: sys::PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<sys::perf_event_attr>() as u32,
        config: id,
        sample_type: u64::from(sys::PERF_SAMPLE_TID | sys::PERF_SAMPLE_TIME | sys::PERF_SAMPLE_RAW),
        clockid: libc::CLOCK_MONOTONIC,
        ..Default::default()
    };
    a.__bindgen_anon_1.sample_period = 1;
    a.__bindgen_anon_2.wakeup_watermark = watermark;
    a.set_inherit(1);
    a.set_inherit_thread(u64::from(inherit_thread));
    a.set_task(1);
    a.set_sample_id_all(1);
    a.set_use_clockid(1);
    a.set_watermark(1);
    a
}

fn open_one(a: &sys::perf_event_attr, tid: i32, cpu: i32) -> std::io::Result<OwnedFd> {
    let mut a = *a;
    // SAFETY: a is a fully initialised perf_event_attr of the size it says.
    let fd = unsafe {
        perf_event_open_sys::perf_event_open(
            &mut a,
            tid,
            cpu,
            -1,
            libc::c_ulong::from(sys::PERF_FLAG_FD_CLOEXEC),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Why perf_event_open failed, in words a user can act on.
pub fn explain_open_error(e: &std::io::Error) -> String {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "perf_event_open refused ({e}): raw tracepoint records need CAP_PERFMON (or root), or kernel.perf_event_paranoid -1 (it is {paranoid})"
        ),
        Some(libc::ENOENT) | Some(libc::ENODEV) => {
            format!("perf_event_open: no such tracepoint on this kernel ({e})")
        }
        Some(libc::ENOSYS) => "perf_event_open is not available (a kernel without perf events, or a seccomp filter)".into(),
        _ => format!("perf_event_open failed ({e})"),
    }
}

fn map(fd: OwnedFd, pages: usize) -> std::io::Result<Ring> {
    let page = super::super::series::page_kib() as usize * 1024;
    let map_len = (pages + 1) * page;
    // SAFETY: a shared mapping of a perf event's buffer, as perf_event_open(2) says.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let base = base.cast::<u8>();
    let head = base.cast::<sys::perf_event_mmap_page>();
    // SAFETY: the header page is mapped; data_offset/size are set by the kernel
    // (since 4.1; older kernels leave them 0: the data then starts at one page).
    let (off, size) = unsafe { ((*head).data_offset as usize, (*head).data_size as usize) };
    let (data_offset, data_size) = if size == 0 {
        (page, pages * page)
    } else {
        (off, size)
    };
    Ok(Ring {
        fd,
        base,
        map_len,
        data_offset,
        data_size,
    })
}

/// Open `kmem:rss_stat` (tracepoint `id`) for every task in `tids` on every CPU in
/// `cpus`, each CPU's records going to one buffer of `pages` pages (a power of two).
/// The events start enabled.
pub fn open(tids: &[i32], cpus: &[i32], id: u64, pages: usize) -> Result<Opened, String> {
    let page = super::super::series::page_kib() as usize * 1024;
    let watermark = (pages * page / 2) as u32;
    let mut inherit_thread = true;
    let mut opened = Opened {
        rings: Vec::new(),
        others: Vec::new(),
    };
    for &cpu in cpus {
        let mut leader: Option<RawFd> = None;
        for &tid in tids {
            let fd = match open_one(&attr(id, watermark, inherit_thread), tid, cpu) {
                // inherit_thread is 5.13 and later; without it forked processes are
                // followed too, and told apart by their mm.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && inherit_thread => {
                    inherit_thread = false;
                    open_one(&attr(id, watermark, false), tid, cpu)
                }
                r => r,
            };
            let fd = match fd {
                Ok(fd) => fd,
                // The thread ended meanwhile: nothing of it to follow.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) => return Err(explain_open_error(&e)),
            };
            match leader {
                None => {
                    leader = Some(fd.as_raw_fd());
                    let ring = map(fd, pages).map_err(|e| {
                        format!("cannot map a {pages}-page perf ring buffer ({e}; see kernel.perf_event_mlock_kb)")
                    })?;
                    opened.rings.push(ring);
                }
                Some(l) => {
                    // SAFETY: both are perf event descriptors this process opened.
                    if unsafe { perf_event_open_sys::ioctls::SET_OUTPUT(fd.as_raw_fd(), l) } < 0 {
                        return Err(format!(
                            "PERF_EVENT_IOC_SET_OUTPUT failed ({})",
                            std::io::Error::last_os_error()
                        ));
                    }
                    opened.others.push(fd);
                }
            }
        }
    }
    if opened.rings.is_empty() {
        return Err("the process had no thread left to follow".into());
    }
    Ok(opened)
}

/// The online CPUs, from `/sys/devices/system/cpu/online` ("0-3,6").
pub fn online_cpus() -> Vec<i32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut cpus = parse_cpu_list(text.trim());
    if cpus.is_empty() {
        // SAFETY: sysconf is always safe to call.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as i32;
        cpus = (0..n).collect();
    }
    cpus
}

pub fn parse_cpu_list(s: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<i32>().ok()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_as_the_kernel_prints_them() {
        assert_eq!(parse_cpu_list("0-1"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-2,5,7-8"), vec![0, 1, 2, 5, 7, 8]);
        assert_eq!(parse_cpu_list(""), Vec::<i32>::new());
        assert!(!online_cpus().is_empty());
    }
}
