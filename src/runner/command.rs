//! The `run` command from start to end: plan, checks, interpreters, extension builds,
//! report folder (new, or the one being resumed), the sweep, and the summary.

use std::io::Write;

use anyhow::Result;

use super::scheduler::{self, Sweep};
use super::{limits, resume};
use crate::cli::RunArgs;
use crate::plan::{parse_shard, Plan};
use crate::{aggregate, python, report};

/// Run a sweep. `explicit` lists the plan flags given on the command line (they
/// matter only with --resume). Returns the exit code.
pub fn run(args: &RunArgs, explicit: &[&str], out: &mut dyn Write) -> Result<i32> {
    let started = std::time::Instant::now();
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
        .map_err(|e| crate::error::usage(format!("--resume: {e:#}")))?;
    let plan = match &saved {
        // Resuming with no plan flags: the saved plan as it is.
        Some(saved) if explicit.is_empty() => saved.plan.clone(),
        Some(saved) => {
            let mut plan = Plan::from_args(args, explicit)?;
            if !explicit.contains(&"seed") {
                plan.seed = saved.plan.seed;
            }
            plan
        }
        None => Plan::from_args(args, explicit)?,
    };
    let shard = match (&saved, shard) {
        (Some(saved), None) => saved.shard,
        (Some(saved), Some(s)) if saved.shard != Some(s) => {
            return Err(crate::error::usage(format!(
                "--resume: the folder holds shard {}, not {s}",
                saved.shard.map_or("none".to_string(), |x| x.to_string())
            )))
        }
        (_, s) => s,
    };
    crate::report::timeseries::check_cells(
        &args.report.timeseries_cells,
        &plan.python_threads,
        &plan.rust_threads,
    )
    .map_err(crate::error::usage)?;
    limits::check(
        plan.max_python_threads(),
        plan.max_rust_threads(),
        &limits::current_limits(),
    )?;
    let runs = plan.runs_of_shard(shard).len();
    match &args.resume {
        Some(dir) => scheduler::check_out_dir(dir, runs, "--resume")?,
        None => scheduler::check_out_dir(&args.out, runs, "--out")?,
    }

    let install = (!args.no_install).then_some(args.install_version.as_str());
    let pair = python::ensure_pair(&args.pythons, install, out)?;
    let mut pythons = std::collections::BTreeMap::new();
    if let Some(w) = &plan.workload {
        crate::workload::check_with(&pair.gil, w)?;
        for build in &plan.builds {
            pythons.insert(
                *build,
                crate::workload::python_for(pair.get(*build), w, out)?,
            );
        }
    }
    // The input is valid: what was learnt about the interpreters may be cached now.
    crate::python::inspect::persist_probes();
    let exts = scheduler::ensure_extensions(&plan, &pair, out)?;
    let driver = super::executor::materialize_driver()?;
    let provenance = Sweep::provenance(&pair, &exts);

    let (dir, done) = match (&args.resume, &saved) {
        (Some(dir), Some(saved)) => {
            resume::check(dir, saved, &plan, &provenance)?;
            let (done, unreadable) = resume::recorded(dir)?;
            if unreadable > 0 {
                writeln!(
                    out,
                    "note: {unreadable} unreadable line(s) in {} are ignored and will be run again",
                    dir.join("results.jsonl").display()
                )?;
            }
            writeln!(
                out,
                "Resuming {}: {} run(s) already recorded",
                dir.display(),
                done.len()
            )?;
            (dir.clone(), done)
        }
        _ => (
            scheduler::new_report_dir(&args.out, shard)?,
            Default::default(),
        ),
    };
    let sweep = Sweep {
        plan,
        pair,
        exts,
        driver,
        dir,
        provenance,
        shard,
        pythons,
        done,
    };
    // On resume, the first attempt's provenance stays: it describes the recorded runs.
    match &saved {
        Some(saved) => scheduler::write_plan_file(
            &sweep.dir,
            &scheduler::PlanFile {
                complete: false,
                ..saved.clone()
            },
        )?,
        None => sweep.write_plan(false, None)?,
    }
    writeln!(
        out,
        "GIL: {} ({})\nnogil: {} ({})\n{}Report folder: {}",
        sweep.pair.gil.path.display(),
        sweep.pair.gil.label(),
        sweep.pair.nogil.path.display(),
        sweep.pair.nogil.label(),
        shard.map_or(String::new(), |s| format!("Shard {s}\n")),
        sweep.dir.display()
    )?;
    out.flush()?;

    // From here on, Ctrl-C (or SIGTERM) stops after killing the run in flight, keeps
    // results.jsonl whole and marks the plan incomplete; before, the default applies
    // (nothing is half-written: builds are only used once complete).
    super::install_interrupt_flag()?;
    let new_records = sweep.execute()?;
    let all = crate::results::load(&sweep.dir.join("results.jsonl"))?.records;
    let recorded: std::collections::HashSet<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
    let complete = sweep
        .run_ids()
        .iter()
        .all(|id| recorded.contains(id.as_str()));
    let harness = Some(scheduler::HarnessUsage::now(started));
    match &saved {
        Some(saved) => scheduler::write_plan_file(
            &sweep.dir,
            &scheduler::PlanFile {
                complete,
                harness,
                ..saved.clone()
            },
        )?,
        None => sweep.write_plan(complete, harness)?,
    }

    let summaries = aggregate::summarize(&all, sweep.plan.floor_kib(), &sweep.plan.thresholds);
    writeln!(out, "\nhost: {}", sweep.provenance.host.short())?;
    let one_point = summaries.iter().all(|c| {
        let (a, b) = (&c.point, &summaries[0].point);
        (&a.profile, &a.pattern, a.python_threads, a.rust_threads)
            == (&b.profile, &b.pattern, b.python_threads, b.rust_threads)
    });
    let (thresholds, reps) = (&sweep.plan.thresholds, sweep.plan.reps);
    if summaries.len() == 1 {
        writeln!(
            out,
            "\n{}",
            report::terminal::point_block(&summaries[0], thresholds, reps)
        )?;
    } else if one_point && !summaries.is_empty() {
        let refs: Vec<&aggregate::CellSummary> = summaries.iter().collect();
        writeln!(out, "\n{}", report::terminal::bindings_block(&refs, reps))?;
    } else {
        writeln!(
            out,
            "\n{}",
            report::terminal::sweep_summary(&summaries, &sweep.plan)
        )?;
    }
    let failed = all.iter().filter(|r| !r.ok()).count();
    writeln!(
        out,
        "{} run(s) this time, {} recorded in all, {} failed. Results: {}",
        new_records.len(),
        all.len(),
        failed,
        sweep.dir.join("results.jsonl").display()
    )?;
    if !complete {
        writeln!(
            out,
            "The plan is incomplete (marked so in {}); continue it with: arena-sweep run --resume {}",
            sweep.dir.join("plan.json").display(),
            sweep.dir.display()
        )?;
    }
    // The report is written for incomplete plans too: what ran is worth reading.
    let plan_file = scheduler::load_plan_file(&sweep.dir)?;
    let gate = report::command::after_run(&sweep.dir, &plan_file, &all, &args.report, out)?;
    if !complete {
        return Ok(if super::interrupted() { 130 } else { 1 });
    }
    // A tripped CI gate (3) comes first; failed runs are results too (recorded, with
    // reasons), but a sweep with any of them is not a clean success (1).
    Ok(if gate != 0 {
        gate
    } else if failed > 0 {
        1
    } else {
        0
    })
}
