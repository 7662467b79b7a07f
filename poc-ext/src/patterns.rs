//! Allocation patterns run by each Rust thread of one `run_arena_test` call.
//!
//! A pattern is chosen by name, with parameters given as one `key=value,key=value`
//! string, so that every binding mode (PyO3 or the C ABI used through ctypes) passes
//! exactly the same thing. Parsing and defaults live here only.
//!
//! | pattern    | what one thread does                                                    | parameters (defaults) |
//! |------------|-------------------------------------------------------------------------|-----------------------|
//! | `seed`     | the talk's PoC: `count` `Vec`s of `size` bytes, capacity only, dropped   | `size=67108864`, `count=1` |
//! | `churn`    | `count` small blocks of `size` bytes, touched, then all freed            | `size=256`, `count=10000` |
//! | `fragment` | `count` blocks of `size`, touched; all but every `keep_every`-th freed; the survivors go to the store, so the holes between them stay pinned | `size=16384`, `count=512`, `keep_every=64` |
//! | `retain`   | `count` blocks of `size`, touched; a `retain_pct` share goes to the store | `size=4096`, `count=2048`, `retain_pct=10` |
//! | `large`    | `count` touched blocks, sizes log-uniform in [`min`, `max`] (the range where glibc's dynamic mmap threshold moves) | `min=131072`, `max=33554432`, `count=4` |
//! | `mixed`    | `requests` bursts; each allocates `burst` blocks log-uniform in [`min`, `max`], touched, freed at the end of the burst; `retain_pct` of them go to the store | `requests=8`, `burst=64`, `min=32`, `max=262144`, `retain_pct=1` |
//! | `strand`   | `count` blocks of `size`, touched, then one `keep`-byte block above them (on top of the heap), then the blocks are freed and the small one goes to the store: the freed memory cannot reach the heap's top, so it stays resident until `malloc_trim` (the shape behind CPython's report of increased memory use in free-threaded builds with C extensions) | `size=65536`, `count=256`, `keep=64` |
//! | `crash`    | fault on purpose, to test the harness: `mode=segv` or `mode=abort`       | `mode=abort` |
//!
//! Every pattern also takes `seed=N` (default 1) for its random sizes, and the store
//! takes `store_cap` (bytes, default 67108864): when the store would exceed it, its
//! oldest blocks are freed first. The store is process-wide and emptied by
//! `clear_store()`, which the driver calls once the workload has ended.

use std::collections::VecDeque;
use std::fmt;
use std::hint::black_box;
use std::sync::Mutex;

pub const MIB: usize = 1024 * 1024;
/// The largest block a pattern may ask for: 1 TiB. Beyond it no 64-bit Linux process
/// this PoC runs in can get the memory (glibc refuses anything above PTRDIFF_MAX, and
/// the kernel's address space ends at 128 TiB).
pub const MAX_BLOCK: usize = 1 << 40;
const PAGE: usize = 4096;

/// A parsed pattern with its parameters, ready to run on any thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Seed {
        size: usize,
        count: usize,
    },
    Churn {
        size: usize,
        count: usize,
    },
    Fragment {
        size: usize,
        count: usize,
        keep_every: usize,
    },
    Retain {
        size: usize,
        count: usize,
        retain_pct: usize,
    },
    Large {
        min: usize,
        max: usize,
        count: usize,
    },
    Mixed {
        requests: usize,
        burst: usize,
        min: usize,
        max: usize,
        retain_pct: usize,
    },
    Strand {
        size: usize,
        count: usize,
        keep: usize,
    },
    Crash {
        abort: bool,
    },
}

/// Everything one call needs: the pattern, the RNG seed, and the store cap.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub pattern: Pattern,
    pub seed: u64,
    pub store_cap: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamError {}

pub const PATTERN_NAMES: &[&str] = &[
    "seed", "churn", "fragment", "retain", "large", "mixed", "strand", "crash",
];

// Explicit paths: the CLI compiles this file too, through a `#[path]` of its own.
#[path = "patterns/params.rs"]
mod params;
pub use params::parse;

impl Pattern {
    /// The largest single block one thread asks for.
    pub fn largest_block(&self) -> usize {
        match *self {
            Pattern::Seed { size, .. }
            | Pattern::Churn { size, .. }
            | Pattern::Fragment { size, .. }
            | Pattern::Retain { size, .. } => size,
            Pattern::Strand { size, keep, .. } => size.max(keep),
            Pattern::Large { max, .. } | Pattern::Mixed { max, .. } => max,
            Pattern::Crash { .. } => 0,
        }
    }

    /// The most bytes one thread asks for in one run of the pattern; None when that
    /// does not fit in a usize.
    pub fn bytes_per_thread(&self) -> Option<usize> {
        match *self {
            Pattern::Seed { size, count }
            | Pattern::Churn { size, count }
            | Pattern::Fragment { size, count, .. }
            | Pattern::Retain { size, count, .. } => size.checked_mul(count),
            Pattern::Strand { size, count, keep } => size.checked_mul(count)?.checked_add(keep),
            Pattern::Large { max, count, .. } => max.checked_mul(count),
            Pattern::Mixed {
                requests,
                burst,
                max,
                ..
            } => requests.checked_mul(burst)?.checked_mul(max),
            Pattern::Crash { .. } => Some(0),
        }
    }
}

/// Blocks that outlive the call that made them (patterns `fragment`, `retain`, `mixed`).
struct Store {
    blocks: VecDeque<Vec<u8>>,
    bytes: usize,
}

static STORE: Mutex<Store> = Mutex::new(Store {
    blocks: VecDeque::new(),
    bytes: 0,
});

fn store_push(block: Vec<u8>, cap: usize) {
    let mut store = STORE.lock().unwrap_or_else(|e| e.into_inner());
    store.bytes += block.capacity();
    store.blocks.push_back(block);
    while store.bytes > cap {
        match store.blocks.pop_front() {
            Some(old) => store.bytes -= old.capacity(),
            None => break,
        }
    }
}

/// Bytes currently held by the store.
pub fn store_bytes() -> usize {
    STORE.lock().unwrap_or_else(|e| e.into_inner()).bytes
}

/// Free every block in the store; returns how many bytes were released.
pub fn clear_store() -> usize {
    let mut store = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = store.bytes;
    store.blocks = VecDeque::new();
    store.bytes = 0;
    bytes
}

/// Allocate `size` bytes and write one byte per page, so the pages become resident.
fn touched(size: usize) -> Vec<u8> {
    // vec![0; n] is calloc: small blocks are zeroed (touched) by glibc, large ones
    // come from fresh mmapped pages that stay untouched until the writes below.
    let mut v = vec![0u8; size];
    for i in (0..size).step_by(PAGE) {
        v[i] = 1;
    }
    black_box(v)
}

/// xorshift64*: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        let mut s = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if s == 0 {
            s = 0x2545_F491_4F6C_DD1D;
        }
        Rng(s)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Log-uniform in [min, max].
    fn log_uniform(&mut self, min: usize, max: usize) -> usize {
        if min >= max {
            return min;
        }
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let (lo, hi) = ((min as f64).ln(), (max as f64).ln());
        ((lo + u * (hi - lo)).exp() as usize).clamp(min, max)
    }
    fn percent(&mut self) -> usize {
        (self.next() % 100) as usize
    }
}

impl Workload {
    /// Run the pattern once on the calling thread. `stream` makes the random
    /// sizes differ between threads while staying reproducible.
    /// Returns the number of bytes requested.
    pub fn run_on_this_thread(&self, stream: u64) -> usize {
        let mut rng = Rng::new(self.seed, stream);
        match self.pattern {
            Pattern::Seed { size, count } => {
                for _ in 0..count {
                    let v: Vec<u8> = Vec::with_capacity(size);
                    drop(black_box(v));
                }
                size * count
            }
            Pattern::Churn { size, count } => {
                let blocks: Vec<Vec<u8>> = (0..count).map(|_| touched(size)).collect();
                drop(black_box(blocks));
                size * count
            }
            Pattern::Fragment {
                size,
                count,
                keep_every,
            } => {
                let blocks: Vec<Vec<u8>> = (0..count).map(|_| touched(size)).collect();
                for (i, b) in blocks.into_iter().enumerate() {
                    if i % keep_every == 0 {
                        store_push(b, self.store_cap);
                    }
                }
                size * count
            }
            Pattern::Retain {
                size,
                count,
                retain_pct,
            } => {
                let blocks: Vec<Vec<u8>> = (0..count).map(|_| touched(size)).collect();
                for b in blocks {
                    if rng.percent() < retain_pct {
                        store_push(b, self.store_cap);
                    }
                }
                size * count
            }
            Pattern::Large { min, max, count } => {
                let mut total = 0;
                for _ in 0..count {
                    let size = rng.log_uniform(min, max);
                    drop(touched(size));
                    total += size;
                }
                total
            }
            Pattern::Mixed {
                requests,
                burst,
                min,
                max,
                retain_pct,
            } => {
                let mut total = 0;
                for _ in 0..requests {
                    let blocks: Vec<Vec<u8>> = (0..burst)
                        .map(|_| {
                            let size = rng.log_uniform(min, max);
                            total += size;
                            touched(size)
                        })
                        .collect();
                    for b in blocks {
                        if rng.percent() < retain_pct {
                            store_push(b, self.store_cap);
                        }
                    }
                }
                total
            }
            Pattern::Strand { size, count, keep } => {
                let blocks: Vec<Vec<u8>> = (0..count).map(|_| touched(size)).collect();
                // Allocated last, so it lies above the blocks, at the top of the heap.
                let kept = touched(keep);
                drop(black_box(blocks));
                store_push(kept, self.store_cap);
                size * count + keep
            }
            Pattern::Crash { abort } => {
                if abort {
                    std::process::abort();
                }
                // SAFETY: none; the point is to fault. A volatile write to the null page
                // raises SIGSEGV without the compiler being allowed to remove it.
                unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1) };
                0
            }
        }
    }
}

/// Spawn `rust_threads` threads that each run `workload` once, then join them all.
/// A failed spawn (EAGAIN under RLIMIT_NPROC, say) joins the threads already started
/// and reports how many ran.
pub fn run_threads(
    rust_threads: usize,
    workload: &Workload,
    call_id: u64,
) -> Result<usize, SpawnError> {
    let mut handles = Vec::with_capacity(rust_threads);
    let mut failure = None;
    for t in 0..rust_threads {
        let w = workload.clone();
        let stream = call_id.wrapping_mul(1_000_003).wrapping_add(t as u64);
        match std::thread::Builder::new()
            .name(format!("arena-poc-{t}"))
            .spawn(move || w.run_on_this_thread(stream))
        {
            Ok(h) => handles.push(h),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let started = handles.len();
    let mut bytes = 0usize;
    let mut panicked = 0usize;
    for h in handles {
        match h.join() {
            Ok(b) => bytes += b,
            Err(_) => panicked += 1,
        }
    }
    if let Some(e) = failure {
        return Err(SpawnError {
            started,
            requested: rust_threads,
            errno: e.raw_os_error(),
            message: e.to_string(),
        });
    }
    if panicked > 0 {
        return Err(SpawnError {
            started,
            requested: rust_threads,
            errno: None,
            message: format!("{panicked} thread(s) panicked"),
        });
    }
    Ok(bytes)
}

#[derive(Debug)]
pub struct SpawnError {
    pub started: usize,
    pub requested: usize,
    pub errno: Option<i32>,
    pub message: String,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not start Rust thread {} of {}: {}",
            self.started + 1,
            self.requested,
            self.message
        )
    }
}

/// Why a call of the extension failed, by kind: the caller's pattern or parameters
/// (a `ValueError` in Python), or the run itself (a `RuntimeError`).
#[derive(Debug)]
pub enum CallError {
    /// The pattern or its parameters are invalid; nothing ran.
    Params(ParamError),
    /// The Rust threads could not all be started, or one panicked.
    Run(SpawnError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Params(e) => e.fmt(f),
            CallError::Run(e) => match e.errno {
                Some(errno) => write!(f, "{e} (errno {errno})"),
                None => e.fmt(f),
            },
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// The errno of a failed thread spawn, if the system gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CallError::Run(e) => e.errno,
            CallError::Params(_) => None,
        }
    }
}

/// Parse `name` and `params`, then run the pattern on `rust_threads` fresh threads.
pub fn call(
    rust_threads: usize,
    name: &str,
    params: &str,
    call_id: u64,
) -> Result<usize, CallError> {
    let workload = parse(name, params).map_err(CallError::Params)?;
    run_threads(rust_threads, &workload, call_id).map_err(CallError::Run)
}

#[cfg(test)]
#[path = "patterns/tests.rs"]
mod tests;
