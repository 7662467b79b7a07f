//! Error kinds, and the one place that turns a command's outcome into the process's
//! exit code ([`Exit`]). Everything else is an `anyhow::Error`.
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

/// How the process ends. Every exit code arena-sweep chooses is decided here, so a
/// pipeline can rely on one table:
///
/// | code | meaning |
/// |------|---------|
/// | 0    | success |
/// | 1    | a run or a check failed, or a plan is left incomplete |
/// | 2    | usage: the input cannot work (flags, files, a report folder of another format) |
/// | 3    | a `--fail-on-*` gate tripped |
/// | 130  | interrupted by SIGINT or SIGTERM; the folder is valid and `--resume` completes it |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failure,
    Usage,
    Gate,
    Interrupted,
}

/// How a sweep (or a merge of shards) ended, for [`Exit::of_sweep`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepEnd {
    /// Every planned run has a record.
    pub complete: bool,
    /// SIGINT or SIGTERM stopped it.
    pub interrupted: bool,
    /// The report's gates tripped.
    pub gate_tripped: bool,
    /// Recorded runs that failed.
    pub failed_runs: usize,
}

impl Exit {
    /// The process's exit code.
    pub const fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Gate => 3,
            Exit::Interrupted => 130,
        }
    }

    /// A command that failed: 2 for a usage error anywhere in the chain, 1 otherwise.
    /// A broken pipe (`arena-sweep ... | head`) is a success: the reader had enough.
    pub fn of_error(err: &anyhow::Error) -> Exit {
        let broken_pipe = err.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if broken_pipe {
            Exit::Success
        } else if err
            .chain()
            .any(|e| e.is::<UsageError>() || e.is::<crate::located::PlanError>())
        {
            Exit::Usage
        } else {
            Exit::Failure
        }
    }

    /// A report's gates: [`Exit::Gate`] when one tripped.
    pub fn of_gate(tripped: bool) -> Exit {
        if tripped {
            Exit::Gate
        } else {
            Exit::Success
        }
    }

    /// A sweep that ran. An incomplete plan comes first (130 when a signal stopped
    /// it, else 1); then a tripped gate (3); then failed runs, which are results too
    /// (recorded, with reasons) but not a clean success (1).
    pub fn of_sweep(end: SweepEnd) -> Exit {
        match end {
            SweepEnd {
                complete: false,
                interrupted: true,
                ..
            } => Exit::Interrupted,
            SweepEnd {
                complete: false, ..
            } => Exit::Failure,
            SweepEnd {
                gate_tripped: true, ..
            } => Exit::Gate,
            SweepEnd { failed_runs, .. } if failed_runs > 0 => Exit::Failure,
            _ => Exit::Success,
        }
    }

    /// A command that judges its own outcome as passed or not (`doctor`'s checks,
    /// `inspect`): 0 or 1.
    pub fn of_success(ok: bool) -> Exit {
        if ok {
            Exit::Success
        } else {
            Exit::Failure
        }
    }
}

/// The exit code of a failed command: 2 for usage errors anywhere in the chain, 1
/// otherwise (see [`Exit::of_error`]).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    Exit::of_error(err).code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_usage_failure_or_success() {
        assert_eq!(Exit::of_error(&usage("bad flag")), Exit::Usage);
        let wrapped = usage("bad flag").context("while building the plan");
        assert_eq!(exit_code(&wrapped), 2);
        assert_eq!(
            Exit::of_error(&anyhow::anyhow!("a run failed")),
            Exit::Failure
        );
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(
            Exit::of_error(&pipe.context("writing the summary")),
            Exit::Success
        );
    }

    #[test]
    fn a_sweep_ends_incomplete_then_gated_then_failed() {
        let end = |complete, interrupted, gate_tripped, failed_runs| {
            Exit::of_sweep(SweepEnd {
                complete,
                interrupted,
                gate_tripped,
                failed_runs,
            })
            .code()
        };
        assert_eq!(end(true, false, false, 0), 0);
        assert_eq!(end(true, false, false, 2), 1);
        assert_eq!(end(true, false, true, 2), 3);
        assert_eq!(end(false, false, true, 0), 1);
        assert_eq!(end(false, true, true, 1), 130);
        // A signal after the last run changes nothing: the plan is complete.
        assert_eq!(end(true, true, false, 0), 0);
        assert_eq!(Exit::of_gate(true).code(), 3);
        assert_eq!(Exit::of_gate(false).code(), 0);
    }
}
