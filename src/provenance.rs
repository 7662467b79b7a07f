//! Where and with what a measurement was taken: glibc and its tunables, kernel, CPUs,
//! affinity, THP mode, cgroup memory limit, CPU model, interpreters and extension
//! builds. Recorded once per report folder (plan.json).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::ext::ExtBuild;
use crate::python::inspect::Interpreter;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// gnu_get_libc_version() of this process, e.g. "2.36".
    pub glibc_version: String,
    /// The dynamic loader this process runs under.
    pub ld_so: Option<PathBuf>,
    /// `ld.so --list-tunables` (glibc >= 2.33), verbatim; empty if unsupported.
    pub ld_so_list_tunables: String,
    /// uname: sysname release version machine.
    pub kernel: String,
    pub online_cpus: usize,
    /// CPUs this process may run on.
    pub affinity: Vec<usize>,
    /// /sys/kernel/mm/transparent_hugepage/enabled, the selected mode.
    pub thp_enabled: String,
    pub thp_defrag: String,
    /// memory.max of this process's cgroup ("max" when unlimited), if cgroup v2.
    pub cgroup_memory_max: Option<String>,
    pub cpu_model: String,
    pub hostname: String,
}

/// Everything plan.json records besides the plan itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub tool: String,
    pub tool_version: String,
    pub host: Host,
    pub interpreters: Vec<Interpreter>,
    pub extensions: Vec<ExtBuild>,
    pub command_line: Vec<String>,
    pub created_unix_s: f64,
}

/// The mode in brackets of a THP sysfs file: "always [madvise] never" -> "madvise".
pub fn bracketed(text: &str) -> String {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or(text.trim())
        .to_string()
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The loader mapped into this process (from /proc/self/maps).
pub fn loader_path() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            name.starts_with("ld-linux") || name.starts_with("ld64") || name.starts_with("ld-2.")
        })
        .map(PathBuf::from)
}

/// The glibc arena-sweep itself runs on (the arena reader's crate asks it).
pub use glibc_arena_reader::process::linkage::own_glibc_version as glibc_version;

/// `ld.so --list-tunables`, or "" when the loader does not support it (glibc < 2.33).
pub fn list_tunables(ld_so: &std::path::Path) -> String {
    Command::new(ld_so)
        .arg("--list-tunables")
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub(crate) fn own_cgroup_file(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    read_trim(&format!(
        "/sys/fs/cgroup{}/{name}",
        if rel == "/" { "" } else { rel }
    ))
}

impl Host {
    pub fn collect() -> Host {
        let uts = nix::sys::utsname::uname().ok();
        let kernel = uts
            .map(|u| {
                format!(
                    "{} {} {} {}",
                    u.sysname().to_string_lossy(),
                    u.release().to_string_lossy(),
                    u.version().to_string_lossy(),
                    u.machine().to_string_lossy()
                )
            })
            .unwrap_or_default();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&i| set.is_set(i).unwrap_or(false))
                    .collect()
            })
            .unwrap_or_default();
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
                })
            })
            .unwrap_or_default();
        let ld_so = loader_path();
        Host {
            glibc_version: glibc_version(),
            ld_so_list_tunables: ld_so.as_deref().map(list_tunables).unwrap_or_default(),
            ld_so,
            kernel,
            // SAFETY: sysconf is always safe to call.
            online_cpus: unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize,
            affinity,
            thp_enabled: read_trim("/sys/kernel/mm/transparent_hugepage/enabled")
                .map(|t| bracketed(&t))
                .unwrap_or_default(),
            thp_defrag: read_trim("/sys/kernel/mm/transparent_hugepage/defrag")
                .map(|t| bracketed(&t))
                .unwrap_or_default(),
            cgroup_memory_max: own_cgroup_file("memory.max"),
            cpu_model,
            hostname,
        }
    }

    /// "2 CPUs, glibc 2.36, THP madvise"
    pub fn short(&self) -> String {
        format!(
            "{} CPUs, glibc {}, THP {}",
            self.online_cpus, self.glibc_version, self.thp_enabled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thp_mode_is_the_bracketed_word() {
        assert_eq!(bracketed("always [madvise] never"), "madvise");
        assert_eq!(
            bracketed("[always] defer defer+madvise madvise never"),
            "always"
        );
    }

    #[test]
    fn this_host_has_a_loader_and_glibc() {
        let h = Host::collect();
        assert!(h.glibc_version.starts_with("2."), "{}", h.glibc_version);
        assert!(h.ld_so.is_some());
        assert!(h.online_cpus >= 1);
        assert!(!h.affinity.is_empty());
    }
}
