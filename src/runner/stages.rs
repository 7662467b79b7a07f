//! The `run` command from start to end, one stage per function: what the user asked
//! for (the plan, merged with a resumed folder's), the checks against the machine,
//! the host (interpreters, workload environments, extension builds), the report
//! folder (new or resumed), the sweep, and what the terminal shows. Only the first
//! stages touch the host; [`record`] takes a prepared [`Sweep`] and any
//! [`Executor`], so the tests drive it with a mock.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use super::executor::{Executor, ProcessExecutor};
use super::scheduler::{self, HarnessUsage, PlanFile, Sweep};
use super::{limits, resume};
use crate::aggregate::{self, CellSummary};
use crate::cli::RunArgs;
use crate::error::{usage, Exit, SweepEnd};
use crate::ext::{ExtBuild, Variant};
use crate::model::Build;
use crate::plan::{parse_shard, Plan, Shard};
use crate::provenance::Provenance;
use crate::python::discover::Pair;
use crate::results::RunRecord;
use crate::{python, report};

/// Run a sweep. `explicit` lists the plan flags given on the command line (they
/// matter only with --resume).
pub fn run(args: &RunArgs, explicit: &[&str], out: &mut dyn Write) -> Result<Exit> {
    let started = Instant::now();
    let mut asked = resolve(args, explicit)?;
    validate(args, &asked)?;
    let host = resolve_host(args, &mut asked.plan, out)?;
    let recorded = |p: &Plan| p.workload.as_ref().is_some_and(|w| !w.installed.is_empty());
    if asked.saved.as_ref().is_some_and(|s| !recorded(&s.plan)) {
        // A folder from before the installed versions were recorded: its runs' versions
        // are unknown, so there is nothing to compare, and resuming it stays possible.
        if let Some(w) = asked.plan.workload.as_mut() {
            w.installed.clear();
        }
    }
    let sweep = open_folder(args, asked, host, out)?;
    let packages = |b: Build| {
        let w = sweep.plan.workload.as_ref();
        w.and_then(|w| w.installed.get(b.as_str()))
            .map_or(String::new(), |i| {
                format!(" with {}", crate::workload::packages_line(i))
            })
    };
    writeln!(
        out,
        "GIL: {} ({}){}\nnogil: {} ({}){}\n{}Report folder: {}",
        sweep.pair.gil.path.display(),
        sweep.pair.gil.label(),
        packages(Build::Gil),
        sweep.pair.nogil.path.display(),
        sweep.pair.nogil.label(),
        packages(Build::Nogil),
        sweep
            .shard
            .map_or(String::new(), |s| format!("Shard {s}\n")),
        sweep.dir.display()
    )?;
    out.flush()?;

    // From here on, Ctrl-C (or SIGTERM) stops after killing the run in flight, keeps
    // results.jsonl whole and marks the plan incomplete; before, the default applies
    // (nothing is half-written: builds are only used once complete).
    super::install_interrupt_flag()?;
    let end = record(&sweep, &mut ProcessExecutor, started)?;
    show(&sweep, &end, args.report.judge, out)?;
    // The report is written for incomplete plans too: what ran is worth reading.
    let plan_file = scheduler::load_plan_file(&sweep.dir)?;
    let gate = report::commands::after_run(&sweep.dir, &plan_file, &end.all, &args.report, out)?;
    Ok(end.exit(gate))
}

/// What the user asked for: the plan and its shard, and the plan file of the folder
/// being resumed.
pub struct Asked {
    pub plan: Plan,
    pub shard: Option<Shard>,
    pub saved: Option<PlanFile>,
}

/// The plan from the flags and, with --resume, the folder's plan.json: resuming with
/// no plan flags continues the saved plan as it is; a plan flag given again replaces
/// that value only (every other one is the saved plan's, not a flag's default), and
/// `resume::check` later refuses the plan if it differs. The shard must be the folder's.
pub(super) fn resolve(args: &RunArgs, explicit: &[&str]) -> Result<Asked> {
    let shard = args
        .shard
        .as_deref()
        .map(|s| parse_shard(s, |v| std::env::var(v).ok()))
        .transpose()?;
    let saved = args
        .resume
        .as_deref()
        .map(scheduler::load_plan_file)
        .transpose()
        .map_err(|e| usage(format!("--resume: {e:#}")))?;
    let plan = match &saved {
        Some(saved) if explicit.is_empty() => saved.plan.clone(),
        Some(saved) => {
            resume::typed_over_saved(&saved.plan, Plan::from_args(args, explicit)?, explicit)
        }
        None => Plan::from_args(args, explicit)?,
    };
    let shard = match (&saved, shard) {
        (Some(saved), None) => saved.shard,
        (Some(saved), Some(s)) if saved.shard != Some(s) => {
            return Err(usage(format!(
                "--resume: the folder holds shard {}, not {s}",
                saved.shard.map_or("none".to_string(), |x| x.to_string())
            )))
        }
        (_, s) => s,
    };
    Ok(Asked { plan, shard, saved })
}

/// Checks before anything is spawned: the report's time-series points are in the
/// grid, the largest cell can get its threads, the folder can hold every record.
fn validate(args: &RunArgs, asked: &Asked) -> Result<()> {
    let plan = &asked.plan;
    report::timeseries::check_cells(
        &args.report.timeseries_cells,
        &plan.python_threads,
        &plan.rust_threads,
    )
    .map_err(usage)?;
    limits::check(
        plan.max_python_threads(),
        plan.max_rust_threads(),
        &limits::current_limits(),
    )?;
    let runs = plan.runs_of_shard(asked.shard).len();
    match &args.resume {
        Some(dir) => scheduler::check_out_dir(dir, runs, "--resume"),
        None => scheduler::check_out_dir(&args.out, runs, "--out"),
    }
}

/// What a sweep runs with on this host.
pub(super) struct HostSetup {
    pub pair: Pair,
    pub pythons: BTreeMap<Build, PathBuf>,
    pub exts: BTreeMap<(Build, Variant), ExtBuild>,
    /// The driver each build's children run (its bytecode, compiled by that build's
    /// interpreter, or its source).
    pub drivers: BTreeMap<Build, PathBuf>,
    pub provenance: Provenance,
}

/// The interpreter pair (found, or installed), a workload's virtual environments,
/// the extension builds and the driver file.
fn resolve_host(args: &RunArgs, plan: &mut Plan, out: &mut dyn Write) -> Result<HostSetup> {
    let install = (!args.no_install).then_some(args.install_version.as_str());
    let pair = python::ensure_pair(&args.pythons, install, out)?;
    let mut pythons = BTreeMap::new();
    if let Some(w) = plan.workload.as_mut() {
        crate::workload::check_with(&pair.gil, w)?;
        let envs = crate::workload::envs::prepare(&pair, &plan.builds, w, out)?;
        pythons = envs.pythons;
        // Recorded in the plan: a resume that would install other versions differs.
        w.installed = envs.installed;
    }
    // The input is valid: what was learnt about the interpreters may be cached now.
    python::inspect::persist_probes();
    let exts = scheduler::ensure_extensions(plan, &pair, out)?;
    let source = super::executor::materialize_driver()?;
    let drivers = plan
        .builds
        .iter()
        .map(|&b| {
            let compiled = super::executor::compile_driver(&source, pair.get(b));
            (b, compiled.unwrap_or_else(|| source.clone()))
        })
        .collect();
    let provenance = Sweep::provenance(&pair, &exts);
    Ok(HostSetup {
        pair,
        pythons,
        exts,
        drivers,
        provenance,
    })
}

/// The report folder: a new one, or the resumed one once it is checked to hold runs
/// of this very plan, interpreters and extension. plan.json is written (incomplete).
pub(super) fn open_folder(
    args: &RunArgs,
    asked: Asked,
    host: HostSetup,
    out: &mut dyn Write,
) -> Result<Sweep> {
    let (dir, done) = match (&args.resume, &asked.saved) {
        (Some(dir), Some(saved)) => {
            resume::check(dir, saved, &asked.plan, &host.provenance)?;
            (dir.clone(), resume::done_runs(dir, out)?)
        }
        _ => (
            scheduler::new_report_dir(&args.out, asked.shard)?,
            HashSet::new(),
        ),
    };
    let sweep = Sweep {
        plan: asked.plan,
        pair: host.pair,
        exts: host.exts,
        drivers: host.drivers,
        dir,
        provenance: host.provenance,
        shard: asked.shard,
        pythons: host.pythons,
        done,
        resumed: asked.saved,
    };
    sweep.write_plan(false, None)?;
    Ok(sweep)
}

/// How a sweep ended, read back from its folder.
#[derive(Debug)]
pub struct Ended {
    /// Runs recorded by this invocation.
    pub new_runs: usize,
    /// Every record in the folder, earlier attempts' included.
    pub all: Vec<RunRecord>,
    /// Every planned run has a record.
    pub complete: bool,
    /// SIGINT/SIGTERM stopped it.
    pub interrupted: bool,
}

impl Ended {
    pub fn failed(&self) -> usize {
        self.all.iter().filter(|r| !r.ok()).count()
    }

    /// The process's exit, given the report's gates.
    pub fn exit(&self, gate: Exit) -> Exit {
        Exit::of_sweep(SweepEnd {
            complete: self.complete,
            interrupted: self.interrupted,
            gate_tripped: gate == Exit::Gate,
            failed_runs: self.failed(),
        })
    }
}

/// Run the sweep through `executor`, then mark plan.json complete (or not) from the
/// records the folder holds, with what the harness itself used since `started`.
pub fn record(sweep: &Sweep, executor: &mut dyn Executor, started: Instant) -> Result<Ended> {
    let executed = sweep.execute(executor)?;
    let all = crate::results::load(&sweep.dir.join("results.jsonl"))?.records;
    let recorded: HashSet<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
    let complete = sweep
        .run_ids()
        .iter()
        .all(|id| recorded.contains(id.as_str()));
    sweep.write_plan(complete, Some(HarnessUsage::now(started)))?;
    Ok(Ended {
        new_runs: executed.records.len(),
        all,
        complete,
        interrupted: executed.interrupted || executor.stop_requested(),
    })
}

/// The terminal's account of a sweep: the host, the results, and the tally.
fn show(sweep: &Sweep, end: &Ended, judge: crate::model::Judge, out: &mut dyn Write) -> Result<()> {
    let summaries = aggregate::summarize_judged(
        &end.all,
        sweep.plan.floor_kib(),
        &sweep.plan.thresholds,
        judge,
    );
    writeln!(out, "\nhost: {}", sweep.provenance.host.short())?;
    writeln!(
        out,
        "time series source: {}",
        crate::report::timeseries::sources(end.all.iter().filter(|r| r.ok()))
    )?;
    writeln!(out, "\n{}", view(&summaries, &sweep.plan))?;
    write!(out, "{}", tally(sweep, end))?;
    Ok(())
}

/// The results as the terminal shows them: one cell in full (the headline command),
/// one point's bindings side by side, or the sweep's summary.
fn view(summaries: &[CellSummary], plan: &Plan) -> String {
    let (thresholds, reps) = (&plan.thresholds, plan.reps);
    let one_point = summaries.iter().all(|c| {
        let (a, b) = (&c.point, &summaries[0].point);
        (&a.profile, &a.pattern, a.python_threads, a.rust_threads)
            == (&b.profile, &b.pattern, b.python_threads, b.rust_threads)
    });
    if summaries.len() == 1 {
        report::terminal::point_block(&summaries[0], thresholds, reps)
    } else if one_point && !summaries.is_empty() {
        let refs: Vec<&CellSummary> = summaries.iter().collect();
        report::terminal::bindings_block(&refs, reps)
    } else {
        report::terminal::sweep_summary(summaries, plan)
    }
}

/// How many runs ran, are recorded and failed, and how to continue an incomplete plan.
pub fn tally(sweep: &Sweep, end: &Ended) -> String {
    let mut s = format!(
        "{} run(s) this time, {} recorded in all, {} failed. Results: {}\n",
        end.new_runs,
        end.all.len(),
        end.failed(),
        sweep.dir.join("results.jsonl").display()
    );
    if !end.complete {
        s.push_str(&format!(
            "The plan is incomplete (marked so in {}); continue it with: arena-sweep run --resume {}\n",
            sweep.dir.join("plan.json").display(),
            sweep.dir.display()
        ));
    }
    s
}
