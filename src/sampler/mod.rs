//! Measurements the parent takes of a child from `/proc/<pid>`: phase snapshots
//! (`status` + `smaps`, parsed by `process::{status, smaps}` of the arena reader's
//! crate, `glibc_arena_reader`) and a time series of RSS and thread count taken while
//! the workload runs: sampled (`series.rs`), or exact from the kernel's `kmem:rss_stat`
//! events (`events/`), which `sample PID` records too (`record.rs`).

pub mod events;
pub mod record;
pub mod series;

use anyhow::{Context, Result};

/// The smaps classifier and the status snapshot belong to the arena reader's crate,
/// which reads the same files of any process; a sweep's child is one.
pub use glibc_arena_reader::process::smaps;
pub use glibc_arena_reader::process::status::{parse_status, Snapshot};
pub use smaps::{RegionDelta, Regions};

/// A snapshot from `/proc/<pid>/status` alone (no region split).
pub fn snapshot_status(pid: i32) -> Result<Snapshot> {
    let path = format!("/proc/{pid}/status");
    let file = std::fs::File::open(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(parse_status(file)?)
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
