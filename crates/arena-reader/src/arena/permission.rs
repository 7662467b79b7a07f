//! Which rule refused reading a process's memory, and what to do about it.
//!
//! `process_vm_readv`, `/proc/PID/mem` and ptrace all take the kernel's ptrace
//! *attach* access check (`__ptrace_may_access`): the caller's uid must match the
//! target's real, effective and saved uids, and the target must be dumpable, unless
//! the caller has CAP_SYS_PTRACE. Yama (`/proc/sys/kernel/yama/ptrace_scope`) adds:
//! 1 = only a process's ancestors (or the one it named with `PR_SET_PTRACER`),
//! 2 = only CAP_SYS_PTRACE, 3 = nobody. smaps takes the weaker *read* check, which
//! Yama leaves alone, so inspect can often show the smaps view where reading the
//! arenas is refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The rule that refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum PermissionRule {
    /// The target runs as another user and the caller lacks CAP_SYS_PTRACE.
    OtherUser { target_uid: u32, uid: u32 },
    /// Yama's `ptrace_scope`.
    Yama { scope: u8 },
    /// Same user and Yama allows it, yet refused: the target is not dumpable (setuid,
    /// setgid, or `prctl(PR_SET_DUMPABLE, 0)`) or a security module said no.
    NotDumpable,
}

fn user(uid: u32) -> String {
    crate::process::target::user_name(uid)
}

impl PermissionRule {
    /// What to do, as a sentence.
    pub fn fix(&self, pid: i32) -> String {
        match self {
            PermissionRule::OtherUser { target_uid, .. } => {
                let owner = user(*target_uid);
                if *target_uid == 0 {
                    format!("run `arena-sweep inspect {pid}` as root (e.g. with sudo)")
                } else {
                    format!("run `arena-sweep inspect {pid}` as {owner} (`sudo -u {owner} arena-sweep inspect {pid}`) or as root")
                }
            }
            PermissionRule::Yama { scope: 1 } => format!(
                "run `sudo arena-sweep inspect {pid}` (root has CAP_SYS_PTRACE), start the process from arena-sweep's own shell so that it is a descendant, or allow it for everyone with `sudo sysctl kernel.yama.ptrace_scope=0`"
            ),
            PermissionRule::Yama { scope: 2 } => format!(
                "run `sudo arena-sweep inspect {pid}`: with ptrace_scope=2 only CAP_SYS_PTRACE may read another process"
            ),
            PermissionRule::Yama { .. } => "nothing short of a reboot: ptrace_scope=3 cannot be lowered while the system runs".into(),
            PermissionRule::NotDumpable => format!("run `sudo arena-sweep inspect {pid}`"),
        }
    }
}

impl fmt::Display for PermissionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermissionRule::OtherUser { target_uid, uid } => write!(
                f,
                "the process runs as {}, you are {}, and you lack CAP_SYS_PTRACE",
                user(*target_uid),
                user(*uid)
            ),
            PermissionRule::Yama { scope } => write!(
                f,
                "Yama's kernel.yama.ptrace_scope is {scope} ({})",
                match scope {
                    1 => "only a process's ancestors may read its memory",
                    2 => "only CAP_SYS_PTRACE may read another process's memory",
                    _ => "no process may read another's memory",
                }
            ),
            PermissionRule::NotDumpable => f.write_str(
                "the process is not dumpable (setuid, setgid, or prctl(PR_SET_DUMPABLE, 0)) or a security module (AppArmor, SELinux) refuses",
            ),
        }
    }
}

/// `/proc/sys/kernel/yama/ptrace_scope`, when Yama is built in.
pub fn yama_scope() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Does this process have CAP_SYS_PTRACE (bit 19 of CapEff)?
pub fn has_cap_sys_ptrace() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 19) != 0)
}

fn status_field(pid: i32, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
}

/// Is `ancestor` among `pid`'s parents?
fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..4096 {
        let Some(ppid) = status_field(p, "PPid:").and_then(|v| v.parse::<i32>().ok()) else {
            return false;
        };
        if ppid == ancestor {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        p = ppid;
    }
    false
}

/// The rule most likely to have refused reading `pid`'s memory.
pub fn diagnose(pid: i32) -> PermissionRule {
    let uid = nix::unistd::getuid().as_raw();
    let cap = has_cap_sys_ptrace();
    let uids: Vec<u32> = status_field(pid, "Uid:")
        .map(|v| {
            v.split_whitespace()
                .filter_map(|u| u.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if !cap && uids.iter().take(3).any(|&u| u != uid) {
        let target_uid = uids.first().copied().unwrap_or(u32::MAX);
        return PermissionRule::OtherUser { target_uid, uid };
    }
    match yama_scope() {
        Some(s @ 3..) => return PermissionRule::Yama { scope: s },
        Some(2) if !cap => return PermissionRule::Yama { scope: 2 },
        Some(1) if !cap && !descends_from(pid, std::process::id() as i32) => {
            return PermissionRule::Yama { scope: 1 }
        }
        _ => {}
    }
    PermissionRule::NotDumpable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_says_what_refused_and_what_to_do() {
        let other = PermissionRule::OtherUser {
            target_uid: 0,
            uid: 65534,
        };
        assert!(other.to_string().contains("runs as root"), "{other}");
        assert!(other.to_string().contains("CAP_SYS_PTRACE"));
        assert!(other.fix(7).contains("as root"));
        let yama = PermissionRule::Yama { scope: 1 };
        assert!(yama.to_string().contains("ptrace_scope is 1"));
        assert!(yama.fix(7).contains("ptrace_scope=0"));
        assert!(PermissionRule::Yama { scope: 3 }.fix(7).contains("reboot"));
        assert!(PermissionRule::NotDumpable.to_string().contains("dumpable"));
    }

    #[test]
    fn this_process_descends_from_its_parent() {
        let me = std::process::id() as i32;
        let parent = nix::unistd::getppid().as_raw();
        assert!(descends_from(me, parent));
        assert!(!descends_from(parent, me));
    }
}
