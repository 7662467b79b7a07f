//! Error kinds that decide the exit code. Everything else is an `anyhow::Error`.
//!
//! A [`UsageError`] anywhere in an error chain makes the process exit with 2: the user
//! asked for something that cannot work (a bad flag, a GIL build passed as
//! `--python-nogil`, more threads than the system allows). Run failures exit with 1.

use std::fmt;

/// The user's input cannot work; the message says what and how to fix it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Build an `anyhow::Error` that exits with code 2.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// 2 for usage errors anywhere in the chain, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|e| e.is::<UsageError>() || e.is::<crate::tunables::PlanError>())
    {
        2
    } else {
        1
    }
}
