//! Command-line flags (clap derive). Fields only; meaning is given to them in plan.rs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::model::SourceKind;

const ABOUT: &str = "Measure and explain glibc malloc arena growth in Python processes that call multi-threaded native code";

const LONG_ABOUT: &str = "\
Measure and explain glibc malloc arena growth in Python processes that call
multi-threaded native code.

For each grid point (Python threads x Rust threads per call) arena-sweep runs a PyO3
proof-of-concept extension under a GIL and a free-threaded (nogil) build of the same
CPython, in fresh processes, and measures from /proc how much RSS each leaves behind.
The amplification is median(nogil delta) / max(median(GIL delta), floor).

A bare `arena-sweep` with run flags is the same as `arena-sweep run`:
  arena-sweep --python-threads 8 --rust-threads 50

When no GIL/free-threaded CPython pair is found, one is built into the cache first
(see `arena-sweep pythons --help`).";

#[derive(Debug, Parser)]
#[command(
    name = "arena-sweep",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the run flags would only obscure the derive.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run GIL vs free-threaded comparisons over a grid (the default command).
    Run(RunArgs),
    /// Find or provision GIL and free-threaded CPython interpreters.
    #[command(subcommand)]
    Pythons(PythonsCommand),
    /// Record a live process's RSS and thread count over time (the sweep's sampler, like
    /// psrecord) and report what the sampling cost.
    Sample(SampleArgs),
    /// Join shard folders (from `--shard K/N` runs) into one report folder.
    ///
    /// The folders must hold the same plan; each run may appear in only one of them.
    Merge(MergeArgs),
    /// Explain a live process's glibc arenas: /proc, and glibc's own structures read
    /// from its memory.
    ///
    /// Shows the arena heaps (64 MiB-aligned reservations) and their RSS, [heap], the
    /// thread stacks, mimalloc regions, the anonymous/file split, the thread count, and
    /// the process's libc and glibc version (read from the banner in its libc.so.6).
    /// Then, read from the process's memory without debug symbols or gdb (and without
    /// stopping it unless --freeze): per arena its heaps, system_mem, bytes in use and
    /// free, and what malloc_trim(0) would give back. Ends with a verdict and suggested
    /// GLIBC_TUNABLES, validated against this host's `ld.so --list-tunables`. A process
    /// whose malloc is not glibc's (musl, a static program without glibc, a preloaded or
    /// linked jemalloc/mimalloc/tcmalloc) gets an explanation instead of an arena
    /// analysis.
    ///
    /// Reading another process's memory needs ptrace-level access (the same user where
    /// Yama allows it, or root); when that is refused, the smaps view is shown with the
    /// rule that refused it. Exit codes: 0 when inspected (and when a --watch ends); 2
    /// when the process cannot be inspected (no such process, permission denied, a
    /// kernel thread or a zombie); 1 for other failures to read /proc.
    Inspect(InspectArgs),
    /// Show this host's provenance and check that it can run sweeps.
    ///
    /// Prints what every report's plan.json records about the host (glibc, its
    /// tunables, kernel, CPUs, affinity, THP, cgroup limit, CPU model), then checks,
    /// each OK, WARN or FAIL with a reason and a fix: glibc tunables support, the THP
    /// mode, the default arena cap, thread limits, the GIL + free-threaded interpreter
    /// pair, and that the PoC extension builds for both (glibc and jemalloc variants;
    /// the first run builds them, which takes a minute or two). Exits 1 if any check
    /// fails.
    Doctor(DoctorArgs),
    /// Re-render a report folder (heatmaps, time series, index.html, cells.csv,
    /// summary.md) from its plan.json and results.jsonl.
    Report(ReportArgs),
    /// Show what changed at each point between two report folders (e.g. before and
    /// after a tunable): a table, compare.csv and diff heatmaps.
    Compare(CompareArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// bash: `arena-sweep completions bash > ~/.local/share/bash-completion/completions/arena-sweep`;
    /// zsh: write `_arena-sweep` into a folder on $fpath; fish:
    /// `arena-sweep completions fish > ~/.config/fish/completions/arena-sweep.fish`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a folder.
    ///
    /// `arena-sweep man | man -l -` reads it; `arena-sweep man --out-dir DIR` writes
    /// arena-sweep.1, arena-sweep-run.1, ... for a MANPATH folder (e.g. ~/.local/share/man/man1).
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write arena-sweep.1 and a page per subcommand into this folder instead of
    /// printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Where the PoC extension comes from (for the commands that need it).
#[derive(Debug, Clone, Args, Default)]
pub struct ExtArgs {
    /// Where the PoC extension comes from: auto (a prebuilt wheel that fits the
    /// interpreter, else a cargo build), wheel (prebuilt wheels only) or source (always
    /// a cargo build). The jemalloc variant is always built from source.
    #[arg(
        long,
        value_enum,
        value_name = "FROM",
        default_value = "auto",
        env = "ARENA_SWEEP_EXT_FROM"
    )]
    pub ext_from: crate::model::ExtFrom,
    /// A folder of prebuilt extension wheels (arena_poc-*.whl), searched before the
    /// ones installed with arena-sweep (<prefix>/share/arena-sweep/wheels).
    #[arg(long, value_name = "DIR", env = "ARENA_SWEEP_WHEELS")]
    pub ext_wheels: Option<PathBuf>,
}

impl ExtArgs {
    pub fn policy(&self) -> crate::model::ExtPolicy {
        crate::model::ExtPolicy {
            from: self.ext_from,
            wheels: self.ext_wheels.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The process to inspect.
    #[arg(value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: i32,
    /// Refresh every SECS seconds (e.g. 2 or 0.5), showing what changed since the last
    /// refresh, until the process exits or Ctrl-C.
    #[arg(long, value_name = "SECS", value_parser = parse_watch_secs)]
    pub watch: Option<Duration>,
    /// Stop the process (every thread, with ptrace) while its arenas are read, for an
    /// exact snapshot, and print how long it was stopped (a few ms).
    #[arg(long)]
    pub freeze: bool,
    /// Write one JSON object (with --watch, one per line and refresh) instead of the
    /// text view; docs/inspect.md lists the fields.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub pythons: PythonArgs,
    #[command(flatten)]
    pub ext: ExtArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// The process to sample.
    pub pid: i32,
    /// Time between samples (e.g. 1ms, 10ms, 0.5s).
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub interval: Duration,
    /// Stop after this long (or when the process exits).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How each sample reads /proc: pread (open once, the sweep's way), reopen, status.
    #[arg(long, value_enum, default_value = "pread")]
    pub method: crate::model::SampleMethod,
    /// Write every sample to this CSV file (t_ms,rss_kib,threads).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Report choices shared by `run` and `report`.
#[derive(Debug, Clone, Args, Default)]
pub struct ReportOptions {
    /// Plot RSS over time at this point (Python threads x Rust threads, e.g. 8x50);
    /// repeat for several. Default: the point with the highest amplification.
    #[arg(long = "timeseries-cell", value_name = "PxR", value_parser = crate::grid::parse_cell, action = clap::ArgAction::Append)]
    pub timeseries_cells: Vec<(u32, u32)>,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub advice: AdviceArgs,
}

/// When a difference between profiles (or between two sweeps) counts: its 95%
/// bootstrap CI, paired by point, must exclude zero, and it must reach the margin
/// max(--min-saving-mib, --min-saving-pct of glibc-default's figure). Otherwise the
/// verdict is "keep the default" (or "no change beyond noise").
#[derive(Debug, Clone, Args)]
pub struct AdviceArgs {
    /// The smallest saving worth a deployment, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1.0, value_parser = parse_non_negative)]
    pub min_saving_mib: f64,
    /// The smallest saving worth a deployment, in percent of glibc-default's figure.
    #[arg(long, value_name = "PCT", default_value_t = 5.0, value_parser = parse_non_negative)]
    pub min_saving_pct: f64,
}

impl Default for AdviceArgs {
    fn default() -> Self {
        let rule = crate::model::Rule::default();
        AdviceArgs {
            min_saving_mib: rule.min_saving_mib,
            min_saving_pct: rule.min_saving_pct,
        }
    }
}

impl AdviceArgs {
    pub fn rule(&self) -> crate::model::Rule {
        crate::model::Rule {
            min_saving_mib: self.min_saving_mib,
            min_saving_pct: self.min_saving_pct,
        }
    }
}

/// A finite number >= 0.
fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number >= 0")),
    }
}

/// The risk levels `--fail-on-risk` takes (a gate at LOW would trip on every point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateLevel {
    High,
    Medium,
}

/// CI gates: exit with code 3 when a point reaches them.
#[derive(Debug, Clone, Args, Default)]
pub struct GateArgs {
    /// Exit with code 3 if any point's risk is at least LEVEL.
    #[arg(long, value_name = "LEVEL", value_enum)]
    pub fail_on_risk: Option<GateLevel>,
    /// Exit with code 3 if any point's amplification is X or more.
    #[arg(long, value_name = "X", value_parser = crate::amplification::parse_amplification)]
    pub fail_on_amplification: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The report folder (with plan.json and results.jsonl).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Write the files into this folder instead (plan.json and results.jsonl are copied).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportOptions,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The report folder before the change.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The report folder after the change (the gates apply to it).
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Folder for compare.csv and the diff heatmaps.
    #[arg(long, value_name = "DIR", default_value = "reports/compare")]
    pub out: PathBuf,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub advice: AdviceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Report folders to join (each with plan.json and results.jsonl).
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged report folder to create (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PythonsCommand {
    /// List the interpreters found, in search order, and the pair that would be used.
    ///
    /// Searched in order: --python-gil/--python-nogil, ARENA_SWEEP_PYTHON_GIL /
    /// ARENA_SWEEP_PYTHON_NOGIL, `uv python find`, python3.X / python3.Xt on PATH,
    /// pyenv versions, and arena-sweep's cache.
    List(PythonArgs),
    /// Build a matched GIL + free-threaded pair of one CPython version into the cache.
    ///
    /// The same source is built twice with identical configure flags, once with
    /// --disable-gil. Sources tried in order: --source-tarball, `uv python install`,
    /// the official source tarball, the Debian source package (mirror taken from this
    /// machine's apt configuration; apt runs with a private state folder). Takes a few
    /// minutes per build; a finished pair makes re-runs instant.
    Install(InstallArgs),
}

#[derive(Debug, Clone, Args, Default)]
pub struct PythonArgs {
    /// The GIL interpreter to use (else searched; see `pythons list --help`).
    #[arg(long, value_name = "PATH")]
    pub python_gil: Option<PathBuf>,
    /// The free-threaded interpreter to use (else searched).
    #[arg(long, value_name = "PATH")]
    pub python_nogil: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Version to provision: X.Y (newest available patch release) or X.Y.Z; 3.13 or newer.
    pub version: String,
    /// Build from this CPython source tarball (Python-X.Y.Z.tar.xz) instead of downloading.
    #[arg(long, value_name = "FILE")]
    pub source_tarball: Option<PathBuf>,
    /// Sources to try, in order, when no --source-tarball is given.
    #[arg(long, value_delimiter = ',', default_values_t = crate::model::DEFAULT_SOURCES.to_vec(), value_enum)]
    pub sources: Vec<SourceKind>,
    /// Parallel jobs for make (default: online CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Rebuild even if the pair is already in the cache.
    #[arg(long)]
    pub force: bool,
}

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
    /// parallelism; see the README).
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
    /// Allocation pattern each Rust thread runs: NAME or NAME:key=value,key=value;
    /// repeat the flag for several. seed (the talk's: one 64 MiB Vec, capacity only),
    /// churn, fragment, retain, large, mixed; see poc-ext/src/patterns.rs for each
    /// one's parameters and defaults.
    #[arg(long = "pattern", value_name = "PATTERN", default_value = "seed", action = clap::ArgAction::Append)]
    pub patterns: Vec<String>,
    /// Parameters for every --pattern given without its own `:params`.
    #[arg(long, default_value = "", value_name = "PARAMS")]
    pub pattern_params: String,
    /// How Python calls the Rust code (comma-separated for several): pyo3 holds the
    /// GIL during the call, as the talk did; pyo3-detach releases it; ctypes-cdll calls
    /// a C export through ctypes.CDLL (releases the GIL); ctypes-pydll through
    /// ctypes.PyDLL (holds it).
    #[arg(long = "binding", default_value = "pyo3", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(crate::model::Binding::NAMES))]
    pub bindings: Vec<String>,
    /// Your own workload instead of the PoC patterns: a Python file defining
    /// call(rust_threads, worker_id, iteration) and optionally setup(params). Lines
    /// `# requires: pkg==version` name PyPI packages to install (into arena-sweep's own
    /// virtual environment per interpreter). See examples/workloads/.
    #[arg(long, value_name = "FILE.py")]
    pub workload: Option<PathBuf>,
    /// Parameters for the workload's setup(params), key=value,key=value.
    #[arg(long, default_value = "", value_name = "PARAMS")]
    pub workload_params: String,
    /// Time between RSS samples while the workload runs (e.g. 10ms, 1ms, 0.5s).
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
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
];

/// A parsed thread-count grid (a newtype, so clap takes it as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid(pub Vec<u32>);

fn parse_grid_arg(s: &str) -> Result<Grid, String> {
    crate::grid::parse_grid(s).map(Grid).map_err(|e| e.0)
}

/// "512M", "2G", "100000K" (KiB, MiB, GiB) -> KiB; a bare number is bytes.
pub fn parse_size_kib(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64),
        Some((i, 'M' | 'm')) => (&t[..i], 1024),
        Some((i, 'G' | 'g')) => (&t[..i], 1024 * 1024),
        _ => (t, 0),
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 512M or 2G"))?;
    let kib = if mult == 0 {
        v / 1024
    } else {
        v.checked_mul(mult)
            .ok_or_else(|| format!("`{s}` is too large"))?
    };
    if kib == 0 {
        return Err(format!("`{s}` is below 1 KiB"));
    }
    Ok(kib)
}

/// Seconds for `inspect --watch`: a positive number, at most a day.
fn parse_watch_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds, like 2 or 0.5"))?;
    if !(0.05..=86400.0).contains(&v) {
        return Err(format!("`{s}`: give between 0.05 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Like [`parse_duration`], and also accepts zero.
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    duration(s, true)
}

/// "10ms", "0.5s", "2m", "250us"; a bare number is milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    duration(s, false)
}

fn duration(s: &str, allow_zero: bool) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10ms, 0.5s or 2m"))?;
    let secs = match unit.trim() {
        "" | "ms" => v / 1e3,
        "us" => v / 1e6,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use us, ms, s, m or h"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !allow_zero) {
        return Err(format!("`{s}` must be a positive duration"));
    }
    if secs > 7.0 * 86400.0 {
        return Err(format!("`{s}` is longer than a week"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size_kib("512M"), Ok(512 * 1024));
        assert_eq!(parse_size_kib("2G"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_size_kib("64k"), Ok(64));
        assert_eq!(parse_size_kib("1048576"), Ok(1024));
        assert!(parse_size_kib("lots").is_err());
        assert!(parse_size_kib("0M").is_err());
        assert!(parse_size_kib("99999999999999999G").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0ms").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn watch_intervals_are_seconds() {
        assert_eq!(parse_watch_secs("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_watch_secs("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "NaN", "inf", "2s", "100000"] {
            assert!(parse_watch_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
