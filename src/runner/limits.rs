//! Check, before anything is spawned, that the largest cell can create its threads.
//!
//! Under a free-threaded build every Python thread can be inside the extension at once,
//! so a cell needs up to `python_threads x (rust_threads + 1)` threads together, plus a
//! few of the interpreter's own. The limits that can refuse them: RLIMIT_NPROC (counted
//! per user, over every process of that user; not applied to root), the kernel's
//! `threads-max` and `pid_max`, and the cgroup's `pids.max`.

use std::path::Path;

use anyhow::Result;

use crate::error::usage;

/// Threads the interpreter, the executor and the driver use besides the workload's.
const OVERHEAD_THREADS: u64 = 16;

/// Threads one child of this cell may have at the same time.
pub fn threads_needed(python_threads: u32, rust_threads: u32) -> u64 {
    python_threads as u64 * (rust_threads as u64 + 1) + OVERHEAD_THREADS
}

/// A limit with how much of it is already in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub name: String,
    pub max: u64,
    pub used: u64,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Threads of all processes of user `uid` (what RLIMIT_NPROC counts).
fn user_threads(uid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for e in dir.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        };
        if field("Uid:") == Some(uid as u64) {
            total += field("Threads:").unwrap_or(0);
        }
    }
    total
}

/// The cgroup v2 folder of this process.
fn own_cgroup() -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')))
}

/// Every limit that applies to this process, with current use.
pub fn current_limits() -> Vec<Limit> {
    let mut out = Vec::new();
    let uid = nix::unistd::getuid();
    if !uid.is_root() {
        if let Ok((soft, _)) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NPROC)
        {
            if soft != nix::sys::resource::RLIM_INFINITY {
                out.push(Limit {
                    name: "RLIMIT_NPROC (ulimit -u)".into(),
                    max: soft,
                    used: user_threads(uid.as_raw()),
                });
            }
        }
    }
    let loadavg_total = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok())
        .unwrap_or(0);
    if let Some(max) = read_u64(Path::new("/proc/sys/kernel/threads-max")) {
        out.push(Limit {
            name: "kernel.threads-max".into(),
            max,
            used: loadavg_total,
        });
    }
    if let Some(max) = read_u64(Path::new("/proc/sys/kernel/pid_max")) {
        out.push(Limit {
            name: "kernel.pid_max".into(),
            max,
            used: loadavg_total,
        });
    }
    if let Some(cg) = own_cgroup() {
        if let (Some(max), Some(used)) = (
            read_u64(&cg.join("pids.max")),
            read_u64(&cg.join("pids.current")),
        ) {
            out.push(Limit {
                name: format!("cgroup pids.max ({})", cg.display()),
                max,
                used,
            });
        }
    }
    out
}

/// Refuse a grid whose largest cell cannot get its threads.
pub fn check(max_python_threads: u32, max_rust_threads: u32, limits: &[Limit]) -> Result<()> {
    let needed = threads_needed(max_python_threads, max_rust_threads);
    for l in limits {
        let free = l.max.saturating_sub(l.used);
        if needed > free {
            return Err(usage(format!(
                "--python-threads {max_python_threads} x --rust-threads {max_rust_threads} needs up to {needed} threads at once, \
                 but {} allows {} more ({} of {} in use); lower the thread counts or raise the limit",
                l.name, free, l.used, l.max
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_biggest_cell_must_fit_every_limit() {
        let limits = vec![
            Limit {
                name: "RLIMIT_NPROC (ulimit -u)".into(),
                max: 500,
                used: 100,
            },
            Limit {
                name: "kernel.threads-max".into(),
                max: 100_000,
                used: 300,
            },
        ];
        // 8 x (50 + 1) + 16 = 424 > 400 free.
        assert_eq!(threads_needed(8, 50), 424);
        let err = check(8, 50, &limits).unwrap_err().to_string();
        assert!(
            err.contains("RLIMIT_NPROC") && err.contains("424") && err.contains("400 more"),
            "{err}"
        );
        assert!(check(4, 50, &limits).is_ok());
    }

    #[test]
    fn this_machine_reports_kernel_limits() {
        let limits = current_limits();
        assert!(limits
            .iter()
            .any(|l| l.name == "kernel.threads-max" && l.max > 0));
    }
}
