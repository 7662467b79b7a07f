//! A child being walked through the protocol's phases (`protocol.rs`): wait for each
//! message under the run's guards (deadline, `--max-rss`, SIGINT/SIGTERM), snapshot
//! `/proc` and read glibc's arenas while the child is paused, then let it go on.

use std::io::Write;
use std::time::{Duration, Instant};

use super::metrics::{self, Measured};
use super::pipes::{Next, Pipes};
use super::protocol::{
    Done, Message, Phase, Ready, Received, Released, Report, Round, SelfView, Trimmed, Verify,
};
use super::recording::Recording;
use super::{fail, Fail, RunSpec, Trace};
use crate::results::{ArenaRead, FailureKind, Metrics};
use crate::sampler::series::Probe;
use crate::sampler::{snapshot, Snapshot};

pub struct Session {
    pub pid: i32,
    stdin: std::process::ChildStdin,
    pipes: Pipes,
    deadline: Instant,
    timeout: Duration,
    max_rss_kib: Option<u64>,
    probe: Option<Probe>,
}

impl Session {
    pub fn new(
        pid: i32,
        stdin: std::process::ChildStdin,
        pipes: Pipes,
        spec: &RunSpec,
        t0: Instant,
    ) -> Self {
        Session {
            pid,
            stdin,
            pipes,
            deadline: t0 + spec.timeout,
            timeout: spec.timeout,
            max_rss_kib: spec.max_rss_kib,
            probe: Probe::open(pid).ok(),
        }
    }

    /// The end of the conversation: stdin closes (a driver waiting for "go" exits),
    /// and the pipes stay for what the child writes last.
    pub fn into_pipes(self) -> Pipes {
        self.pipes
    }

    /// Walk the child through every phase, filling `trace` as it goes (so a failure
    /// keeps what was measured before it).
    pub fn walk(&mut self, spec: &RunSpec, trace: &mut Trace) -> Result<Metrics, Fail> {
        self.expect::<Ready>(trace)?;
        let (baseline, arenas) = self.snap_with_arenas("ready", trace);
        trace.arenas.ready = arenas;
        let baseline = baseline?;
        trace.phases.ready = Some(baseline);
        let mut recording = Recording::start(self.pid, spec.sample_interval)
            .map_err(|e| fail(FailureKind::Harness, format!("{e:#}")))?;
        trace.series_source = recording.label().to_string();
        let window = self.window(spec, trace, &mut recording);
        // A failed run keeps the series up to its failure.
        trace.series = recording.finish();
        let (done, trimmed, trimmed_msg) = window?;
        // The arenas after the trim and the release are read only for --verify: no
        // figure uses them, and each read costs 0.3-1 ms of every run.
        if spec.verify {
            trace.arenas.trimmed = self.read_arenas(trace);
        }
        self.go()?;
        if trimmed_msg.store {
            self.expect::<Released>(trace)?;
            trace.phases.released = Some(self.snap_status("released")?);
            if spec.verify {
                trace.arenas.released = self.read_arenas(trace);
            }
            self.go()?;
        }
        // Every snapshot is taken: the child may now allocate to report.
        let report = self.expect::<Report>(trace)?;
        self.go()?;
        let view = if spec.verify {
            Some(self.verify(trace)?)
        } else {
            None
        };
        Ok(metrics::metrics(&Measured {
            baseline,
            done,
            trimmed,
            rounds: &trace.phases.rounds,
            series: &trace.series,
            arenas: &trace.arenas,
            report: &report,
            view: view.as_ref(),
        }))
    }

    /// From `go` at `ready` to the `trimmed` snapshot, through every round: the window
    /// the series covers.
    fn window(
        &mut self,
        spec: &RunSpec,
        trace: &mut Trace,
        recording: &mut Recording,
    ) -> Result<(Snapshot, Snapshot, Trimmed), Fail> {
        self.go()?;
        // Every round but the last: its snapshot (and the arenas' totals), taken as
        // the final one is, then the next round.
        for _ in 1..spec.rounds {
            self.expect::<Round>(trace)?;
            std::thread::sleep(spec.settle);
            let (snap, arenas) = self.snap_with_arenas("round", trace);
            trace.phases.rounds.push(snap?);
            trace.arenas.rounds.push(arenas.map(|a| a.totals));
            self.go()?;
        }
        self.expect::<Done>(trace)?;
        std::thread::sleep(spec.settle);
        recording.done();
        let (done, arenas) = self.snap_with_arenas("done", trace);
        trace.arenas.done = arenas;
        let done = done?;
        trace.phases.done = Some(done);
        self.go()?;
        let trimmed_msg = self.expect::<Trimmed>(trace)?;
        recording.trimmed();
        let trimmed = self.snap_status("trimmed")?;
        trace.phases.trimmed = Some(trimmed);
        Ok((done, trimmed, trimmed_msg))
    }

    /// `--verify`: the child took malloc_info and allocated nothing since: read the
    /// same state from outside, then let it go on (one byte) and take its own view.
    fn verify(&mut self, trace: &mut Trace) -> Result<SelfView, Fail> {
        self.expect::<Verify>(trace)?;
        trace.phases.verified = Some(self.snap("verify")?);
        trace.arenas.verified = self.read_arenas(trace);
        self.send(b"v")?;
        let view = self.expect::<SelfView>(trace)?;
        self.go()?;
        Ok(view)
    }

    /// Wait for the message of phase `T`, keeping it in `trace.reports`.
    fn expect<T: Phase>(&mut self, trace: &mut Trace) -> Result<T, Fail> {
        loop {
            self.guard()?;
            let received = match self.pipes.next(self.wait_step()) {
                Next::Line(r) => r,
                Next::Nothing => continue,
                Next::Closed => {
                    return Err(fail(
                        FailureKind::Exit,
                        format!(
                            "the child closed the message pipe before phase {}",
                            T::PHASE
                        ),
                    ))
                }
            };
            let message = match received {
                Received::Message(Message::Error(e)) => return Err(fail(e.kind.into(), e.message)),
                Received::Message(m) => m,
                Received::Malformed { line, error } => {
                    return Err(fail(
                        FailureKind::Protocol,
                        format!("the child sent a malformed protocol message ({error}): {line:?}"),
                    ))
                }
                Received::Garbage(line) => {
                    return Err(fail(
                        FailureKind::Protocol,
                        format!(
                            "the child wrote something other than a protocol message: {line:?}"
                        ),
                    ))
                }
            };
            let (phase, as_sent) = (message.phase(), serde_json::to_value(&message));
            return match T::from_message(message) {
                Some(payload) => {
                    if let Ok(v) = as_sent {
                        trace.reports.insert(phase.to_string(), v);
                    }
                    Ok(payload)
                }
                None => Err(fail(
                    FailureKind::Protocol,
                    format!("expected phase {}, got {phase:?}", T::PHASE),
                )),
            };
        }
    }

    /// How long to wait for the child's next message before the guards are checked
    /// again. The parent must not disturb the window it measures: each wakeup takes a
    /// CPU from the child's threads for a moment, which changes how they interleave,
    /// and with that how much free memory the arenas keep. On 2 CPUs, a parent that
    /// woke every 20 ms here (and every 10 ms in the sampler) read the free-threaded
    /// churn cell (8 x 50, churn 1024x2000, default cap) 34% above the minimal
    /// talk-style script (Hodges-Lehmann shift, 53 runs each, p 0.01); the same
    /// parent waking twice a second here and every 100 ms in the sampler read it -1%
    /// (p 0.89). So the parent sleeps until a message comes: poll() returns at once on
    /// a message, when the child exits (its pipes close) and on SIGINT/SIGTERM
    /// (EINTR), and otherwise after half a second, or at the deadline. Only
    /// `--max-rss`, which must read the RSS while the workload runs, keeps a 20 ms
    /// step.
    fn wait_step(&self) -> Duration {
        let step = if self.max_rss_kib.is_some() {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(500)
        };
        step.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    /// The run's guards, checked while waiting: SIGINT/SIGTERM, the deadline, and
    /// `--max-rss`.
    fn guard(&mut self) -> Result<(), Fail> {
        if crate::runner::interrupted() {
            return Err(fail(
                FailureKind::Interrupted,
                "interrupted by SIGINT/SIGTERM",
            ));
        }
        if Instant::now() >= self.deadline {
            return Err(fail(
                FailureKind::Timeout,
                format!("the run took longer than --timeout {:?}", self.timeout),
            ));
        }
        if let (Some(limit), Some(probe)) = (self.max_rss_kib, self.probe.as_mut()) {
            if let Some((rss, _)) = probe.read() {
                if rss > limit {
                    return Err(fail(
                        FailureKind::MaxRss,
                        format!("RSS reached {rss} KiB, above --max-rss {limit} KiB"),
                    ));
                }
            }
        }
        Ok(())
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
                    FailureKind::Exit,
                    format!("the child stopped reading its commands: {e}"),
                )
            })
    }

    /// Status only: RSS, HWM, threads.
    fn snap_status(&self, phase: &str) -> Result<Snapshot, Fail> {
        crate::sampler::snapshot_status(self.pid).map_err(|e| {
            fail(
                FailureKind::Exit,
                format!("could not read /proc at phase {phase}: {e:#}"),
            )
        })
    }

    fn snap(&self, phase: &str) -> Result<Snapshot, Fail> {
        snapshot(self.pid).map_err(|e| snap_failed(phase, &e))
    }

    /// The full snapshot and glibc's arenas of the paused child, read side by side:
    /// the child waits for both, and while it waits a CPU is free, so the pause lasts
    /// as long as the longer of the two instead of their sum. `status` (the RSS the
    /// deltas use) is read first, before anything else looks at the child.
    fn snap_with_arenas(
        &self,
        phase: &str,
        trace: &mut Trace,
    ) -> (Result<Snapshot, Fail>, Option<ArenaRead>) {
        let status = match crate::sampler::snapshot_status(self.pid) {
            Ok(s) => s,
            Err(e) => return (Err(snap_failed(phase, &e)), None),
        };
        let pid = self.pid;
        let (snap, arenas) = std::thread::scope(|scope| {
            let arenas = trace.arenas.error.is_none().then(|| {
                std::thread::Builder::new()
                    .name("arena-sweep-arenas".into())
                    .spawn_scoped(scope, move || read_arenas(pid))
            });
            let snap = crate::sampler::with_regions(pid, status);
            let arenas = match arenas {
                Some(Ok(handle)) => handle.join().ok(),
                // No thread to spare: read them here, after the smaps.
                Some(Err(_)) => Some(read_arenas(pid)),
                None => None,
            };
            (snap, arenas)
        });
        let arenas = match arenas {
            Some(Ok(read)) => Some(read),
            Some(Err(why)) => {
                trace.arenas.error = Some(why);
                None
            }
            None => None,
        };
        (snap.map_err(|e| snap_failed(phase, &e)), arenas)
    }

    /// The arenas alone (after the trim and the release, with --verify).
    fn read_arenas(&self, trace: &mut Trace) -> Option<ArenaRead> {
        if trace.arenas.error.is_some() {
            return None;
        }
        match read_arenas(self.pid) {
            Ok(read) => Some(read),
            Err(why) => {
                trace.arenas.error = Some(why);
                None
            }
        }
    }
}

fn snap_failed(phase: &str, e: &anyhow::Error) -> Fail {
    fail(
        FailureKind::Exit,
        format!("could not snapshot /proc at phase {phase}: {e:#}"),
    )
}

/// glibc's arenas of the paused child, read from outside. A read refused for good (a
/// preloaded allocator, musl, an unsupported glibc) comes back as the reason, which
/// goes into `trace.arenas.error` so that later phases do not try again.
fn read_arenas(pid: i32) -> Result<ArenaRead, String> {
    // The child is paused in a read, and its workers have been joined: nothing moves.
    let opts = crate::arena::ReadOptions {
        quiescent: true,
        ..Default::default()
    };
    crate::arena::read(pid, &opts)
        .map(|snap| ArenaRead::from(&snap))
        .map_err(|e| e.to_string())
}
