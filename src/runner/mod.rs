//! Running children: the executor (one run in a fresh process), the scheduler (cells
//! x repetitions, in order), thread-limit checks, and the helpers they share.

pub mod command;
pub mod executor;
pub mod limits;
pub mod merge;
pub mod resume;
pub mod scheduler;

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
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag))?;
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
