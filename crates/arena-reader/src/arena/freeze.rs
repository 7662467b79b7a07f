//! `--freeze`: stop every thread of the target for an exact snapshot.
//!
//! Each thread is attached with `PTRACE_SEIZE` and stopped with `PTRACE_INTERRUPT`
//! (no signal is sent, so the process's own signal state is untouched), then detached.
//! The kernel detaches every tracee when the tracer exits, however it exits, so a
//! crash or a Ctrl-C of arena-sweep cannot leave the process stopped, which a SIGSTOP
//! could. Threads started while the others were being stopped are caught by listing
//! `/proc/PID/task` again until no new one appears. A signal that reached a thread
//! while it was held is handed back to it on detach.
//!
//! ptrace ties tracees to the thread that attached them: stop and release on the
//! same thread ([`Frozen`] is not `Send`).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Why the process could not be stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeError {
    Gone,
    Denied,
    /// A thread did not stop within the time allowed (e.g. stuck in the kernel).
    Stuck {
        tid: i32,
    },
    Other {
        errno: i32,
    },
}

/// A stopped process; dropping it (or [`Frozen::release`]) lets it run again.
pub struct Frozen {
    /// Thread id -> a signal to hand back on detach.
    held: BTreeMap<i32, Option<Signal>>,
    started: Instant,
    _not_send: PhantomData<*const ()>,
}

/// Longest wait for one thread to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

fn tasks(pid: i32) -> Result<Vec<i32>, FreezeError> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|_| FreezeError::Gone)?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// Wait for `tid`'s stop; returns the signal to re-inject, or None if it exited.
fn wait_stop(tid: i32) -> Result<Option<Option<Signal>>, FreezeError> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let flags = WaitPidFlag::__WALL | WaitPidFlag::WNOHANG;
        match waitpid(Pid::from_raw(tid), Some(flags)) {
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    return Err(FreezeError::Stuck { tid });
                }
                std::thread::sleep(Duration::from_micros(20));
            }
            Ok(WaitStatus::PtraceEvent(..)) => return Ok(Some(None)),
            // A signal arrived first: the thread is stopped on its delivery; give the
            // signal back when detaching.
            Ok(WaitStatus::Stopped(_, sig)) => return Ok(Some(Some(sig))),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                return Ok(None)
            }
            Ok(_) => return Ok(Some(None)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(FreezeError::Other { errno: e as i32 }),
        }
    }
}

impl Frozen {
    /// Stop every thread of `pid`.
    pub fn stop(pid: i32) -> Result<Frozen, FreezeError> {
        let mut f = Frozen {
            held: BTreeMap::new(),
            started: Instant::now(),
            _not_send: PhantomData,
        };
        for _round in 0..64 {
            let new: Vec<i32> = tasks(pid)?
                .into_iter()
                .filter(|t| !f.held.contains_key(t))
                .collect();
            if new.is_empty() {
                return Ok(f);
            }
            let mut seized = Vec::new();
            for tid in new {
                match ptrace::seize(Pid::from_raw(tid), ptrace::Options::empty()) {
                    Ok(()) => seized.push(tid),
                    // The thread exited between the listing and now.
                    Err(Errno::ESRCH) if tid != pid => {}
                    Err(Errno::ESRCH) => return Err(FreezeError::Gone),
                    Err(Errno::EPERM | Errno::EACCES) => return Err(FreezeError::Denied),
                    Err(e) => return Err(FreezeError::Other { errno: e as i32 }),
                }
            }
            for &tid in &seized {
                // Held from here on, so that Drop detaches it whatever happens next.
                f.held.insert(tid, None);
                let _ = ptrace::interrupt(Pid::from_raw(tid));
            }
            for tid in seized {
                match wait_stop(tid)? {
                    Some(sig) => {
                        f.held.insert(tid, sig);
                    }
                    None if tid == pid => return Err(FreezeError::Gone),
                    None => {
                        f.held.remove(&tid);
                    }
                }
            }
        }
        // Threads keep appearing faster than they can be stopped.
        Err(FreezeError::Stuck { tid: pid })
    }

    /// Let the process run again; returns how long it was stopped.
    pub fn release(mut self) -> Duration {
        self.detach_all();
        self.started.elapsed()
    }

    /// Threads held.
    pub fn threads(&self) -> usize {
        self.held.len()
    }

    fn detach_all(&mut self) {
        for (tid, sig) in std::mem::take(&mut self.held) {
            // ESRCH: it exited meanwhile. Nothing else is possible for a seized tracee.
            let _ = ptrace::detach(Pid::from_raw(tid), sig);
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.detach_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
    }

    #[test]
    fn a_frozen_process_is_stopped_and_runs_again_after_release() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let f = Frozen::stop(pid as i32).unwrap();
        assert_eq!(f.threads(), 1);
        // 't': stopped by a tracer.
        assert_eq!(state(pid), 't');
        let held = f.release();
        assert!(held < Duration::from_secs(2), "{held:?}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(state(pid), 'S');
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn dropping_a_freeze_releases_the_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        {
            let _f = Frozen::stop(pid as i32).unwrap();
            assert_eq!(state(pid), 't');
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(state(pid), 'S');
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
