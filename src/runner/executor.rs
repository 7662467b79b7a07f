//! One run: spawn the driver in a fresh process, walk it through its phases, and
//! measure it from `/proc` at each pause.
//!
//! The child gets an explicit environment (nothing inherited), its own process group
//! (so a timeout or Ctrl-C kills everything it started), the message pipe's write end
//! (its number in the `msg_fd` argument) and "go" lines on stdin. While it is paused
//! at each phase, the parent snapshots /proc and reads glibc's arenas from outside
//! (`crate::arena`). Its stdout and stderr are kept (the tail) for failure
//! reports. Whatever goes wrong in the child becomes a failed `RunRecord` with a
//! reason; this function does not return errors for child failures.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ext::ExtBuild;
use crate::plan::StartMode;
use crate::python::inspect::Interpreter;
use crate::results::{
    ArenaPhases, ArenaRead, Cell, Failure, Metrics, Phases, RunRecord, SeriesArrays, Status,
};
use crate::sampler::series::{Probe, Series};
use crate::sampler::{snapshot, Snapshot};

/// How much of the child's stderr a failure keeps.
const TAIL_BYTES: usize = 4096;

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

/// The driver's configuration as `key=value` arguments (driver.py reads them without
/// importing a JSON parser, which would add to every run's start-up).
fn driver_args(spec: &RunSpec, msg_fd: i32) -> Vec<std::ffi::OsString> {
    use std::ffi::OsString;
    let kv = |k: &str, v: &std::ffi::OsStr| {
        let mut s = OsString::from(format!("{k}="));
        s.push(v);
        s
    };
    let text = |k: &str, v: &str| kv(k, std::ffi::OsStr::new(v));
    let p = &spec.cell.point;
    let (workload, params) = match spec.workload {
        Some(w) => (
            w.path.as_os_str().to_os_string(),
            w.params
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| format!("{}={}", k.trim(), v.trim()))
                .collect::<Vec<_>>()
                .join(","),
        ),
        None => (OsString::new(), String::new()),
    };
    vec![
        text("msg_fd", &msg_fd.to_string()),
        text("build", spec.cell.build.as_str()),
        kv("ext_dir", spec.ext.dir.as_os_str()),
        kv("ext_file", spec.ext.file.as_os_str()),
        text("python_threads", &p.python_threads.to_string()),
        text("rust_threads", &p.rust_threads.to_string()),
        text("iterations", &spec.iterations.to_string()),
        text("sleep_ms", &spec.sleep_ms.to_string()),
        text("pattern", &p.pattern),
        text("pattern_params", &spec.pattern_params),
        text("binding", &p.binding),
        text("start", spec.start.as_str()),
        text("verify", if spec.verify { "1" } else { "0" }),
        kv("workload", &workload),
        text("workload_params", &params),
    ]
}

enum Msg {
    Json(Value),
    Garbage(String),
}

/// A failure, before it is turned into a record.
struct Fail {
    kind: &'static str,
    message: String,
}

fn fail(kind: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
    }
}

/// The child's three output pipes, read by the executor itself with poll(2): the
/// message pipe (JSON lines), and stdout/stderr, of which the last `TAIL_BYTES` are
/// kept for failure reports. No reader threads: a run costs the parent one thread
/// (the sampler), and a thread limit cannot break the parent's own reading.
struct Pipes {
    msg: Option<std::fs::File>,
    out: Option<std::fs::File>,
    err: Option<std::fs::File>,
    line: Vec<u8>,
    queue: std::collections::VecDeque<Msg>,
    stderr_tail: Vec<u8>,
}

/// What the message pipe has to say.
enum Next {
    Msg(Msg),
    Nothing,
    Closed,
}

impl Pipes {
    fn new(
        msg: OwnedFd,
        out: Option<std::process::ChildStdout>,
        err: Option<std::process::ChildStderr>,
    ) -> Self {
        Pipes {
            msg: Some(std::fs::File::from(msg)),
            out: out.map(|o| std::fs::File::from(OwnedFd::from(o))),
            err: err.map(|e| std::fs::File::from(OwnedFd::from(e))),
            line: Vec::new(),
            queue: std::collections::VecDeque::new(),
            stderr_tail: Vec::new(),
        }
    }

    fn parse(line: &[u8]) -> Msg {
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.get("phase").and_then(Value::as_str).is_some() => Msg::Json(v),
            _ => Msg::Garbage(String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()),
        }
    }

    /// The next complete message, waiting up to `timeout` for data.
    fn next(&mut self, timeout: Duration) -> Next {
        if self.queue.is_empty() && self.msg.is_some() {
            self.pump(timeout);
        }
        match self.queue.pop_front() {
            Some(m) => Next::Msg(m),
            None if self.msg.is_none() => Next::Closed,
            None => Next::Nothing,
        }
    }

    /// Keep reading stderr until it closes or `within` passes (the child is ending).
    fn drain_stderr(&mut self, within: Duration) {
        let until = Instant::now() + within;
        while self.err.is_some() && Instant::now() < until {
            self.pump(until.saturating_duration_since(Instant::now()));
        }
    }

    /// Wait up to `timeout` for data on the open pipes and take what is there.
    fn pump(&mut self, timeout: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut fds: Vec<PollFd> = Vec::with_capacity(3);
        let mut which: Vec<usize> = Vec::with_capacity(3);
        for (i, f) in [&self.msg, &self.out, &self.err].into_iter().enumerate() {
            if let Some(f) = f {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        if fds.is_empty() {
            return;
        }
        let ms = PollTimeout::try_from(timeout.as_millis().min(60_000) as i32)
            .unwrap_or(PollTimeout::ZERO);
        if poll(&mut fds, ms).unwrap_or(0) <= 0 {
            return;
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, i)| *i)
            .collect();
        let mut chunk = [0u8; 8192];
        for i in ready {
            let slot = match i {
                0 => &mut self.msg,
                1 => &mut self.out,
                _ => &mut self.err,
            };
            let n = match slot.as_mut().map(|f| f.read(&mut chunk)) {
                Some(Ok(n)) => n,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => 0,
            };
            if n == 0 {
                *slot = None;
                if i == 0 && !self.line.is_empty() {
                    // A last line without its newline.
                    let line = std::mem::take(&mut self.line);
                    self.queue.push_back(Self::parse(&line));
                }
                continue;
            }
            match i {
                0 => {
                    self.line.extend_from_slice(&chunk[..n]);
                    while let Some(pos) = self.line.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = self.line.drain(..=pos).collect();
                        self.queue.push_back(Self::parse(&line[..line.len() - 1]));
                    }
                    if self.line.len() > 1 << 20 {
                        // A "line" of a megabyte is not our protocol.
                        let junk = std::mem::take(&mut self.line);
                        self.queue.push_back(Msg::Garbage(
                            String::from_utf8_lossy(&junk[..200]).into_owned(),
                        ));
                    }
                }
                2 => {
                    self.stderr_tail.extend_from_slice(&chunk[..n]);
                    if self.stderr_tail.len() > 2 * TAIL_BYTES {
                        let cut = self.stderr_tail.len() - TAIL_BYTES;
                        self.stderr_tail.drain(..cut);
                    }
                }
                // stdout is drained so the child never blocks on it; its content is not kept.
                _ => {}
            }
        }
    }

    fn stderr_text(&self) -> String {
        let start = self.stderr_tail.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&self.stderr_tail[start..]).into_owned()
    }
}

/// A child being walked through the protocol.
struct Session {
    pid: i32,
    stdin: std::process::ChildStdin,
    pipes: Pipes,
    deadline: Instant,
    timeout: Duration,
    max_rss_kib: Option<u64>,
    probe: Option<Probe>,
    reports: serde_json::Map<String, Value>,
}

impl Session {
    /// Wait for the next message, which must be one of `phases`.
    fn expect(&mut self, phases: &[&str]) -> Result<Value, Fail> {
        loop {
            if crate::runner::interrupted() {
                return Err(fail("interrupted", "interrupted by SIGINT/SIGTERM"));
            }
            if Instant::now() >= self.deadline {
                return Err(fail(
                    "timeout",
                    format!("the run took longer than --timeout {:?}", self.timeout),
                ));
            }
            if let (Some(limit), Some(probe)) = (self.max_rss_kib, self.probe.as_mut()) {
                if let Some((rss, _)) = probe.read() {
                    if rss > limit {
                        return Err(fail(
                            "max_rss",
                            format!("RSS reached {rss} KiB, above --max-rss {limit} KiB"),
                        ));
                    }
                }
            }
            match self.pipes.next(Duration::from_millis(20)) {
                Next::Msg(Msg::Json(v)) => {
                    let phase = v
                        .get("phase")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if phase == "error" {
                        let kind = match v.get("kind").and_then(Value::as_str) {
                            Some("gil_enabled") => "gil_enabled",
                            Some("gil_disabled") => "gil_disabled",
                            Some("thread_spawn") => "thread_spawn",
                            Some("import") => "import",
                            Some("config") => "config",
                            _ => "workload",
                        };
                        let msg = v
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("the driver reported an error");
                        return Err(fail(kind, msg));
                    }
                    if !phases.contains(&phase.as_str()) {
                        return Err(fail(
                            "protocol",
                            format!("expected phase {}, got {phase:?}", phases.join(" or ")),
                        ));
                    }
                    self.reports.insert(phase, v.clone());
                    return Ok(v);
                }
                Next::Msg(Msg::Garbage(line)) => {
                    return Err(fail(
                        "protocol",
                        format!(
                            "the child wrote something other than a protocol message: {line:?}"
                        ),
                    ))
                }
                Next::Nothing => continue,
                Next::Closed => {
                    return Err(fail(
                        "exit",
                        format!(
                            "the child closed the message pipe before phase {}",
                            phases.join("/")
                        ),
                    ))
                }
            }
        }
    }

    fn go(&mut self) -> Result<(), Fail> {
        self.send(b"go\n")
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        self.stdin
            .write_all(bytes)
            .and_then(|_| self.stdin.flush())
            .map_err(|e| {
                fail(
                    "exit",
                    format!("the child stopped reading its commands: {e}"),
                )
            })
    }

    /// Status only: RSS, HWM, threads.
    fn snap_status(&self, phase: &str) -> Result<Snapshot, Fail> {
        crate::sampler::snapshot_status(self.pid).map_err(|e| {
            fail(
                "exit",
                format!("could not read /proc at phase {phase}: {e:#}"),
            )
        })
    }

    fn snap(&self, phase: &str) -> Result<Snapshot, Fail> {
        snapshot(self.pid).map_err(|e| {
            fail(
                "exit",
                format!("could not snapshot /proc at phase {phase}: {e:#}"),
            )
        })
    }
}

/// glibc's arenas of the paused child, read from outside. Once a read is refused
/// for good (a preloaded allocator, musl, an unsupported glibc), `error` says why and
/// later phases do not try again.
fn read_arenas(pid: i32, error: &mut Option<String>) -> Option<ArenaRead> {
    if error.is_some() {
        return None;
    }
    // The child is paused in a read, and its workers have been joined: nothing moves.
    let opts = crate::arena::ReadOptions {
        quiescent: true,
        ..Default::default()
    };
    match crate::arena::read(pid, &opts) {
        Ok(snap) => Some(ArenaRead::from(&snap)),
        Err(e) => {
            *error = Some(e.to_string());
            None
        }
    }
}

/// Whether every arena's system_mem and free bytes, read from outside, equal what
/// malloc_info said at the same pause (the child's `self_view.malloc_arenas`).
fn agrees_with_malloc_info(view: &Value, read: &ArenaRead) -> bool {
    let Some(theirs) = view.get("malloc_arenas").and_then(Value::as_array) else {
        return false;
    };
    theirs.len() == read.arenas.len()
        && theirs.iter().zip(&read.arenas).all(|(m, a)| {
            m.get("system_current_bytes").and_then(Value::as_u64) == Some(a.system_mem_bytes)
                && m.get("free_bytes").and_then(Value::as_u64) == Some(a.free_bytes)
        })
}

/// wait4 with a deadline; returns (wait status, rusage) or None if it did not end.
/// Waits on a pidfd (Linux 5.3+), so it returns the moment the child ends; falls back
/// to polling every 2 ms where pidfds are not available.
fn reap(pid: i32, within: Duration) -> Option<(i32, libc::rusage)> {
    let deadline = Instant::now() + within;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: the fd was just returned to us and is owned by nothing else.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            return Some((status, usage));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if r < 0 || left.is_zero() {
            return None;
        }
        match &pidfd {
            Some(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                use std::os::fd::AsFd;
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let ms = PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
                    .unwrap_or(PollTimeout::ZERO);
                let _ = poll(&mut fds, ms);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn kill_group(pid: i32) {
    // The child leads its own process group; -pid reaches everything it started.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn describe_status(status: i32) -> (Option<i32>, Option<i32>, String) {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let name = nix::sys::signal::Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or(format!("signal {sig}"));
        (Some(sig), None, format!("killed by {name}"))
    } else if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (None, Some(code), format!("exited with code {code}"))
    } else {
        (None, None, format!("ended with wait status {status}"))
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The environment a child gets: nothing inherited. The plan's base environment
/// (LC_ALL, PATH and what the user gave with --env/--pass-env), then the profile's
/// variables, then the padding.
pub fn child_env(spec: &RunSpec) -> Vec<(String, String)> {
    let mut env = spec.base_env.to_vec();
    env.extend(spec.env.iter().cloned());
    // Environment size shifts the initial stack and so alignment and timing; a random
    // length per run spreads that effect instead of fixing one arbitrary value.
    env.push((PAD_VAR.to_string(), "x".repeat(spec.env_pad_len)));
    env
}

/// The padding variable's name.
pub const PAD_VAR: &str = "ARENA_SWEEP_PAD";

/// Run once. Never panics on child misbehaviour; failures come back as records.
pub fn run(spec: &RunSpec) -> RunRecord {
    let started_unix_s = unix_now();
    let t0 = Instant::now();
    let mut phases = Phases::default();
    let mut arenas = ArenaPhases::default();
    let mut series_samples = Vec::new();
    let mut reports = serde_json::Map::new();
    let mut pipes_slot: Option<Pipes> = None;
    let mut pid_for_cleanup: Option<i32> = None;

    let outcome = (|| -> Result<(Metrics, i32, libc::rusage), Fail> {
        let (msg_r, msg_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| fail("spawn", format!("cannot create the message pipe: {e}")))?;
        let mut cmd = Command::new(spec.python);
        // -s -P rather than -I: the environment is already explicit (cleared, then
        // only what the plan gives), and -I would also drop PYTHON* variables the user
        // passes on purpose with --env.
        cmd.args(["-s", "-P", "-X", "faulthandler"])
            .arg(spec.driver)
            .args(driver_args(spec, msg_w.as_raw_fd()))
            .env_clear()
            .envs(child_env(spec))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // The write end is the one descriptor the child inherits besides stdio: it
        // loses O_CLOEXEC just for this spawn (the parent starts no other process
        // meanwhile), and the driver is told its number. No pre_exec hook, so the
        // standard library can spawn with posix_spawn rather than fork.
        let wfd = msg_w.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(wfd, libc::F_SETFD, 0) } < 0 {
            return Err(fail(
                "spawn",
                format!(
                    "cannot pass the message pipe: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        let mut child = cmd.spawn().map_err(|e| {
            fail(
                "spawn",
                format!("cannot start {}: {e}", spec.python.display()),
            )
        })?;
        drop(msg_w);
        let pid = child.id() as i32;
        pid_for_cleanup = Some(pid);
        let mut s = Session {
            pid,
            stdin: child.stdin.take().expect("piped stdin"),
            pipes: Pipes::new(msg_r, child.stdout.take(), child.stderr.take()),
            deadline: t0 + spec.timeout,
            timeout: spec.timeout,
            max_rss_kib: spec.max_rss_kib,
            probe: Probe::open(pid).ok(),
            reports: serde_json::Map::new(),
        };
        let result = (|| -> Result<Metrics, Fail> {
            s.expect(&["ready"])?;
            let baseline = s.snap("ready")?;
            phases.ready = Some(baseline);
            arenas.ready = read_arenas(pid, &mut arenas.error);
            let series = Series::start(pid, spec.sample_interval)
                .map_err(|e| fail("harness", format!("{e:#}")))?;
            s.go()?;
            let done_msg = match s.expect(&["done"]) {
                Ok(m) => m,
                Err(f) => {
                    series_samples = series.stop();
                    return Err(f);
                }
            };
            std::thread::sleep(spec.settle);
            let done = s.snap("done");
            series_samples = series.stop();
            let done = done?;
            phases.done = Some(done);
            arenas.done = read_arenas(pid, &mut arenas.error);
            s.go()?;
            s.expect(&["trimmed"])?;
            let trimmed = s.snap_status("trimmed")?;
            phases.trimmed = Some(trimmed);
            arenas.trimmed = read_arenas(pid, &mut arenas.error);
            s.go()?;
            if done_msg.get("store").and_then(Value::as_bool) == Some(true) {
                s.expect(&["released"])?;
                phases.released = Some(s.snap_status("released")?);
                arenas.released = read_arenas(pid, &mut arenas.error);
                s.go()?;
            }
            // Every snapshot is taken: the child may now allocate to report.
            let report = s.expect(&["report"])?;
            s.go()?;
            let mut view = None;
            if spec.verify {
                // The child took malloc_info and allocated nothing since: read the
                // same state from outside, then let it go on (one byte).
                s.expect(&["verify"])?;
                phases.verified = Some(s.snap("verify")?);
                arenas.verified = read_arenas(pid, &mut arenas.error);
                s.send(b"v")?;
                view = Some(s.expect(&["self_view"])?);
                s.go()?;
            }

            let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let view_num = |k: &str| view.as_ref().and_then(|v| v.get(k)).and_then(Value::as_u64);
            let at_done = arenas.done.as_ref().map(|a| &a.totals);
            let free_at =
                |a: &Option<ArenaRead>| a.as_ref().map(|a| a.totals.arena_free_bytes as i64);
            let peak_sampled = series_samples.iter().map(|x| x.rss_kib).max().unwrap_or(0);
            let peak_threads = series_samples.iter().map(|x| x.threads).max().unwrap_or(0);
            let wall_s = num(&report, "wall_s");
            let calls = num(&report, "calls") as u64;
            Ok(Metrics {
                baseline_rss_kib: baseline.rss_kib,
                final_rss_kib: done.rss_kib,
                delta_kib: done.rss_kib as i64 - baseline.rss_kib as i64,
                peak_rss_kib: peak_sampled.max(done.rss_kib).max(baseline.rss_kib),
                vm_hwm_kib: done.hwm_kib,
                rusage_maxrss_kib: 0,
                after_trim_rss_kib: trimmed.rss_kib,
                reclaimable_kib: done.rss_kib as i64 - trimmed.rss_kib as i64,
                arena_heaps: done.regions.arena_heaps,
                heap_rss_kib: done.regions.arena_heap_rss_kib,
                arenas_reported: view_num("arenas_reported").map(|n| n as u32),
                peak_threads: peak_threads
                    .max(done.threads as u32)
                    .max(baseline.threads as u32),
                wall_s,
                calls,
                calls_per_s: if wall_s > 0.0 {
                    calls as f64 / wall_s
                } else {
                    0.0
                },
                requested_bytes: num(&report, "requested_bytes") as u64,
                store_bytes: num(&report, "store_bytes") as u64,
                heaps_reported: view_num("heaps_reported").map(|n| n as u32),
                regions_delta: done.regions.delta(&baseline.regions),
                pymalloc_arena_kib: view_num("pymalloc_arena_bytes").map(|b| b / 1024),
                arenas_read: at_done.map(|t| t.arenas as u32),
                arena_free_kib: at_done.map(|t| t.arena_free_bytes / 1024),
                arena_in_use_kib: at_done.map(|t| t.in_use_bytes / 1024),
                arena_free_delta_kib: free_at(&arenas.done)
                    .zip(free_at(&arenas.ready))
                    .map(|(d, r)| (d - r) / 1024),
                trimmable_kib: at_done.map(|t| t.trimmable_bytes / 1024),
                malloc_info_agrees: view
                    .as_ref()
                    .zip(arenas.verified.as_ref())
                    .map(|(v, a)| agrees_with_malloc_info(v, a)),
            })
        })();
        let Session {
            pipes, reports: r, ..
        } = s;
        reports = r;
        pipes_slot = Some(pipes);
        match result {
            Ok(mut metrics) => match reap(pid, Duration::from_secs(30)) {
                Some((status, usage))
                    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 =>
                {
                    metrics.rusage_maxrss_kib = usage.ru_maxrss as u64;
                    Ok((metrics, status, usage))
                }
                Some((status, _)) => Err(fail(
                    "exit",
                    format!(
                        "the child {} after its last phase",
                        describe_status(status).2
                    ),
                )),
                None => Err(fail(
                    "timeout",
                    "the child did not exit after its last phase",
                )),
            },
            Err(f) => Err(f),
        }
    })();

    let (status, failure, metrics) = match outcome {
        Ok((metrics, _, _)) => (Status::Ok, None, Some(metrics)),
        Err(mut f) => {
            let mut signal = None;
            let mut exit_code = None;
            if let Some(pid) = pid_for_cleanup {
                match reap(pid, Duration::from_millis(200)) {
                    // It ended on its own: say how.
                    Some((st, _)) => {
                        let (sig, code, text) = describe_status(st);
                        if sig.is_some() {
                            f.kind = "crashed";
                        }
                        if matches!(f.kind, "exit" | "crashed" | "protocol") {
                            f.message = format!("{}; the child {text}", f.message);
                        }
                        signal = sig;
                        exit_code = code;
                    }
                    // Still running (timeout, RSS guard, interrupt, bad protocol): kill it.
                    None => {
                        kill_group(pid);
                        let _ = reap(pid, Duration::from_secs(10));
                    }
                }
                // What the child said last (a faulthandler traceback, an exception).
                if let Some(p) = pipes_slot.as_mut() {
                    p.drain_stderr(Duration::from_millis(500));
                }
                // Anything the child started in its group goes too.
                kill_group(pid);
            }
            let failure = Failure {
                kind: f.kind.to_string(),
                message: f.message,
                signal,
                exit_code,
                stderr_tail: pipes_slot
                    .as_ref()
                    .map(Pipes::stderr_text)
                    .unwrap_or_default(),
            };
            (Status::Failed, Some(failure), None)
        }
    };

    RunRecord {
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
        phases,
        child_reports: Value::Object(reports),
        arenas,
        series: SeriesArrays::from(&series_samples[..]),
        process_wall_s: t0.elapsed().as_secs_f64(),
        started_unix_s,
        env_pad_len: spec.env_pad_len,
    }
}

/// Where the embedded driver is written: `<cache>/driver/driver-<hash>.py`.
pub fn materialize_driver() -> anyhow::Result<PathBuf> {
    const DRIVER: &str = include_str!("../driver.py");
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
