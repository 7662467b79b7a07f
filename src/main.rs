//! arena-sweep: wiring only. Parse flags, call the command, print `Error: {:#}`, and
//! exit with 2 for usage errors, 1 for run failures.

mod aggregate;
mod cli;
mod error;
mod ext;
mod matrix;
mod paths;
mod plan;
mod progress;
mod provenance;
mod python;
mod report;
mod results;
mod risk;
mod runner;
mod sampler;
mod stats;
mod tunables;

use std::io::Write;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command, PythonsCommand, RunArgs};

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| e.exit());
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            error::exit_code(&e)
        }
    };
    std::process::exit(code);
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn dispatch(cli: Cli) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        None => run(&cli.run, &mut out),
        Some(Command::Run(args)) => run(&args, &mut out),
        Some(Command::Pythons(PythonsCommand::List(args))) => python::list(&args, &mut out).map(|_| 0),
        Some(Command::Pythons(PythonsCommand::Install(args))) => {
            let opts = python::provision::InstallOptions {
                version: args.version.clone(),
                source_tarball: args.source_tarball.clone(),
                sources: args.sources.clone(),
                jobs: args.jobs.unwrap_or_else(python::default_jobs),
                force: args.force,
            };
            let pair = python::provision::install(&opts, &mut out)?;
            writeln!(out, "gil    {}  ({})", pair.gil.executable.display(), pair.gil.label())?;
            writeln!(out, "nogil  {}  ({})", pair.nogil.executable.display(), pair.nogil.label())?;
            Ok(0)
        }
    }
}

fn run(args: &RunArgs, out: &mut dyn Write) -> Result<i32> {
    use runner::scheduler::{self, Sweep};

    let plan = plan::Plan::from_args(args)?;
    runner::limits::check(plan.max_python_threads(), plan.max_rust_threads(), &runner::limits::current_limits())?;
    scheduler::check_out_dir(&args.out)?;
    runner::install_interrupt_flag()?;

    let install = (!args.no_install).then_some(args.install_version.as_str());
    let pair = python::ensure_pair(&args.pythons, install, out)?;
    let exts = scheduler::ensure_extensions(&plan, &pair, out)?;
    let driver = runner::executor::materialize_driver()?;
    let dir = scheduler::new_report_dir(&args.out)?;
    let provenance = Sweep::provenance(&pair, &exts);
    let sweep = Sweep { plan, pair, exts, driver, dir, provenance };
    sweep.write_plan(false)?;
    writeln!(
        out,
        "GIL: {} ({})\nnogil: {} ({})\nReport folder: {}",
        sweep.pair.gil.executable.display(),
        sweep.pair.gil.label(),
        sweep.pair.nogil.executable.display(),
        sweep.pair.nogil.label(),
        sweep.dir.display()
    )?;
    out.flush()?;

    let records = sweep.execute()?;
    let complete = records.len() == sweep.plan.runs().len();
    sweep.write_plan(complete)?;
    let summaries = aggregate::summarize(&records, sweep.plan.floor_kib(), &sweep.plan.thresholds);
    writeln!(out, "\nhost: {}", sweep.provenance.host.short())?;
    for s in &summaries {
        writeln!(out, "\n{}", report::terminal::point_block(s, &sweep.plan.thresholds, sweep.plan.reps))?;
    }
    let failed = records.iter().filter(|r| !r.ok()).count();
    writeln!(out, "{} runs, {} failed. Results: {}", records.len(), failed, sweep.dir.join("results.jsonl").display())?;
    if !complete {
        writeln!(out, "Interrupted: the plan is marked incomplete in {}", sweep.dir.join("plan.json").display())?;
        return Ok(130);
    }
    Ok(0)
}
