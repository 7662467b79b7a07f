//! The time series taken while the workload runs: RSS and thread count every
//! `--sample-interval`, on a thread of the parent.
//!
//! Each tick re-reads `/proc/<pid>/statm` (the RSS, in pages) through a handle opened
//! once, with `pread` at offset 0, and takes the thread count from the link count of
//! `/proc/<pid>/task` (2 + the number of threads) with `fstat` on a handle opened once:
//! two system calls per sample, no path lookup, no parsing of the longer `status`
//! text. Neither takes a lock the workload's threads need. `/proc/<pid>/stat`, read
//! here before, sums the CPU times and faults of every thread while holding the
//! process's signal lock, which a thread takes to start and to exit; threads that exit
//! later overlap more, and each overlapping thread may take a glibc arena of its own.
//! Whether that moved any delta was not settled (a 1 ms sampler reading `stat` read
//! the free-threaded `churn` cell 1.31x the unsampled median in one batch of 60 runs,
//! 0.98x in another of 40), but a sampler should not contend with the workload at
//! all. `arena-sweep sample --method` compares ways of reading; the
//! benchmark (`cargo bench`) measures the cost. Ticks follow an absolute schedule, so
//! a slow read does not shift the following ones.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the series started.
    pub t_ms: u32,
    pub rss_kib: u64,
    pub threads: u32,
}

/// RSS in KiB from statm text ("size resident shared ...", in pages).
pub fn parse_statm(text: &[u8], page_kib: u64) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    text.split_ascii_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|p| p * page_kib)
}

/// Thread count from stat text: field 20, counted after the `)` that ends the
/// command name (which may itself contain spaces and parentheses).
pub fn parse_stat_threads(text: &[u8]) -> Option<u32> {
    parse_stat(text, 1).map(|(_, t)| t)
}

/// (RSS in KiB, thread count) from stat text: fields 24 (rss, in pages) and 20.
pub fn parse_stat(text: &[u8], page_kib: u64) -> Option<(u64, u32)> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    // After ")": state is field 3 at index 0, so field N is at index N - 3.
    let mut fields = rest.split_ascii_whitespace();
    let threads: u32 = fields.nth(17)?.parse().ok()?;
    let rss_pages: u64 = fields.nth(3)?.parse().ok()?;
    Some((rss_pages * page_kib, threads))
}

pub fn page_kib() -> u64 {
    // SAFETY: sysconf is always safe to call.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page.max(1024) as u64) / 1024
}

/// Thread count from the `st_nlink` of `/proc/<pid>/task`: the kernel gives that
/// folder 2 links plus one per thread.
pub fn threads_from_task_links(nlink: u64) -> Option<u32> {
    nlink.checked_sub(2).and_then(|n| u32::try_from(n).ok())
}

/// Reads one process's RSS and thread count from handles opened once.
pub struct Probe {
    statm: File,
    /// `/proc/<pid>/task`, opened with O_PATH: fstat gives its link count.
    task: std::os::fd::OwnedFd,
    buf: Vec<u8>,
    page_kib: u64,
}

impl Probe {
    pub fn open(pid: i32) -> Result<Self> {
        let task_path = format!("/proc/{pid}/task");
        let task = nix::fcntl::open(
            task_path.as_str(),
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("cannot open {task_path}"))?;
        Ok(Probe {
            statm: File::open(format!("/proc/{pid}/statm"))
                .with_context(|| format!("cannot open /proc/{pid}/statm"))?,
            task,
            buf: vec![0; 256],
            page_kib: page_kib(),
        })
    }

    /// (rss_kib, threads), or None once the process is gone.
    pub fn read(&mut self) -> Option<(u64, u32)> {
        let n = self.statm.read_at(&mut self.buf, 0).ok()?;
        let rss = parse_statm(&self.buf[..n], self.page_kib)?;
        let st = nix::sys::stat::fstat(&self.task).ok()?;
        let threads = threads_from_task_links(st.st_nlink as u64)?;
        // No thread left: the process is gone.
        (threads > 0).then_some((rss, threads))
    }
}

/// A running series; `stop` returns what was collected. The sampler sleeps on a
/// channel, so `stop` wakes it at once instead of waiting out the interval.
pub struct Series {
    stop: std::sync::mpsc::Sender<()>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Series {
    /// Start sampling `pid` every `interval`.
    pub fn start(pid: i32, interval: Duration) -> Result<Self> {
        let mut probe = Probe::open(pid)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("arena-sweep-sampler".into())
            .spawn(move || {
                let t0 = Instant::now();
                let mut out = Vec::with_capacity(1024);
                let mut tick = 0u32;
                // Until the process is gone or the series is stopped.
                while let Some((rss_kib, threads)) = probe.read() {
                    out.push(Sample {
                        t_ms: t0.elapsed().as_millis() as u32,
                        rss_kib,
                        threads,
                    });
                    tick += 1;
                    let next = interval * tick;
                    let wait = next.saturating_sub(t0.elapsed());
                    match stopped.recv_timeout(wait) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        // Stopped, or the Series was dropped.
                        _ => break,
                    }
                }
                out
            })
            .context("cannot start the sampler thread")?;
        Ok(Series { stop, handle })
    }

    pub fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_and_stat_fields() {
        assert_eq!(
            parse_statm(b"52345 3000 1200 700 0 9000 0\n", 4),
            Some(12000)
        );
        // A command name with spaces and a ')' inside, as the kernel prints it.
        let stat = b"4242 (py thon) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 57 0 99 1000 300 18446744073709551615";
        assert_eq!(parse_stat_threads(stat), Some(57));
        // Field 24 (rss) is 300 pages.
        assert_eq!(parse_stat(stat, 4), Some((1200, 57)));
        assert_eq!(parse_stat_threads(b"garbage"), None);
        assert_eq!(parse_statm(b"", 4), None);
    }

    #[test]
    fn the_thread_count_follows_threads_as_they_start_and_end() {
        assert_eq!(threads_from_task_links(2), Some(0));
        assert_eq!(threads_from_task_links(59), Some(57));
        assert_eq!(threads_from_task_links(1), None);
        let mut p = Probe::open(std::process::id() as i32).unwrap();
        let status_threads = || -> u32 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = s.lines().find(|l| l.starts_with("Threads:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        // The test harness runs other tests on other threads: compare with the
        // kernel's own count taken right before, and check that 5 more are seen.
        let before = p.read().unwrap().1;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let _ = rx.lock().unwrap().recv();
                })
            })
            .collect();
        let with = p.read().unwrap().1;
        let kernel = status_threads();
        assert!(
            with.abs_diff(kernel) <= 2 && with >= before + 5 - 2,
            "probe {with} threads, status {kernel}, before {before}"
        );
        drop(tx);
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn samples_this_process() {
        let mut p = Probe::open(std::process::id() as i32).unwrap();
        let (rss, threads) = p.read().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |n: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(n))
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(threads >= 1);
        // RSS moves a little between the two reads; both come from the same counters.
        let vmrss = field("VmRSS:");
        assert!(
            rss.abs_diff(vmrss) < vmrss / 4 + 1024,
            "statm {rss} vs status {vmrss}"
        );
    }
}
