//! `arena-sweep sample PID`: record a live process's RSS and thread count over time,
//! from the same sources a sweep uses, and say what the recording cost.
//!
//! `--source` picks the kernel's `kmem:rss_stat` events (`events/`: every change of
//! RSS by kind and every thread start and end, while this process sleeps in poll()
//! until the duration ends or the target exits) or the sampler; `auto` takes the
//! events where they can be had and says why not otherwise.
//!
//! `--method` picks how each tick reads /proc, to compare their cost:
//! - `pread` (the sweep's): `statm` opened once and re-read with pread, the thread
//!   count from the link count of `/proc/<pid>/task` (fstat);
//! - `reopen`: `statm` and `stat` opened and read on every tick;
//! - `status`: `/proc/<pid>/status` opened, read and parsed on every tick.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::events::EventSeries;
use super::series::{page_kib, parse_stat_threads, parse_statm, Probe};

pub use crate::model::SampleMethod as Method;
pub use crate::model::SampleSource as Source;

/// What `sample` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub pid: i32,
    pub interval: Duration,
    pub duration: Duration,
    pub source: Source,
    pub method: Method,
}

/// What a recording found and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub samples: usize,
    pub peak_rss_kib: u64,
    pub peak_threads: u32,
    /// VmHWM of the target at the end (None if it had exited).
    pub vm_hwm_kib: Option<u64>,
    pub wall_s: f64,
    /// CPU time this process spent (user + system).
    pub cpu_s: f64,
    /// Ticks that came late by more than one interval.
    pub late_ticks: usize,
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn read_once(pid: i32, method: Method, page: u64) -> Option<(u64, u32)> {
    match method {
        Method::Pread => unreachable!("pread keeps its files open"),
        Method::Reopen => {
            let statm = std::fs::read(format!("/proc/{pid}/statm")).ok()?;
            let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
            Some((parse_statm(&statm, page)?, parse_stat_threads(&stat)?))
        }
        Method::Status => {
            let f = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
            let s = super::parse_status(f).ok()?;
            Some((s.rss_kib, s.threads as u32))
        }
    }
}

fn vm_hwm(pid: i32) -> Option<u64> {
    let f = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    // A process that is exiting (a zombie) has no memory lines left.
    super::parse_status(f)
        .ok()
        .map(|s| s.hwm_kib)
        .filter(|&h| h > 0)
}

/// Sample `pid` every `interval` until `duration` passes or the process exits.
/// Each sample goes to `csv` as `t_ms,rss_kib,threads` when given.
pub fn record(
    pid: i32,
    interval: Duration,
    duration: Duration,
    method: Method,
    mut csv: Option<&mut dyn Write>,
) -> Result<Recording> {
    if !Path::new(&format!("/proc/{pid}")).exists() {
        bail!("no process {pid}");
    }
    let page = page_kib();
    let mut probe = match method {
        Method::Pread => Some(Probe::open(pid)?),
        _ => None,
    };
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut rec = Recording {
        samples: 0,
        peak_rss_kib: 0,
        peak_threads: 0,
        vm_hwm_kib: None,
        wall_s: 0.0,
        cpu_s: 0.0,
        late_ticks: 0,
    };
    let mut tick = 0u32;
    if let Some(w) = csv.as_deref_mut() {
        writeln!(w, "t_ms,rss_kib,threads")?;
    }
    loop {
        let got = match probe.as_mut() {
            Some(p) => p.read(),
            None => read_once(pid, method, page),
        };
        let Some((rss, threads)) = got else { break };
        let now = t0.elapsed();
        rec.samples += 1;
        rec.peak_rss_kib = rec.peak_rss_kib.max(rss);
        rec.peak_threads = rec.peak_threads.max(threads);
        if let Some(w) = csv.as_deref_mut() {
            writeln!(w, "{},{rss},{threads}", now.as_millis())?;
        }
        if now >= duration {
            break;
        }
        tick += 1;
        let next = interval * tick;
        let now = t0.elapsed();
        if now > next + interval {
            rec.late_ticks += 1;
        }
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    rec.wall_s = t0.elapsed().as_secs_f64();
    rec.cpu_s = cpu_seconds() - cpu0;
    rec.vm_hwm_kib = vm_hwm(pid);
    if rec.samples == 0 {
        bail!("process {pid} could not be read (it exited, or its /proc files are not readable by this user)");
    }
    Ok(rec)
}

/// The command: record, write the CSV if asked, and print a summary.
pub fn run(req: &Request, csv_path: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let mut file = match csv_path {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("--csv {}: cannot create it", p.display()))?,
        )),
        None => None,
    };
    let csv = file.as_mut().map(|f| f as &mut dyn Write);
    if req.source != Source::Sampler {
        if !Path::new(&format!("/proc/{}", req.pid)).exists() {
            bail!("no process {}", req.pid);
        }
        match EventSeries::start(req.pid) {
            Ok(series) => {
                record_events(req.pid, series, req.duration, csv, out)?;
                if let Some(mut f) = file {
                    f.flush()?;
                }
                return Ok(());
            }
            Err(why) if req.source == Source::Events => {
                bail!("the kernel's rss_stat events cannot be had: {why}")
            }
            Err(why) => writeln!(out, "source: sampler (kernel events cannot be had: {why})")?,
        }
    }
    let rec = record(req.pid, req.interval, req.duration, req.method, csv)?;
    if let Some(mut f) = file {
        f.flush()?;
    }
    writeln!(
        out,
        "samples {} over {:.3} s (every {:?}, method {:?}); peak RSS {} KiB, peak threads {}; VmHWM {}",
        rec.samples,
        rec.wall_s,
        req.interval,
        req.method,
        rec.peak_rss_kib,
        rec.peak_threads,
        rec.vm_hwm_kib.map_or("n/a (process exited)".to_string(), |h| format!("{h} KiB"))
    )?;
    writeln!(
        out,
        "sampler cost: {:.4} s of CPU = {:.3}% of one core; {} late tick(s)",
        rec.cpu_s,
        100.0 * rec.cpu_s / rec.wall_s.max(1e-9),
        rec.late_ticks
    )?;
    Ok(())
}

/// Sleep until `duration` passes or `pid` exits (a pidfd turns readable when it
/// does), with the events recording; then rebuild, write the CSV and the summary.
fn record_events(
    pid: i32,
    series: EventSeries,
    duration: Duration,
    csv: Option<&mut dyn Write>,
    out: &mut dyn Write,
) -> Result<()> {
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let mut pfd = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let left = duration.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break;
        }
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd (a negative fd is ignored and poll just sleeps).
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            break;
        }
    }
    let vm_hwm_kib = vm_hwm(pid);
    let f = series.stop();
    if pidfd >= 0 {
        // SAFETY: closing the descriptor pidfd_open gave.
        unsafe { libc::close(pidfd) };
    }
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let r = &f.rebuilt;
    if let Some(w) = csv {
        writeln!(
            w,
            "t_ms,rss_kib,threads,rss_anon_kib,rss_file_kib,rss_shmem_kib"
        )?;
        for p in &r.points {
            writeln!(
                w,
                "{:.3},{},{},{},{},{}",
                p.t_ns as f64 / 1e6,
                p.rss_kib(),
                p.threads,
                p.anon_kib,
                p.file_kib,
                p.shmem_kib
            )?;
        }
    }
    let peak = r.peak().copied().unwrap_or(r.points[0]);
    writeln!(
        out,
        "source: kernel events; {} rss_stat records ({} lost), {} thread start(s) and {} end(s) over {wall_s:.3} s",
        r.rss_events, r.lost, r.thread_starts, r.thread_exits
    )?;
    writeln!(
        out,
        "peak RSS {} KiB at {:.3} ms, peak threads {}; VmHWM {}",
        peak.rss_kib(),
        peak.t_ns as f64 / 1e6,
        r.points.iter().map(|p| p.threads).max().unwrap_or(0),
        vm_hwm_kib.map_or("n/a (process exited)".to_string(), |h| format!("{h} KiB"))
    )?;
    writeln!(
        out,
        "recording cost: {cpu_s:.4} s of CPU = {:.3}% of one core; the collector woke {} time(s) for a full buffer",
        100.0 * cpu_s / wall_s.max(1e-9),
        f.wakeups
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_this_process_alike() {
        let pid = std::process::id() as i32;
        let mut results = Vec::new();
        for m in [Method::Pread, Method::Reopen, Method::Status] {
            let r = record(
                pid,
                Duration::from_millis(1),
                Duration::from_millis(20),
                m,
                None,
            )
            .unwrap();
            assert!(r.samples >= 5, "{m:?}: {} samples", r.samples);
            results.push(r.peak_rss_kib);
        }
        let (lo, hi) = (results.iter().min().unwrap(), results.iter().max().unwrap());
        assert!(hi - lo < hi / 4 + 1024, "{results:?}");
    }
}
