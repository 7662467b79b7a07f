//! The flags of `run` (and of a bare `arena-sweep`): what to sweep, how to measure
//! it, where to write it, and which of those flags make up the plan (the ones
//! `--resume` checks).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{
    binding_parser, parse_duration, parse_duration_or_zero, parse_grid_arg, parse_size_kib, Grid,
};
use super::{ExtArgs, PythonArgs, ReportOptions};
use crate::model::Binding;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pythons: PythonArgs,
    #[command(flatten)]
    pub ext: ExtArgs,

    /// A sweep definition: a name in matrices/ (quick, default, talk-8x50, tunables) or
    /// a path to a .toml file. Flags given on the command line override its values.
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<String>,
    /// Allocator profiles to compare (comma-separated): names in tunables/
    /// (glibc-default, arena-max-1, arena-max-2, arena-max-4, trim-threshold-128k,
    /// mmap-threshold-128k, server, jemalloc, jemalloc-tuned, ...) or paths to .toml files.
    #[arg(long = "tunables", value_name = "PROFILES", value_delimiter = ',')]
    pub tunables: Vec<String>,
    /// An ad-hoc profile from glibc.malloc.NAME=VALUE entries (repeat the flag). Each
    /// entry is checked against this glibc's `ld.so --list-tunables`.
    #[arg(long = "tunable", value_name = "NAME=VALUE", action = clap::ArgAction::Append)]
    pub tunable: Vec<String>,
    /// Set glibc.malloc.arena_max to glibc's default for an N-CPU host (8 x N), unless
    /// a profile sets it: an approximation of a bigger host's arena cap (not of its
    /// parallelism; see docs/sweeps.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub emulate_cores: Option<u32>,

    /// Python threads (a ThreadPoolExecutor): 8, 1,2,4,8, 1..=8 or 1..=64:x2.
    #[arg(long, value_name = "GRID", default_value = "8", value_parser = parse_grid_arg)]
    pub python_threads: Grid,
    /// Rust threads spawned by each call: same forms as --python-threads.
    #[arg(long, value_name = "GRID", default_value = "50", value_parser = parse_grid_arg)]
    pub rust_threads: Grid,
    /// Calls each Python thread makes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub iterations: u32,
    /// Pause between a Python thread's calls, in milliseconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=600_000))]
    pub sleep_ms: u32,
    /// Repetitions of each cell; GIL and nogil runs alternate.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reps: u32,
    /// Rounds of the workload within each run: the same Python threads (a new pool
    /// each round) make the same calls ROUNDS times in one process, and the parent
    /// snapshots RSS after each round, so a run tells memory that settles from memory
    /// that keeps growing. The report gives the delta after round 1 (the talk's
    /// window), the settled level (mean over the last half of the rounds) and the
    /// growth per round over that last half (1 to 1000). "Keeps growing" needs 20 rounds
    /// or more (fewer say "still rising"); the default, 5, keeps a one-point run at about
    /// 14 s of runs; 1 is the talk's single window.
    #[arg(long, default_value_t = crate::model::DEFAULT_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Allocation pattern each Rust thread runs: NAME or NAME:key=value,key=value;
    /// repeat the flag for several. seed (the talk's: one 64 MiB Vec, capacity only),
    /// churn, fragment, retain, large, mixed, strand (freed blocks stranded below a
    /// kept one), crash (a harness test); each one's parameters and defaults are in
    /// docs/sweeps.md ("Patterns, bindings and your own code").
    #[arg(long = "pattern", value_name = "PATTERN", default_value = "seed", action = clap::ArgAction::Append)]
    pub patterns: Vec<String>,
    /// Parameters for every --pattern given without its own `:params`.
    #[arg(long, default_value = "", value_name = "PARAMS")]
    pub pattern_params: String,
    /// How Python calls the Rust code (comma-separated for several): pyo3 holds the
    /// GIL during the call, as the talk did; pyo3-detach releases it; ctypes-cdll calls
    /// a C export through ctypes.CDLL (releases the GIL); ctypes-pydll through
    /// ctypes.PyDLL (holds it).
    #[arg(long = "binding", default_value = "pyo3", value_delimiter = ',', value_parser = binding_parser())]
    pub bindings: Vec<Binding>,
    /// Your own workload instead of the PoC patterns: a Python file defining
    /// call(rust_threads, worker_id, iteration) and optionally setup(params). Lines
    /// `# requires: pkg==version` name PyPI packages to install (into arena-sweep's own
    /// virtual environment per interpreter). See examples/workloads/.
    #[arg(long, value_name = "FILE.py")]
    pub workload: Option<PathBuf>,
    /// Parameters for the workload's setup(params), key=value,key=value.
    #[arg(long, default_value = "", value_name = "PARAMS")]
    pub workload_params: String,
    /// Time between RSS samples while the workload runs (e.g. 100ms, 10ms, 0.5s).
    /// Each sample wakes arena-sweep, which takes a CPU from the workload's threads
    /// for a moment and changes how they interleave, and with that what the arenas
    /// keep: on 2 CPUs, sampling every 10 ms (with the parent's 20 ms wakeups of the
    /// time) read the free-threaded churn cell about a third higher than a script
    /// that only reads RSS before and after. The series feeds the time-series
    /// figure, the sampled peak RSS and the peak thread count; a shorter interval
    /// gives a finer series at that cost.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub sample_interval: Duration,
    /// Wait this long after the workload ends before the final snapshot. The driver
    /// reports the end only after joining every thread it started, so the default is
    /// none; give one for workloads that leave background threads running.
    #[arg(long, default_value = "0ms", value_parser = parse_duration_or_zero)]
    pub settle: Duration,
    /// Kill a run (its whole process group) after this long and record it as failed.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Kill a run whose RSS exceeds this (e.g. 2G, 512M; K/M/G are KiB/MiB/GiB) and
    /// record it as failed; the sweep goes on.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_kib)]
    pub max_rss: Option<u64>,
    /// GIL delta floor for the amplification ratio, in MiB.
    #[arg(long, default_value_t = crate::amplification::DEFAULT_FLOOR_MIB)]
    pub floor_mib: f64,
    /// Folder under which the run's report folder (<timestamp>) is created.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub out: PathBuf,
    /// Seed for the run order and the environment padding (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not build a CPython pair when none is found; fail instead.
    #[arg(long)]
    pub no_install: bool,
    /// CPython version to provision when no pair is found.
    #[arg(long, default_value = "3.13", value_name = "X.Y")]
    pub install_version: String,
    /// Continue the sweep in this report folder: runs already recorded are skipped.
    /// The plan comes from its plan.json; flags that define a plan may be repeated but
    /// must give the same plan.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// How the Python threads start: submit (the talk's harness: each starts as the
    /// ThreadPoolExecutor gets its task) or barrier (all wait at a threading.Barrier
    /// and start together: the most overlap, a harsher experiment than the talk's).
    #[arg(long, value_enum, default_value = "submit")]
    pub start: crate::model::StartMode,
    /// Set a variable in every child's environment (repeat the flag). A child's
    /// environment is otherwise explicit: LC_ALL=C.UTF-8, PATH=/usr/local/bin:/usr/bin:/bin,
    /// the profile's variables and a padding variable; nothing is inherited. Use it for
    /// what your workload's libraries read (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
    /// RAYON_NUM_THREADS, ...) and what production sets. GLIBC_TUNABLES, LD_PRELOAD and
    /// MALLOC_* go through --tunable/--tunables. All of it is recorded in plan.json.
    #[arg(long = "env", value_name = "NAME=VALUE", action = clap::ArgAction::Append)]
    pub env: Vec<String>,
    /// Pass a variable of arena-sweep's own environment on to every child (repeat the
    /// flag); its value is recorded in plan.json.
    #[arg(long = "pass-env", value_name = "NAME", action = clap::ArgAction::Append)]
    pub pass_env: Vec<String>,
    /// After each run's last snapshot, ask the child for glibc's own account
    /// (malloc_info, mallinfo2, pymalloc's arenas) and check the smaps arena-heap count
    /// against it. Off by default: it costs time per run; it cannot change a measured
    /// figure, as it runs after the last snapshot.
    #[arg(long)]
    pub verify: bool,
    /// Skip the control arm. By default every Python thread count also runs with no
    /// native call (the PoC at 0 Rust threads; a no-op, or the workload's
    /// control(worker_id, iteration), in place of its call), so that each point's
    /// native effect is measured net of what the Python threads themselves leave
    /// behind (in the free-threaded build, most of the talk cell's delta). Without
    /// it the report shows gross figures only.
    #[arg(long)]
    pub no_control: bool,
    /// Run only shard K of N (0-based; points are dealt round-robin, so a point's GIL
    /// and nogil runs stay together). `--shard N` takes K from SLURM_ARRAY_TASK_ID or
    /// JOB_COMPLETION_INDEX. Join the shard folders with `arena-sweep merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub report: ReportOptions,
}

/// The plan flags typed on the command line (not defaults) in `m`, the matches of a
/// bare invocation or of `run`.
pub fn explicit_plan_flags(m: &clap::ArgMatches) -> Vec<&'static str> {
    PLAN_FLAGS
        .iter()
        .copied()
        .filter(|id| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .collect()
}

/// Parse a bare command line into run flags and the plan flags typed (for tests).
#[cfg(test)]
pub fn parse_run(argv: &[&str]) -> (RunArgs, Vec<&'static str>) {
    use super::Cli;
    use clap::{CommandFactory, FromArgMatches};
    let m = Cli::command()
        .try_get_matches_from(argv)
        .expect("valid flags");
    let cli = Cli::from_arg_matches(&m).expect("valid flags");
    (cli.run, explicit_plan_flags(&m))
}

/// Flags whose value is part of the plan (checked by --resume when given).
pub const PLAN_FLAGS: &[&str] = &[
    "matrix",
    "tunables",
    "tunable",
    "emulate_cores",
    "workload",
    "workload_params",
    "python_threads",
    "rust_threads",
    "iterations",
    "sleep_ms",
    "reps",
    "rounds",
    "patterns",
    "pattern_params",
    "bindings",
    "sample_interval",
    "settle",
    "timeout",
    "max_rss",
    "floor_mib",
    "seed",
    "start",
    "env",
    "pass_env",
    "verify",
    "no_control",
];
