//! Measurements the parent takes of a child from `/proc/<pid>`: phase snapshots
//! (`status` + `smaps`, through the procfs crate) and a time series of RSS and thread
//! count taken while the workload runs: sampled (`series.rs`), or exact from the
//! kernel's `kmem:rss_stat` events (`events/`), which `sample PID` records too
//! (`record.rs`).

pub mod events;
pub mod record;
pub mod series;
pub mod smaps;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use smaps::{RegionDelta, Regions};

/// What `/proc/<pid>/status` and `smaps` said at one paused point of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// VmRSS.
    pub rss_kib: u64,
    /// VmHWM: the kernel's peak RSS so far.
    pub hwm_kib: u64,
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub rss_shmem_kib: u64,
    pub vm_size_kib: u64,
    pub threads: u64,
    /// The smaps breakdown (all zero when `regions_measured` is false).
    pub regions: Regions,
    /// Whether smaps was read for this snapshot. The after-trim and released phases
    /// read status only: their region split feeds nothing, and smaps costs a
    /// millisecond or so per read on a live child.
    #[serde(default = "measured")]
    pub regions_measured: bool,
}

fn measured() -> bool {
    true
}

/// Parse `/proc/<pid>/status` text.
pub fn parse_status<R: std::io::Read>(r: R) -> Result<Snapshot> {
    use procfs::FromRead;
    let s = procfs::process::Status::from_read(r).context("unreadable /proc status")?;
    Ok(Snapshot {
        rss_kib: s.vmrss.unwrap_or(0),
        hwm_kib: s.vmhwm.unwrap_or(0),
        rss_anon_kib: s.rssanon.unwrap_or(0),
        rss_file_kib: s.rssfile.unwrap_or(0),
        rss_shmem_kib: s.rssshmem.unwrap_or(0),
        vm_size_kib: s.vmsize.unwrap_or(0),
        threads: s.threads,
        regions: Regions::default(),
        regions_measured: false,
    })
}

/// A snapshot from `/proc/<pid>/status` alone (no region split).
pub fn snapshot_status(pid: i32) -> Result<Snapshot> {
    let path = format!("/proc/{pid}/status");
    parse_status(std::fs::File::open(&path).with_context(|| format!("cannot read {path}"))?)
}

/// Take a snapshot of a live process.
pub fn snapshot(pid: i32) -> Result<Snapshot> {
    with_regions(pid, snapshot_status(pid)?)
}

/// A status snapshot completed with the region split from `/proc/<pid>/smaps`.
pub fn with_regions(pid: i32, mut snap: Snapshot) -> Result<Snapshot> {
    let dir = format!("/proc/{pid}");
    let text = std::fs::read(format!("{dir}/smaps"))
        .with_context(|| format!("cannot read {dir}/smaps"))?;
    let maps =
        smaps::parse_bytes(&text).map_err(|e| anyhow::anyhow!("unreadable {dir}/smaps: {e}"))?;
    snap.regions = smaps::classify(&maps);
    snap.regions_measured = true;
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fixture_from_a_free_threaded_run() {
        let text = include_str!("../../tests/fixtures/proc/status-nogil-done.txt");
        let s = parse_status(text.as_bytes()).unwrap();
        // Values as printed in the captured file.
        let field = |name: &str| -> u64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        assert_eq!(s.rss_kib, field("VmRSS:"));
        assert_eq!(s.hwm_kib, field("VmHWM:"));
        assert_eq!(s.rss_anon_kib + s.rss_file_kib + s.rss_shmem_kib, s.rss_kib);
        assert_eq!(s.threads, field("Threads:"));
    }
}
