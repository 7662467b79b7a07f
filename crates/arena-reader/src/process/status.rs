//! `/proc/<pid>/status` as a [`Snapshot`]: RSS and its anonymous/file/shmem split,
//! the peak (VmHWM), the address space and the threads, with room for the smaps region
//! split ([`super::smaps`]) that `target::observe` fills in.

use serde::{Deserialize, Serialize};

use super::smaps::Regions;

/// What `/proc/<pid>/status` and `smaps` said at one moment.
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

/// Parse `/proc/<pid>/status` text. An unreadable file is an
/// [`InvalidData`](std::io::ErrorKind::InvalidData) error saying why.
pub fn parse_status<R: std::io::Read>(r: R) -> std::io::Result<Snapshot> {
    use procfs::FromRead;
    let s = procfs::process::Status::from_read(r).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unreadable /proc status: {e}"),
        )
    })?;
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
