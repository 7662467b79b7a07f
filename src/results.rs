//! What a run produces (`RunRecord`) and the `results.jsonl` store that holds them.
//!
//! `results.jsonl` is the source of truth: one record per line, appended and flushed
//! as each run ends, written with a single `write` so a killed process leaves at most
//! one incomplete last line. Readers skip such a line (and say so); `--resume`
//! truncates it before appending. Writing and reading the file is `store.rs`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::Build;
use crate::sampler::{RegionDelta, Snapshot};

pub mod series;
mod store;

pub use series::{AtDone, EventCounts, Marks, SeriesArrays};
pub use store::{load, Loaded, ResultsWriter};

/// One point of the grid, without the build: the GIL and nogil runs of a point are
/// compared with each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Point {
    /// How Python calls the Rust code (written as its name).
    pub binding: Binding,
    /// The allocator profile (tunables/*.toml, or "adhoc").
    pub profile: String,
    /// The allocation pattern (seed, churn, ...) or `workload:<file>`.
    pub pattern: String,
    pub python_threads: u32,
    pub rust_threads: u32,
}

impl Point {
    /// Whether this is a control point: the same Python threads, iterations and pauses
    /// calling nothing native (the PoC at 0 Rust threads, a no-op or the workload's
    /// `control()` in place of its `call`). A grid never holds 0 Rust threads, so 0
    /// means a control and nothing else.
    pub fn is_control(&self) -> bool {
        self.rust_threads == 0
    }

    /// The control point of this point: the same binding, profile, pattern and Python
    /// threads, at 0 Rust threads.
    pub fn control(&self) -> Point {
        Point {
            rust_threads: 0,
            ..self.clone()
        }
    }

    pub fn label(&self) -> String {
        format!(
            "{}x{} {} {} {}",
            self.python_threads, self.rust_threads, self.pattern, self.binding, self.profile
        )
    }
}

pub use crate::model::Binding;

/// A point plus a build: one cell of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub build: Build,
    #[serde(flatten)]
    pub point: Point,
}

impl Cell {
    pub fn label(&self) -> String {
        format!("{} {}", self.build, self.point.label())
    }

    /// Stable id of repetition `rep` of this cell.
    pub fn run_id(&self, rep: u32) -> String {
        format!(
            "{}/{}/{}/{}/p{}/r{}/rep{}",
            self.build,
            self.point.binding,
            self.point.profile,
            self.point.pattern,
            self.point.python_threads,
            self.point.rust_threads,
            rep
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    /// The signal that ended the child, if one did.
    pub signal: Option<i32>,
    pub exit_code: Option<i32>,
    /// The last lines the child wrote to stderr.
    pub stderr_tail: String,
}

/// What kind of failure ended a run, written as the snake_case strings results.jsonl
/// has always used (`"max_rss"`, `"thread_spawn"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The free-threaded build ran with the GIL enabled (the driver noticed).
    GilEnabled,
    /// The GIL build ran without the GIL.
    GilDisabled,
    /// A Python or Rust thread could not be started (EAGAIN, a thread limit).
    ThreadSpawn,
    /// The extension could not be imported.
    Import,
    /// The driver refused its configuration (a bad pattern, an unknown binding).
    Config,
    /// The workload raised (a pattern's call, or a user's workload file).
    Workload,
    /// The child was killed by a signal.
    Crashed,
    /// The run took longer than `--timeout`.
    Timeout,
    /// RSS went above `--max-rss`.
    MaxRss,
    /// The child wrote something that is not a protocol message, or out of order.
    Protocol,
    /// The child exited, or stopped reading, before its last phase.
    Exit,
    /// SIGINT or SIGTERM arrived during the run (never recorded: `--resume` runs it again).
    Interrupted,
    /// The child could not be started.
    Spawn,
    /// arena-sweep itself failed (the sampler could not start).
    Harness,
}

impl FailureKind {
    pub const ALL: [FailureKind; 14] = [
        FailureKind::GilEnabled,
        FailureKind::GilDisabled,
        FailureKind::ThreadSpawn,
        FailureKind::Import,
        FailureKind::Config,
        FailureKind::Workload,
        FailureKind::Crashed,
        FailureKind::Timeout,
        FailureKind::MaxRss,
        FailureKind::Protocol,
        FailureKind::Exit,
        FailureKind::Interrupted,
        FailureKind::Spawn,
        FailureKind::Harness,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::GilEnabled => "gil_enabled",
            FailureKind::GilDisabled => "gil_disabled",
            FailureKind::ThreadSpawn => "thread_spawn",
            FailureKind::Import => "import",
            FailureKind::Config => "config",
            FailureKind::Workload => "workload",
            FailureKind::Crashed => "crashed",
            FailureKind::Timeout => "timeout",
            FailureKind::MaxRss => "max_rss",
            FailureKind::Protocol => "protocol",
            FailureKind::Exit => "exit",
            FailureKind::Interrupted => "interrupted",
            FailureKind::Spawn => "spawn",
            FailureKind::Harness => "harness",
        }
    }

    /// A wrong build: every later run of that build would measure the wrong thing.
    pub fn wrong_build(self) -> bool {
        matches!(self, FailureKind::GilEnabled | FailureKind::GilDisabled)
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Snapshots the parent took at each phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    pub ready: Option<Snapshot>,
    pub done: Option<Snapshot>,
    /// After malloc_trim(0), with the pattern's kept blocks still alive.
    pub trimmed: Option<Snapshot>,
    /// After the pattern's kept blocks were freed (only when there were any).
    pub released: Option<Snapshot>,
    /// Taken with the child's own account (`--verify`), after every other snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Snapshot>,
    /// After each round but the last (`--rounds`; the last round's is `done`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Snapshot>,
}

/// One arena's figures at one phase, read from outside (`crate::arena`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArenaFigures {
    pub is_main: bool,
    pub heaps: u32,
    pub system_mem_bytes: u64,
    pub max_system_mem_bytes: u64,
    pub in_use_bytes: u64,
    /// fast + rest, top included, as malloc_info counts them.
    pub free_bytes: u64,
    pub fast_free_bytes: u64,
    pub top_bytes: u64,
    /// Resident bytes a `malloc_trim(0)` would return.
    pub trimmable_bytes: u64,
    pub attached_threads: u64,
}

/// glibc's arenas at one phase, read from outside by the parent while the child was
/// paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArenaRead {
    /// In malloc_info's order: 0 is the main arena, then the newest to the oldest.
    pub arenas: Vec<ArenaFigures>,
    pub totals: crate::arena::Totals,
    /// Every figure settled (a paused child does not change them).
    pub consistent: bool,
    pub read_ms: f64,
}

impl From<&crate::arena::ArenaSnapshot> for ArenaRead {
    fn from(s: &crate::arena::ArenaSnapshot) -> Self {
        let mut arenas: Vec<&crate::arena::Arena> = s.arenas.iter().collect();
        arenas.sort_by_key(|a| a.index);
        ArenaRead {
            arenas: arenas
                .into_iter()
                .map(|a| ArenaFigures {
                    is_main: a.is_main,
                    heaps: a.heaps.len() as u32,
                    system_mem_bytes: a.system_mem_bytes,
                    max_system_mem_bytes: a.max_system_mem_bytes,
                    in_use_bytes: a.in_use_bytes,
                    free_bytes: a.free_bytes,
                    fast_free_bytes: a.fast_free_bytes,
                    top_bytes: a.top_bytes,
                    trimmable_bytes: a.trimmable_bytes,
                    attached_threads: a.attached_threads,
                })
                .collect(),
            totals: s.totals.clone(),
            consistent: s.consistent,
            read_ms: s.read_s * 1e3,
        }
    }
}

/// The arena reads of a run, phase by phase; `error` says why there are none (a
/// preloaded allocator, musl, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArenaPhases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ArenaRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<ArenaRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trimmed: Option<ArenaRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<ArenaRead>,
    /// At the `--verify` pause, where malloc_info was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<ArenaRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The totals after each round but the last (`--rounds`), as `Phases::rounds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Option<crate::arena::Totals>>,
}

/// The measured numbers of a successful run (defined in docs/measurement.md and docs/output.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// RSS after import, before the workload.
    pub baseline_rss_kib: u64,
    /// RSS after every Python thread finished, after the settle.
    pub final_rss_kib: u64,
    /// final - baseline.
    pub delta_kib: i64,
    /// Largest sampled RSS (snapshots included).
    pub peak_rss_kib: u64,
    /// VmHWM at the final snapshot: the kernel's own peak.
    pub vm_hwm_kib: u64,
    /// ru_maxrss of the child from wait4.
    pub rusage_maxrss_kib: u64,
    /// RSS after malloc_trim(0).
    pub after_trim_rss_kib: u64,
    /// final - after_trim.
    pub reclaimable_kib: i64,
    /// Arena heaps in smaps at the final snapshot.
    pub arena_heaps: u32,
    /// Their resident size.
    pub heap_rss_kib: u64,
    /// Arenas glibc counted in the process (main arena included), from `malloc_info`
    /// after the last snapshot; None unless the run was verified (`--verify`).
    #[serde(default)]
    pub arenas_reported: Option<u32>,
    pub peak_threads: u32,
    /// Wall time of the workload, measured by the driver.
    pub wall_s: f64,
    /// Calls made, and calls per second of workload wall time.
    pub calls: u64,
    pub calls_per_s: f64,
    /// Bytes the pattern requested, summed over calls.
    pub requested_bytes: u64,
    /// Bytes the pattern kept alive at the final snapshot.
    pub store_bytes: u64,
    /// Heaps of non-main arenas according to malloc_info in the child (`subheaps`),
    /// after the last snapshot, to cross-check the smaps count taken at that same
    /// pause (`Phases::verified`); None unless verified.
    #[serde(default)]
    pub heaps_reported: Option<u32>,
    /// Where the delta went: final minus baseline, region by region (smaps).
    #[serde(default)]
    pub regions_delta: RegionDelta,
    /// pymalloc's arenas after the last snapshot, from the child (GIL builds only;
    /// verified runs only).
    #[serde(default)]
    pub pymalloc_arena_kib: Option<u64>,
    /// Arenas at the final snapshot, read from outside (main arena included).
    #[serde(default)]
    pub arenas_read: Option<u32>,
    /// Bytes free inside the arenas at the final snapshot (fast bins, bins, tops).
    #[serde(default)]
    pub arena_free_kib: Option<u64>,
    /// Bytes in use in the arenas at the final snapshot.
    #[serde(default)]
    pub arena_in_use_kib: Option<u64>,
    /// Free inside arenas, final minus baseline.
    #[serde(default)]
    pub arena_free_delta_kib: Option<i64>,
    /// Resident RSS a malloc_trim(0) would have returned at the final snapshot.
    #[serde(default)]
    pub trimmable_kib: Option<u64>,
    /// Resident RSS a 128 KiB trim threshold would have returned from thread arenas'
    /// tops at the final snapshot (which malloc_trim(0) leaves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_trim_kib: Option<u64>,
    /// With --verify: whether every arena's system_mem and free bytes read from
    /// outside equal malloc_info's, taken at the same pause.
    #[serde(default)]
    pub malloc_info_agrees: Option<bool>,
    /// With `--rounds` above 1: the figures after each round, the last round's
    /// equal to the final snapshot's. Empty for a run of one round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<RoundFigures>,
}

/// What one round of a run left behind, above the baseline (the parent's snapshot
/// after the round, with the child paused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundFigures {
    /// RSS after the round minus the baseline RSS.
    pub delta_kib: i64,
    /// Where that went, region by region (smaps).
    pub regions_delta: RegionDelta,
    /// Free inside glibc's arenas minus at the baseline, read from outside.
    #[serde(default)]
    pub arena_free_delta_kib: Option<i64>,
}

/// One line of results.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The line's format version (`crate::format`); 1 for lines written before
    /// versions existed.
    #[serde(default = "crate::format::unversioned")]
    pub format: u32,
    pub run_id: String,
    pub rep: u32,
    #[serde(flatten)]
    pub cell: Cell,
    pub pattern_params: String,
    /// The interpreter's version, e.g. "3.13.5".
    pub python_version: String,
    pub interpreter: PathBuf,
    /// The GLIBC_TUNABLES value the child got ("" for none).
    pub glibc_tunables: String,
    /// glibc, jemalloc, or preload:<lib>.
    pub allocator: String,
    pub status: Status,
    pub failure: Option<Failure>,
    pub metrics: Option<Metrics>,
    pub phases: Phases,
    /// What the child said about itself at each phase (cross-check only).
    pub child_reports: serde_json::Value,
    /// glibc's arenas at each phase, read from outside.
    #[serde(default)]
    pub arenas: ArenaPhases,
    pub series: SeriesArrays,
    /// Where the series came from: "kernel events", or "sampler (why the events could
    /// not be had)"; "sampler" for lines written before there was a choice.
    #[serde(default = "series::sampler")]
    pub series_source: String,
    /// Wall time of the whole child process, measured by the parent.
    pub process_wall_s: f64,
    pub started_unix_s: f64,
    /// Length of the padding variable in the child's environment.
    pub env_pad_len: usize,
}

impl RunRecord {
    pub fn ok(&self) -> bool {
        self.status == Status::Ok && self.metrics.is_some()
    }
}

impl Metrics {
    /// A run whose rounds left these deltas (KiB), the last the final one, for tests.
    #[cfg(test)]
    pub fn with_rounds(deltas: &[i64]) -> Metrics {
        Metrics {
            delta_kib: deltas.last().copied().unwrap_or(0),
            rounds: deltas
                .iter()
                .map(|&d| RoundFigures {
                    delta_kib: d,
                    ..RoundFigures::default()
                })
                .collect(),
            ..Metrics::default()
        }
    }
}

impl RunRecord {
    /// A successful run with the given metrics and nothing else, for tests.
    #[cfg(test)]
    pub fn for_test(cell: Cell, rep: u32, metrics: Metrics) -> RunRecord {
        RunRecord {
            format: crate::format::CURRENT,
            run_id: cell.run_id(rep),
            rep,
            cell,
            pattern_params: String::new(),
            python_version: "3.13.5".into(),
            interpreter: "/x".into(),
            glibc_tunables: String::new(),
            allocator: "glibc".into(),
            status: Status::Ok,
            failure: None,
            metrics: Some(metrics),
            phases: Phases::default(),
            child_reports: serde_json::Value::Null,
            arenas: ArenaPhases::default(),
            series: SeriesArrays::default(),
            series_source: series::sampler(),
            process_wall_s: 0.1,
            started_unix_s: 0.0,
            env_pad_len: 0,
        }
    }
}

#[cfg(test)]
mod tests;
