//! The end of a child: wait for it with a deadline (on a pidfd), kill its whole
//! process group when it does not end, and say how it ended. A failed run's
//! [`Failure`] is completed here with the child's exit status and its last stderr.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::pipes::Pipes;
use super::{fail, Fail};
use crate::results::{Failure, FailureKind, Metrics};

/// After its last phase the child has this long to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(30);

/// wait4 with a deadline; returns (wait status, rusage) or None if it did not end.
/// Waits on a pidfd (Linux 5.3+), so it returns the moment the child ends; falls back
/// to polling every 2 ms where pidfds are not available.
pub fn reap(pid: i32, within: Duration) -> Option<(i32, libc::rusage)> {
    let deadline = Instant::now() + within;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: the fd was just returned to us and is owned by nothing else.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            return Some((status, usage));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if r < 0 || left.is_zero() {
            return None;
        }
        match &pidfd {
            Some(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                use std::os::fd::AsFd;
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let ms = PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
                    .unwrap_or(PollTimeout::ZERO);
                let _ = poll(&mut fds, ms);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

pub fn kill_group(pid: i32) {
    // The child leads its own process group; -pid reaches everything it started.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// (signal, exit code, "killed by SIGSEGV" / "exited with code 3").
pub fn describe_status(status: i32) -> (Option<i32>, Option<i32>, String) {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let name = nix::sys::signal::Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or(format!("signal {sig}"));
        (Some(sig), None, format!("killed by {name}"))
    } else if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (None, Some(code), format!("exited with code {code}"))
    } else {
        (None, None, format!("ended with wait status {status}"))
    }
}

/// The child went through every phase: it must now exit with 0. Its rusage gives
/// `rusage_maxrss_kib`.
pub fn after_last_phase(pid: i32, mut metrics: Metrics) -> Result<Metrics, Fail> {
    match reap(pid, EXIT_WITHIN) {
        Some((status, usage)) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {
            metrics.rusage_maxrss_kib = usage.ru_maxrss as u64;
            Ok(metrics)
        }
        Some((status, _)) => Err(fail(
            FailureKind::Exit,
            format!(
                "the child {} after its last phase",
                describe_status(status).2
            ),
        )),
        None => Err(fail(
            FailureKind::Timeout,
            "the child did not exit after its last phase",
        )),
    }
}

/// A run failed while the child `pid` may still be running: reap it if it ended on
/// its own (and say how), kill it otherwise, and keep what it said last.
pub fn after_failure(mut f: Fail, pid: i32, pipes: &mut Pipes) -> Failure {
    let (mut signal, mut exit_code) = (None, None);
    match reap(pid, Duration::from_millis(200)) {
        // It ended on its own: say how.
        Some((st, _)) => {
            let (sig, code, text) = describe_status(st);
            if sig.is_some() {
                f.kind = FailureKind::Crashed;
            }
            if matches!(
                f.kind,
                FailureKind::Exit | FailureKind::Crashed | FailureKind::Protocol
            ) {
                f.message = format!("{}; the child {text}", f.message);
            }
            signal = sig;
            exit_code = code;
        }
        // Still running (timeout, RSS guard, interrupt, bad protocol): kill it.
        None => {
            kill_group(pid);
            let _ = reap(pid, Duration::from_secs(10));
        }
    }
    // What the child said last (a faulthandler traceback, an exception).
    pipes.drain_stderr(Duration::from_millis(500));
    // Anything the child started in its group goes too.
    kill_group(pid);
    Failure {
        kind: f.kind,
        message: f.message,
        signal,
        exit_code,
        stderr_tail: pipes.stderr_text(),
    }
}
