//! Command-line flags (clap derive). Fields only; meaning is given to them in plan.rs.
//! The subcommands' flags are here, `run`'s (the plan's) in `run`, and the parsers of
//! flag values (sizes, durations, grids) in `values`.

mod export;
mod run;
mod values;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::model::SourceKind;

pub use export::{ExportArgs, DEFAULT_LISTEN};
#[cfg(test)]
pub use run::parse_run;
pub use run::{explicit_plan_flags, RunArgs, PLAN_FLAGS};
pub use values::{parse_duration, parse_duration_or_zero, parse_size_kib, Grid};
use values::{parse_non_negative, parse_percent, parse_watch_secs};

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
    arg_required_else_help = true,
    // A negative figure given to a flag reaches the flag's own parser, which refuses
    // it naming the flag, instead of clap's "unexpected argument '-3' found".
    allow_negative_numbers = true
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
    #[command(allow_negative_numbers = true)]
    Run(RunArgs),
    /// Find or provision GIL and free-threaded CPython interpreters.
    #[command(subcommand)]
    #[command(allow_negative_numbers = true)]
    Pythons(PythonsCommand),
    /// Record a live process's RSS and thread count over time (the sweep's sampler, like
    /// psrecord) and report what the sampling cost.
    #[command(allow_negative_numbers = true)]
    Sample(SampleArgs),
    /// Join shard folders (from `--shard K/N` runs) into one report folder.
    ///
    /// The folders must hold the same plan; each run may appear in only one of them.
    #[command(allow_negative_numbers = true)]
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
    #[command(allow_negative_numbers = true)]
    Inspect(InspectArgs),
    /// Serve a live process's glibc arenas and RSS split as Prometheus metrics, read
    /// from outside: no change to the service.
    ///
    /// For the processes chosen by --pid, --pidfile or --match (resolved again at
    /// every read, so a restarted service is picked up), serves /metrics over HTTP
    /// (Prometheus text format, or OpenMetrics when the scraper asks for it), on
    /// 127.0.0.1 unless --listen says otherwise; or, with --textfile, writes a .prom
    /// file for node_exporter's textfile collector. Per process: RSS and its split
    /// (arena heaps, [heap], mimalloc, thread stacks, file-backed, other), threads, the
    /// arena count and cap, and per arena system, in-use, free and trimmable bytes,
    /// fast-bin / bin / top free bytes and attached threads; an info series with the
    /// glibc version and the GLIBC_TUNABLES the process started with; the read's
    /// duration and errors. docs/exporter.md lists every metric.
    ///
    /// Reads are read-only (/proc and process_vm_readv) and never stop the process;
    /// a scrape sooner than --min-interval after the last read is served that read. A
    /// read that fails (permission, memory that keeps changing, a malloc that is not
    /// glibc's) counts in arena_sweep_read_errors_total and leaves the last good
    /// figures served, with their age; the reason is logged with the explanation
    /// `inspect` gives. A process that exits, even in the middle of a read, is dropped,
    /// and its series go with it. Exit codes: 2 for bad flags (an address, a pidfile, a
    /// pattern, an interval, a textfile); the server itself runs until stopped.
    Export(ExportArgs),
    /// Show this host's provenance and check that it can run sweeps.
    ///
    /// Prints what every report's plan.json records about the host (glibc, its
    /// tunables, kernel, CPUs, affinity, THP, cgroup limit, CPU model), then checks,
    /// each OK, WARN or FAIL with a reason and a fix: glibc tunables support, the THP
    /// mode, the default arena cap, thread limits, the GIL + free-threaded interpreter
    /// pair, and that the PoC extension builds for both (glibc and jemalloc variants;
    /// the first run builds them, which takes a minute or two). Exits 1 if any check
    /// fails.
    #[command(allow_negative_numbers = true)]
    Doctor(DoctorArgs),
    /// Re-render a report folder (heatmaps, time series, index.html, cells.csv,
    /// summary.md) from its plan.json and results.jsonl.
    #[command(allow_negative_numbers = true)]
    Report(ReportArgs),
    /// Show what changed at each point between two report folders (e.g. before and
    /// after a tunable): a table, compare.csv and diff heatmaps.
    #[command(allow_negative_numbers = true)]
    Compare(CompareArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// bash: `arena-sweep completions bash > ~/.local/share/bash-completion/completions/arena-sweep`;
    /// zsh: write `_arena-sweep` into a folder on $fpath; fish:
    /// `arena-sweep completions fish > ~/.config/fish/completions/arena-sweep.fish`.
    #[command(allow_negative_numbers = true)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a folder.
    ///
    /// `arena-sweep man | man -l -` reads it; `arena-sweep man --out-dir DIR` writes
    /// arena-sweep.1, arena-sweep-run.1, ... for a MANPATH folder (e.g. ~/.local/share/man/man1).
    #[command(allow_negative_numbers = true)]
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
    /// Where the series comes from: the kernel's rss_stat events (every change of RSS,
    /// exact, nothing woken while recording; root or CAP_PERFMON), the sampler (reads
    /// /proc every --interval), or auto (the events where they can be had).
    #[arg(long, value_enum, default_value = "auto")]
    pub source: crate::model::SampleSource,
    /// How each sample reads /proc: pread (open once, the sweep's way), reopen, status.
    #[arg(long, value_enum, default_value = "pread")]
    pub method: crate::model::SampleMethod,
    /// Write every sample to this CSV file (t_ms,rss_kib,threads; with the events
    /// also rss_anon_kib,rss_file_kib,rss_shmem_kib).
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
    /// Which figures the risk levels, the amplification heatmap, instability flags,
    /// the --fail-on-* gates and the profile advice judge: native (each build's delta
    /// net of its control arm, the same Python threads calling nothing native) or
    /// gross (the whole delta, as the talk measured it: the free-threaded
    /// interpreter's own per-thread cost included). Points without a control arm are
    /// judged on gross figures either way, and say so.
    #[arg(long, value_enum, default_value = "native")]
    pub judge: crate::model::Judge,
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
    #[arg(long, value_name = "PCT", default_value_t = 5.0, value_parser = parse_percent)]
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
    /// Which figures the risk levels, the amplification heatmap, instability flags,
    /// the --fail-on-* gates and the profile advice judge: native (each build's delta
    /// net of its control arm, the same Python threads calling nothing native) or
    /// gross (the whole delta, as the talk measured it: the free-threaded
    /// interpreter's own per-thread cost included). Points without a control arm are
    /// judged on gross figures either way, and say so.
    #[arg(long, value_enum, default_value = "native")]
    pub judge: crate::model::Judge,
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
    #[command(allow_negative_numbers = true)]
    List(PythonArgs),
    /// Build a matched GIL + free-threaded pair of one CPython version into the cache.
    ///
    /// The same source is built twice with identical configure flags, once with
    /// --disable-gil. Sources tried in order: --source-tarball, `uv python install`,
    /// the official source tarball, the Debian source package (mirror taken from this
    /// machine's apt configuration; apt runs with a private state folder). Takes a few
    /// minutes per build; a finished pair makes re-runs instant.
    #[command(allow_negative_numbers = true)]
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

#[cfg(test)]
mod tests;
