//! The exact RSS series from the kernel's own events: `kmem:rss_stat` is written by
//! the kernel at every change of a process's RSS counters, by the thread that made
//! the change, so the series costs the parent nothing while the workload runs.
//!
//! [`EventSeries::start`] opens the tracepoint for every thread of the target (and,
//! through `inherit`, every thread it starts later) on every CPU (`ring.rs`), and
//! a collector thread of the parent waits in poll() with no timeout: it wakes only if
//! a ring buffer fills to half (`wakeups` counts those), when asked to drain at a
//! pause ([`EventSeries::checkpoint`]), and at [`EventSeries::stop`]. The records are
//! decoded (`records.rs`) and the series rebuilt (`rebuild.rs`) after the stop.
//! [`available`] says whether the events can be had here, and if not, why: the
//! caller then falls back to the sampler (`series.rs`).

pub mod rebuild;
pub mod records;
pub mod ring;
pub mod tracefs;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use rebuild::{Rebuilt, Start};
use ring::Ring;
use tracefs::RssStat;

/// The first kernel whose rss_stat `size` is the counter's exact value: 6.2 made the
/// mm's RSS counters per-CPU counters and the tracepoint sums them. Before, each
/// thread cached up to 64 page changes of its own (SPLIT_RSS_COUNTING) that the
/// tracepoint's shared counter did not include.
pub const MIN_KERNEL: (u32, u32) = (6, 2);

/// The value `series_source` takes when the events were used.
pub const SOURCE: &str = "kernel events";

/// `(major, minor)` of a kernel release string ("6.18.44-fc-v1300").
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn check_kernel() -> Result<(), String> {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .map_err(|e| format!("uname failed ({e})"))?;
    match kernel_version(&release) {
        Some(v) if v >= MIN_KERNEL => Ok(()),
        _ => Err(format!(
            "kernel {release} is older than {}.{}: its rss_stat records leave out the pages each thread counts privately",
            MIN_KERNEL.0, MIN_KERNEL.1
        )),
    }
}

/// Whether the events can be had on this machine (the tracepoint found and
/// understood; whether perf_event_open allows it is known only when it is tried),
/// and if not, why. Looked up once per process.
pub fn available() -> Result<RssStat, String> {
    static LAYOUT: OnceLock<Result<RssStat, String>> = OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            check_kernel()?;
            tracefs::rss_stat()
        })
        .clone()
}

/// How far the kernel's VmHWM may sit from the exact peak, in KiB. VmHWM is the
/// larger of the exact RSS now and `mm->hiwater_rss`, which the kernel updates (before
/// it unmaps) from `get_mm_rss()`: the per-CPU counters read without their per-CPU
/// parts (`percpu_counter_read_positive`), each below the batch
/// (`percpu_counter_batch` = max(32, 2 x online CPUs) pages) on every CPU. So each of
/// the three counters (file, anon, shmem) may be off by CPUs x batch pages: 768 KiB
/// with 2 CPUs and 4 KiB pages.
pub fn vm_hwm_slack_kib() -> u64 {
    let cpus = ring::online_cpus().len() as u64;
    3 * cpus * 32u64.max(2 * cpus) * super::series::page_kib()
}

/// CLOCK_MONOTONIC now, in ns (the clock the events are stamped with).
pub fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec we pass; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Ring buffer pages per CPU: up to 4 MiB each (about 65,000 records, so a run of the
/// talk's cell, about 18,600 records, never wakes the collector), less on hosts with
/// many CPUs (64 MiB in all at most).
fn ring_pages(cpus: usize) -> usize {
    let page = super::series::page_kib() as usize * 1024;
    let pages = ((4 << 20).min((64 << 20) / cpus.max(1)) / page).max(16);
    // A power of two, rounded down, as the kernel requires.
    1 << (usize::BITS - 1 - pages.leading_zeros())
}

/// A running event series.
pub struct EventSeries {
    layout: RssStat,
    start: Start,
    control: OwnedFd,
    acks: Receiver<()>,
    collector: JoinHandle<Collected>,
    others: Vec<OwnedFd>,
    ring_pages: usize,
}

/// What the collector thread kept.
struct Collected {
    bytes: Vec<Vec<u8>>,
    wakeups: u32,
}

/// A finished event series.
pub struct Finished {
    pub rebuilt: Rebuilt,
    /// Times the collector woke because a buffer filled to half.
    pub wakeups: u32,
    pub ring_bytes: usize,
    pub ring_pages_per_cpu: usize,
}

impl EventSeries {
    /// Follow `pid` from now on; the series' zero is now. The RSS by kind at the start
    /// is read from /proc right after the events are opened (for a paused process
    /// that is exact; for a running one, the first record of each counter corrects
    /// it, since each record carries the counter's value).
    pub fn start(pid: i32) -> Result<Self, String> {
        let layout = available()?;
        let tids = tasks(pid)?;
        let cpus = ring::online_cpus();
        let mut pages = ring_pages(cpus.len());
        let opened = loop {
            match ring::open(&tids, &cpus, layout.id, pages) {
                // A buffer the lock limit refuses: try a smaller one.
                Err(e) if e.contains("cannot map") && pages > 16 => pages /= 2,
                r => break r?,
            }
        };
        let t0_ns = now_ns();
        let state = super::snapshot_status(pid).map_err(|e| format!("{e:#}"))?;
        let start = Start {
            pid: pid as u32,
            t0_ns,
            anon_kib: state.rss_anon_kib,
            file_kib: state.rss_file_kib,
            shmem_kib: state.rss_shmem_kib,
            threads: tids.len() as u32,
        };
        let (read, control) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("cannot make a pipe ({e})"))?;
        let (ack, acks) = std::sync::mpsc::channel();
        let rings = opened.rings;
        let collector = std::thread::Builder::new()
            .name("arena-sweep-events".into())
            .spawn(move || collect(rings, read, ack))
            .map_err(|e| format!("cannot start the event collector ({e})"))?;
        Ok(EventSeries {
            layout,
            start,
            control,
            acks,
            collector,
            others: opened.others,
            ring_pages: pages,
        })
    }

    /// CLOCK_MONOTONIC ns of the series' zero.
    pub fn t0_ns(&self) -> u64 {
        self.start.t0_ns
    }

    /// Milliseconds since the series' zero.
    pub fn elapsed_ms(&self) -> f64 {
        now_ns().saturating_sub(self.start.t0_ns) as f64 / 1e6
    }

    /// Drain the buffers now (at a pause), so the next phase starts with them empty.
    pub fn checkpoint(&self) {
        if nix::unistd::write(&self.control, b"d").is_ok() {
            let _ = self.acks.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Stop following, and rebuild the series.
    pub fn stop(self) -> Finished {
        let _ = nix::unistd::write(&self.control, b"s");
        let collected = self.collector.join().unwrap_or(Collected {
            bytes: Vec::new(),
            wakeups: 0,
        });
        drop(self.others);
        let mut recs = Vec::new();
        for b in &collected.bytes {
            records::decode(b, &self.layout, &mut recs);
        }
        Finished {
            rebuilt: rebuild::rebuild(recs, &self.start, &self.layout.members),
            wakeups: collected.wakeups,
            ring_bytes: collected.bytes.iter().map(Vec::len).sum(),
            ring_pages_per_cpu: self.ring_pages,
        }
    }
}

/// The thread ids of `pid` now.
fn tasks(pid: i32) -> Result<Vec<i32>, String> {
    let dir = format!("/proc/{pid}/task");
    let mut tids: Vec<i32> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {dir} ({e})"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    if tids.is_empty() {
        return Err(format!("{dir} lists no thread"));
    }
    Ok(tids)
}

/// The collector: sleep in poll() until a buffer passes its watermark or the control
/// pipe says to drain (`d`, acknowledged) or stop (`s`, or the pipe closed).
fn collect(mut rings: Vec<Ring>, control: OwnedFd, ack: Sender<()>) -> Collected {
    let mut out = Collected {
        bytes: vec![Vec::new(); rings.len()],
        wakeups: 0,
    };
    let mut live = vec![true; rings.len()];
    let drain = |rings: &mut Vec<Ring>, out: &mut Collected| {
        for (r, b) in rings.iter_mut().zip(out.bytes.iter_mut()) {
            r.drain(b);
        }
    };
    loop {
        let mut fds: Vec<libc::pollfd> = rings
            .iter()
            .zip(&live)
            .map(|(r, &l)| libc::pollfd {
                fd: if l { r.raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        fds.push(libc::pollfd {
            fd: control.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: fds is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        let (ring_fds, ctl) = fds.split_at(rings.len());
        for (i, f) in ring_fds.iter().enumerate() {
            // The followed task is gone: its buffer will not fill any more.
            if f.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                live[i] = false;
            }
        }
        if ring_fds.iter().any(|f| f.revents & libc::POLLIN != 0) {
            out.wakeups += 1;
        }
        drain(&mut rings, &mut out);
        if ctl[0].revents != 0 {
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a local buffer.
            let got = unsafe { libc::read(control.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
            if got == 1 && b[0] == b'd' {
                let _ = ack.send(());
                continue;
            }
            break;
        }
    }
    drain(&mut rings, &mut out);
    out
}

#[cfg(test)]
mod tests;
