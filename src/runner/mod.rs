//! Running children: the `run` command's stages (`stages`), the executor (one run
//! in a fresh process, behind the `Executor` trait), the scheduler (cells x
//! repetitions, in order), the output folder (`out_dir`) and its plan.json, resume, merge,
//! thread-limit checks, and the helpers they share.

pub mod executor;
pub mod limits;
pub mod merge;
#[cfg(test)]
mod mock;
pub mod out_dir;
pub mod stages;
pub use crate::plan_file;
pub mod resume;
pub mod scheduler;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Result;

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
