//! Why a process's arenas could not be read ([`ReadError`]), each with what to do.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::permission::PermissionRule;

/// What makes a process's allocator unreadable by arena-sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Unsupported {
    /// Not glibc: musl, or a static program with its own allocator.
    Libc(String),
    /// glibc, but its version could not be read (the note says why).
    UnknownVersion(String),
    /// glibc at a version whose layout is not known here (the text says why).
    Version(String),
    /// A 32-bit process, or an architecture other than x86_64 and aarch64.
    Arch(String),
    /// Another allocator serves malloc (a preloaded jemalloc, mimalloc, tcmalloc).
    Allocator(String),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Libc(s)
            | Unsupported::UnknownVersion(s)
            | Unsupported::Version(s)
            | Unsupported::Arch(s)
            | Unsupported::Allocator(s) => f.write_str(s),
        }
    }
}

/// Why [`read`](super::read) gave no snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("reading PID {pid}'s memory is refused: {rule}. To read its arenas, {}", rule.fix(*pid))]
    Permission { pid: i32, rule: PermissionRule },
    #[error("glibc's arenas cannot be read in PID {pid}: {why}")]
    Unsupported { pid: i32, why: Unsupported },
    #[error("PID {pid} exited while its arenas were read")]
    ProcessGone { pid: i32 },
    #[error(
        "PID {pid}'s arenas could not be read consistently after {attempts} attempt(s): {why}"
    )]
    Inconsistent {
        pid: i32,
        attempts: u32,
        why: String,
    },
    #[error("PID {pid} could not be stopped: {why}")]
    Freeze { pid: i32, why: String },
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
}

impl ReadError {
    /// A short name for scripts (`inspect --json` writes it as `arenas_error.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Permission { .. } => "permission",
            ReadError::Unsupported { .. } => "unsupported",
            ReadError::ProcessGone { .. } => "process_gone",
            ReadError::Inconsistent { .. } => "inconsistent",
            ReadError::Freeze { .. } => "freeze",
            ReadError::Io { .. } => "io",
        }
    }
}
