//! The event series against the real kernel and a real CPython child (Debian's
//! /usr/bin/python3): what it rebuilds must be what /proc says, and the threads the
//! child starts and joins must be counted.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use super::*;

/// Waits for "go", starts 4 threads that each fill 8 MiB and end once all 4 have
/// (so 4 are alive at once), drops half of what they made, says "done", waits for "go" and exits.
const CHILD: &str = r#"
import sys, threading
print("ready", flush=True)
sys.stdin.readline()
keep = []
together = threading.Barrier(4)
def work():
    keep.append(bytearray(8 << 20))
    together.wait()
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
del keep[:2]
print("done", flush=True)
sys.stdin.readline()
"#;

#[test]
#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root (perf events) and Debian's python3: the system tier, scripts/test.sh"
)]
fn the_rebuilt_series_is_what_proc_says_and_counts_every_thread() {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", CHILD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("Debian's /usr/bin/python3");
    let pid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let before = crate::sampler::snapshot_status(pid).unwrap();
    let series = EventSeries::start(pid).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "done");
    // A joined Python thread may still be ending in the kernel for a moment: wait
    // until only the main thread is left. Then nothing moves until the next "go".
    let t = std::time::Instant::now();
    while crate::sampler::snapshot_status(pid).unwrap().threads > 1 {
        assert!(t.elapsed().as_secs() < 5, "the child's threads did not end");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    series.checkpoint();
    let at_done_ms = series.elapsed_ms();
    let proc_done = crate::sampler::snapshot_status(pid).unwrap();
    let finished = series.stop();
    writeln!(stdin, "go").unwrap();
    child.wait().unwrap();

    let r = &finished.rebuilt;
    let done = r.at((at_done_ms * 1e6) as u64).unwrap();
    assert_eq!(
        (done.anon_kib, done.file_kib, done.shmem_kib),
        (
            proc_done.rss_anon_kib,
            proc_done.rss_file_kib,
            proc_done.rss_shmem_kib
        ),
        "rebuilt RSS by kind at done vs /proc/{pid}/status"
    );
    assert_eq!(done.threads as u64, proc_done.threads);
    // 4 threads of 8 MiB each at once at most, 16 MiB dropped by the end.
    let peak = r.peak().unwrap();
    assert!(
        peak.rss_kib() >= before.rss_kib + 4 * 8 * 1024 - 1024,
        "peak {} KiB, before {} KiB",
        peak.rss_kib(),
        before.rss_kib
    );
    assert!(
        peak.rss_kib().abs_diff(proc_done.hwm_kib) <= vm_hwm_slack_kib(),
        "peak {} KiB vs VmHWM {} KiB (bound {} KiB)",
        peak.rss_kib(),
        proc_done.hwm_kib,
        vm_hwm_slack_kib()
    );
    assert_eq!((r.thread_starts, r.thread_exits), (4, 4));
    assert_eq!(
        r.points.iter().map(|p| p.threads).max(),
        Some(before.threads as u32 + 4)
    );
    // 32 MiB of touched pages: one record per page fault, or fewer with huge pages.
    assert!(r.rss_events > 1000, "{} records", r.rss_events);
    assert_eq!(r.lost, 0);
    assert_eq!(
        finished.wakeups, 0,
        "the collector woke before the buffer filled"
    );
}

#[test]
fn kernel_releases_compare_by_major_and_minor() {
    assert_eq!(kernel_version("6.18.44-fc-v1300"), Some((6, 18)));
    assert_eq!(kernel_version("5.15.0-91-generic"), Some((5, 15)));
    assert!(kernel_version("6.1.0").unwrap() < MIN_KERNEL);
    assert_eq!(kernel_version("x"), None);
}
