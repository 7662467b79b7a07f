//! Running children: the `run` command's stages (`command`), the executor (one run
//! in a fresh process, behind the `Executor` trait), the scheduler (cells x
//! repetitions, in order), the report folder and its plan.json, resume, merge,
//! thread-limit checks, and the helpers they share.

pub mod command;
pub mod executor;
pub mod folder;
pub mod limits;
pub mod merge;
#[cfg(test)]
mod mock;
pub use crate::plan_file;
pub mod resume;
pub mod scheduler;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::process::{Child, ExitStatus, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Install SIGINT/SIGTERM handlers that only set a flag; loops that wait on children
/// poll it, kill their child and stop cleanly. A second signal while the flag is set
/// exits at once (exit code 130), for a user who does not want to wait.
pub fn install_interrupt_flag() -> Result<()> {
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal.
        let code = crate::error::Exit::Interrupted.code();
        signal_hook::flag::register_conditional_shutdown(sig, code, Arc::clone(flag))?;
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Wait for a child with piped stdout/stderr, killing it after `timeout`.
pub fn wait_output_with_timeout(mut child: Child, timeout: Duration) -> Result<Output> {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("gave no answer within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}
