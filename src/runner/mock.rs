//! A deterministic [`Executor`] for the scheduler's tests, in the manner of
//! hyperfine's `MockExecutor`: no process is started. A run's numbers follow from
//! its spec alone (so two sweeps of the same plan record the same numbers), chosen
//! runs fail with a chosen kind, and an interrupt can be simulated after N runs, as
//! SIGINT would arrive during a run or between two.

use std::path::PathBuf;

use super::executor::{Executor, RunSpec};
use crate::model::Build;
use crate::results::{Failure, FailureKind, Metrics, RunRecord, Status};

/// When the simulated SIGINT arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// While run N+1 is in flight: it comes back `interrupted`.
    DuringRun(usize),
    /// After run N ended, before the next starts.
    BetweenRuns(usize),
}

type Rule = Box<dyn Fn(&RunSpec) -> Option<FailureKind>>;

pub struct MockExecutor {
    fail: Rule,
    interrupt: Option<Interrupt>,
    /// Runs completed (not counting an interrupted one).
    runs: usize,
    stopped: bool,
    /// Every run asked for, in order: "run id, padding length".
    pub log: Vec<String>,
}

impl MockExecutor {
    /// Every run succeeds.
    pub fn new() -> Self {
        MockExecutor {
            fail: Box::new(|_| None),
            interrupt: None,
            runs: 0,
            stopped: false,
            log: Vec::new(),
        }
    }

    /// Runs for which `rule` gives a kind fail with it.
    pub fn failing(mut self, rule: impl Fn(&RunSpec) -> Option<FailureKind> + 'static) -> Self {
        self.fail = Box::new(rule);
        self
    }

    pub fn interrupted(mut self, at: Interrupt) -> Self {
        self.interrupt = Some(at);
        self
    }

    /// What a run measures: a baseline that grows with the Python threads, and a
    /// delta of 64 KiB per Rust thread, times the Python threads without the GIL
    /// (the amplification the tool looks for), plus the repetition's number.
    pub fn metrics(spec: &RunSpec) -> Metrics {
        let p = &spec.cell.point;
        let (pt, rt) = (u64::from(p.python_threads), u64::from(p.rust_threads));
        let baseline = 10_000 + 100 * pt;
        let delta = match spec.cell.build {
            Build::Gil => 64 * rt,
            Build::Nogil => 64 * rt * pt,
        } + u64::from(spec.rep);
        let heaps = match spec.cell.build {
            Build::Gil => rt.min(8),
            Build::Nogil => (pt * rt).min(8 * 2),
        } as u32;
        let calls = pt * u64::from(spec.iterations);
        Metrics {
            baseline_rss_kib: baseline,
            final_rss_kib: baseline + delta,
            delta_kib: delta as i64,
            peak_rss_kib: baseline + delta + 512,
            vm_hwm_kib: baseline + delta + 512,
            after_trim_rss_kib: baseline + delta / 2,
            reclaimable_kib: (delta - delta / 2) as i64,
            arena_heaps: heaps,
            heap_rss_kib: u64::from(heaps) * 132,
            peak_threads: (pt * (rt + 1)) as u32 + 1,
            wall_s: 0.01 * pt as f64,
            calls,
            calls_per_s: calls as f64 / (0.01 * pt as f64),
            ..Metrics::default()
        }
    }

    fn record(spec: &RunSpec, outcome: Result<Metrics, FailureKind>) -> RunRecord {
        let (status, metrics, failure) = match outcome {
            Ok(m) => (Status::Ok, Some(m), None),
            Err(kind) => (
                Status::Failed,
                None,
                Some(Failure {
                    kind,
                    message: format!("mock {kind}"),
                    signal: (kind == FailureKind::Crashed).then_some(11),
                    exit_code: (kind == FailureKind::Workload).then_some(4),
                    stderr_tail: String::new(),
                }),
            ),
        };
        RunRecord {
            pattern_params: spec.pattern_params.clone(),
            python_version: spec.interpreter.version.clone(),
            interpreter: spec.interpreter.path.clone(),
            glibc_tunables: spec.glibc_tunables.clone(),
            allocator: spec.allocator.clone(),
            status,
            failure,
            metrics,
            env_pad_len: spec.env_pad_len,
            ..RunRecord::for_test(spec.cell.clone(), spec.rep, Metrics::default())
        }
    }
}

impl Executor for MockExecutor {
    fn run(&mut self, spec: &RunSpec) -> RunRecord {
        self.log.push(format!(
            "{} pad={}",
            spec.cell.run_id(spec.rep),
            spec.env_pad_len
        ));
        if self.interrupt == Some(Interrupt::DuringRun(self.runs)) {
            self.stopped = true;
            return Self::record(spec, Err(FailureKind::Interrupted));
        }
        self.runs += 1;
        if self.interrupt == Some(Interrupt::BetweenRuns(self.runs)) {
            self.stopped = true;
        }
        let outcome = match (self.fail)(spec) {
            Some(kind) => Err(kind),
            None => Ok(Self::metrics(spec)),
        };
        Self::record(spec, outcome)
    }

    fn stop_requested(&self) -> bool {
        self.stopped
    }
}

/// Interpreters, extension builds and provenance for a sweep that starts no process:
/// those of a fixture folder (tests/fixtures/reports/glibc-default), whose files do
/// not have to exist on this machine.
pub fn fake_host() -> super::stages::HostSetup {
    let fixture: super::plan_file::PlanFile = serde_json::from_str(include_str!(
        "../../tests/fixtures/reports/glibc-default/plan.json"
    ))
    .expect("the fixture's plan.json");
    let provenance = fixture.provenance;
    let interpreter = |build: Build| {
        provenance
            .interpreters
            .iter()
            .find(|i| i.build() == build)
            .expect("both builds in the fixture")
            .clone()
    };
    let pair = crate::python::discover::Pair {
        gil: interpreter(Build::Gil),
        nogil: interpreter(Build::Nogil),
        matched: true,
    };
    let exts = provenance
        .extensions
        .iter()
        .map(|e| {
            let build = if e.interpreter == pair.gil.path {
                Build::Gil
            } else {
                Build::Nogil
            };
            ((build, e.variant), e.clone())
        })
        .collect();
    super::stages::HostSetup {
        pair,
        pythons: Default::default(),
        exts,
        drivers: [Build::Gil, Build::Nogil]
            .into_iter()
            .map(|b| (b, PathBuf::from("/mock/driver.py")))
            .collect(),
        provenance,
    }
}
