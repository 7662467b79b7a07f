//! Read glibc malloc's arenas from outside a live Linux process, and what `/proc` says
//! about the process: its libc, glibc version and malloc, its executable's ELF
//! header, its `status` and its `smaps` split into regions (arena heaps, `[heap]`,
//! thread stacks, mimalloc, file-backed, other anonymous memory).
//!
//! - [`arena`]: [`arena::read`] finds the arena heaps by their 64 MiB alignment,
//!   reads each `heap_info` and `malloc_state` with `process_vm_readv` (or
//!   `/proc/PID/mem`), follows the ring of arenas, walks the bins and chunks with
//!   every pointer checked, and says what `malloc_trim(0)` would return. No debug
//!   symbols, no gdb, and no ptrace attach unless [`arena::ReadOptions::freeze`] asks
//!   to stop the process for an exact snapshot. glibc 2.26 to 2.42 on x86_64 and
//!   aarch64.
//! - [`process`]: reads `/proc/PID` only: [`process::target::observe`] (status,
//!   smaps, libc and its version, a replacement malloc, `arena_max` from the
//!   environment), [`process::linkage`] (pure functions over the mapped files),
//!   [`process::exe`] (the ELF header, read once per process), [`process::smaps`] and
//!   [`process::status`] (the parsers, usable on captured files).
//!
//! Reading another process's memory takes the kernel's ptrace *attach* check: the
//! caller runs as root (CAP_SYS_PTRACE), or as the target's user with Yama's
//! `kernel.yama.ptrace_scope` at 0 (at 1, only the target's ancestors may read it).
//! When refused, [`arena::ReadError::Permission`] names the rule and what to do. The
//! error texts speak of `arena-sweep`, the CLI this crate was written for.
//!
//! # Example: the arenas of a live process
//!
//! Start a glibc program (`sleep`, from coreutils), wait until it sleeps, then look
//! at it from `/proc` and read its arenas from its memory:
//!
//! ```
//! use std::process::Command;
//! use std::time::{Duration, Instant};
//!
//! use glibc_arena_reader::arena::{self, ReadOptions};
//! use glibc_arena_reader::process::target::{self, LibcKind};
//!
//! let mut child = Command::new("sleep").arg("60").spawn()?;
//! let pid = child.id() as i32;
//! // Past the dynamic loader and its first mallocs: sleeping in nanosleep.
//! let deadline = Instant::now() + Duration::from_secs(10);
//! while !std::fs::read_to_string(format!("/proc/{pid}/stat"))?.contains(") S ") {
//!     assert!(Instant::now() < deadline, "sleep did not start");
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//!
//! let seen = target::observe(pid);
//! let read = arena::read(pid, &ReadOptions::default());
//! child.kill()?;
//! child.wait()?;
//!
//! let seen = seen?;
//! assert_eq!(seen.libc.kind, LibcKind::Glibc);
//! println!(
//!     "PID {pid} ({}): glibc {}, RSS {} KiB",
//!     seen.name,
//!     seen.libc.version.as_deref().unwrap_or("?"),
//!     seen.snapshot.rss_kib
//! );
//! let snap = read?;
//! for a in &snap.arenas {
//!     println!(
//!         "arena {}{}: {} bytes from the system, {} in use, {} free, {} trimmable",
//!         a.index,
//!         if a.is_main { " (main)" } else { "" },
//!         a.system_mem_bytes,
//!         a.in_use_bytes,
//!         a.free_bytes,
//!         a.trimmable_bytes
//!     );
//! }
//! let main = snap.arenas.iter().find(|a| a.is_main).expect("the main arena");
//! assert!(main.system_mem_bytes > 0);
//! assert_eq!(snap.glibc_version, seen.libc.version.unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod arena;
pub mod process;
