//! One run: spawn the driver in a fresh process, walk it through its phases, and
//! measure it from `/proc` at each pause.
//!
//! The scheduler drives runs through the [`Executor`] trait; [`ProcessExecutor`] is
//! the real one, and the tests drive the scheduler with a mock (`runner::mock`).
//!
//! The child gets an explicit environment (nothing inherited), its own process group
//! (so a timeout or Ctrl-C kills everything it started), the message pipe's write end
//! (its number in the `msg_fd` argument) and "go" lines on stdin (`spawn.rs`). The
//! driver's messages are typed (`protocol.rs`, the protocol's reference) and read
//! with poll(2) next to its stdout and stderr (`pipes.rs`). While it is paused at each
//! phase, the parent snapshots /proc and reads glibc's arenas from outside
//! (`session.rs`, with `crate::arena`), and turns what it measured into metrics
//! (`metrics.rs`). Then the child is reaped, or killed with its group (`reap.rs`).
//! Whatever goes wrong in the child becomes a failed `RunRecord` with a reason; a run
//! never returns an error for a child's failure.

mod metrics;
mod pipes;
pub mod protocol;
mod reap;
mod recording;
mod session;
mod spawn;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::ext::ExtBuild;
use crate::plan::StartMode;
use crate::python::inspect::Interpreter;
use crate::results::{
    ArenaPhases, Cell, Failure, FailureKind, Metrics, Phases, RunRecord, SeriesArrays, Status,
};

pub use recording::CHOICE as SERIES_CHOICE;
pub use spawn::{child_env, PAD_VAR};

/// Runs one slot of a plan. The scheduler knows runs only through this trait.
pub trait Executor {
    /// Run once. A child that fails gives a record with a [`Failure`], never an
    /// error; a run stopped by SIGINT/SIGTERM comes back with the kind
    /// [`FailureKind::Interrupted`] and is not recorded.
    fn run(&mut self, spec: &RunSpec) -> RunRecord;

    /// Whether the sweep must stop before its next run.
    fn stop_requested(&self) -> bool;
}

/// The real executor: a fresh driver process per run.
#[derive(Debug, Default)]
pub struct ProcessExecutor;

impl Executor for ProcessExecutor {
    fn run(&mut self, spec: &RunSpec) -> RunRecord {
        run(spec)
    }

    fn stop_requested(&self) -> bool {
        super::interrupted()
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    pub cell: Cell,
    pub rep: u32,
    pub pattern_params: String,
    pub interpreter: &'a Interpreter,
    /// The program to start: the interpreter, or a virtual environment of it.
    pub python: &'a Path,
    pub ext: &'a ExtBuild,
    pub workload: Option<&'a crate::workload::WorkloadSpec>,
    pub driver: &'a Path,
    /// Extra environment from the allocator profile (GLIBC_TUNABLES, LD_PRELOAD, ...).
    pub env: Vec<(String, String)>,
    pub glibc_tunables: String,
    pub allocator: String,
    pub iterations: u32,
    pub sleep_ms: u32,
    /// Rounds of the workload in the one process; a snapshot after each.
    pub rounds: u32,
    pub sample_interval: Duration,
    pub settle: Duration,
    pub timeout: Duration,
    pub max_rss_kib: Option<u64>,
    pub env_pad_len: usize,
    /// How the Python threads start.
    pub start: StartMode,
    /// Ask the child for glibc's own account after the last snapshot.
    pub verify: bool,
    /// The environment every child gets besides the profile's (LC_ALL, PATH, and the
    /// user's --env/--pass-env), in order.
    pub base_env: &'a [(String, String)],
}

/// A failure, before it is turned into a record.
pub(crate) struct Fail {
    kind: FailureKind,
    message: String,
}

fn fail(kind: FailureKind, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
    }
}

/// What a run measured and heard so far; a failed run keeps it too.
#[derive(Default)]
pub(crate) struct Trace {
    phases: Phases,
    arenas: ArenaPhases,
    series: SeriesArrays,
    /// Where the series came from (`RunRecord::series_source`).
    series_source: String,
    /// Each phase's message as the child sent it (`RunRecord::child_reports`).
    reports: serde_json::Map<String, serde_json::Value>,
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Run once. Never panics on child misbehaviour; failures come back as records.
fn run(spec: &RunSpec) -> RunRecord {
    let started_unix_s = unix_now();
    let t0 = Instant::now();
    let mut trace = Trace::default();
    let outcome = match spawn::spawn(spec) {
        Err(f) => Err(Failure {
            kind: f.kind,
            message: f.message,
            signal: None,
            exit_code: None,
            stderr_tail: String::new(),
        }),
        Ok((mut child, msg_r)) => {
            let pid = child.id() as i32;
            let pipes = pipes::Pipes::new(msg_r, child.stdout.take(), child.stderr.take());
            let stdin = child.stdin.take().expect("piped stdin");
            let mut session = session::Session::new(pid, stdin, pipes, spec, t0);
            let walked = session.walk(spec, &mut trace);
            // Closing stdin here lets a child that waits for "go" end on its own.
            let mut pipes = session.into_pipes();
            walked
                .and_then(|m| reap::after_last_phase(pid, m))
                .map_err(|f| reap::after_failure(f, pid, &mut pipes))
        }
    };
    record(spec, outcome, trace, t0.elapsed(), started_unix_s)
}

/// The record of a run that ended.
fn record(
    spec: &RunSpec,
    outcome: Result<Metrics, Failure>,
    trace: Trace,
    wall: Duration,
    started_unix_s: f64,
) -> RunRecord {
    let (status, failure, metrics) = match outcome {
        Ok(m) => (Status::Ok, None, Some(m)),
        Err(f) => (Status::Failed, Some(f), None),
    };
    RunRecord {
        format: crate::format::CURRENT,
        run_id: spec.cell.run_id(spec.rep),
        rep: spec.rep,
        cell: spec.cell.clone(),
        pattern_params: spec.pattern_params.clone(),
        python_version: spec.interpreter.version.clone(),
        interpreter: spec.interpreter.path.clone(),
        glibc_tunables: spec.glibc_tunables.clone(),
        allocator: spec.allocator.clone(),
        status,
        failure,
        metrics,
        phases: trace.phases,
        child_reports: serde_json::Value::Object(trace.reports),
        arenas: trace.arenas,
        series: trace.series,
        series_source: trace.series_source,
        process_wall_s: wall.as_secs_f64(),
        started_unix_s,
        env_pad_len: spec.env_pad_len,
    }
}

/// The driver compiled to bytecode by `python` (the interpreter whose children will
/// run it), next to its source: `driver-<hash>.<interpreter hash>.pyc`, made once.
/// CPython runs a `.pyc` given as the script, and compiling the driver's source at
/// every start would cost each run several milliseconds (the talk's 60-line script
/// compiles in under one); a process that would compile it anyway takes it from
/// the source instead. The name carries the interpreter's path and version, so an
/// interpreter upgraded in place (another bytecode format) gets a file of its own.
/// `None` when the interpreter could not compile it (the source is used then).
pub fn compile_driver(source: &Path, interpreter: &Interpreter) -> Option<PathBuf> {
    let python = &interpreter.path;
    let tag = &crate::paths::hash_parts([
        python.as_os_str().as_encoded_bytes(),
        interpreter.version.as_bytes(),
    ])[..8];
    let pyc = source.with_extension(format!("{tag}.pyc"));
    if pyc.is_file() {
        return Some(pyc);
    }
    // py_compile writes the file atomically (a temporary file, then a rename).
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-I", "-c", COMPILE]).arg(source).arg(&pyc);
    match crate::programs::run(&mut cmd, Duration::from_secs(60)) {
        Ok(o) if o.status.success() && pyc.is_file() => Some(pyc),
        _ => None,
    }
}

/// Compile argv[1] to argv[2], checked by hash rather than by the source's mtime.
const COMPILE: &str = "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], \
doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)";

/// Where the embedded driver is written: `<cache>/driver/driver-<hash>.py`.
pub fn materialize_driver() -> anyhow::Result<PathBuf> {
    const DRIVER: &str = include_str!("../../driver.py");
    let dir = crate::paths::cache_dir()?.join("driver");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!(
        "driver-{}.py",
        &crate::paths::hash_parts([DRIVER])[..16]
    ));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(DRIVER) {
        let tmp = dir.join(format!(".driver.{}.tmp", std::process::id()));
        std::fs::write(&tmp, DRIVER)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}
