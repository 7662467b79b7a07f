//! arena-sweep: wiring only. Parse flags, call the command, print `Error: {:#}`, and
//! exit with the code `error::Exit` decides (0, 1 for run failures, 2 for usage
//! errors, 3 for a tripped `--fail-on-*` gate, 130 when interrupted).

use std::io::Write;

use anyhow::Result;
use arena_sweep::error::Exit;
use arena_sweep::{cli, doctor, exporter, ext, inspect, manual, python, report, runner, sampler};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use cli::{Cli, Command, PythonsCommand};

fn main() {
    // `--version` also names the extension wheels this binary installs.
    let long_version: &'static str = Box::leak(ext::version_details().into_boxed_str());
    let matches = Cli::command().long_version(long_version).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let ext_args = match &cli.command {
        None => Some(&cli.run.ext),
        Some(Command::Run(a)) => Some(&a.ext),
        Some(Command::Doctor(a)) => Some(&a.ext),
        _ => None,
    };
    if let Some(a) = ext_args {
        ext::configure(a.policy());
    }
    let exit = match dispatch(cli, &matches) {
        Ok(exit) => {
            // A command that succeeded may leave what it learnt about interpreters
            // in the cache (a run does so earlier, once its input is valid).
            python::inspect::persist_probes();
            exit
        }
        Err(e) => {
            let exit = Exit::of_error(&e);
            // A broken pipe is the reader having had enough, not an error to show.
            if exit != Exit::Success {
                eprintln!("Error: {e:#}");
            }
            exit
        }
    };
    std::process::exit(exit.code());
}

fn dispatch(cli: Cli, matches: &ArgMatches) -> Result<Exit> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        None => runner::stages::run(&cli.run, &cli::explicit_plan_flags(matches), &mut out),
        Some(Command::Run(args)) => {
            let sub = matches.subcommand_matches("run").expect("run subcommand");
            runner::stages::run(&args, &cli::explicit_plan_flags(sub), &mut out)
        }
        Some(Command::Pythons(PythonsCommand::List(args))) => {
            python::list(&args, &mut out).map(|_| Exit::Success)
        }
        Some(Command::Pythons(PythonsCommand::Install(args))) => {
            let opts = python::provision::InstallOptions {
                version: args.version.clone(),
                source_tarball: args.source_tarball.clone(),
                sources: args.sources.clone(),
                jobs: args.jobs.unwrap_or_else(python::default_jobs),
                force: args.force,
            };
            let pair = python::provision::install(&opts, &mut out)?;
            writeln!(
                out,
                "gil    {}  ({})",
                pair.gil.executable.display(),
                pair.gil.label()
            )?;
            writeln!(
                out,
                "nogil  {}  ({})",
                pair.nogil.executable.display(),
                pair.nogil.label()
            )?;
            Ok(Exit::Success)
        }
        Some(Command::Inspect(args)) => {
            inspect::command(&args, &mut out).map(|code| Exit::of_success(code == 0))
        }
        Some(Command::Export(args)) => exporter::command(&args, &mut out).map(|_| Exit::Success),
        Some(Command::Doctor(args)) => {
            doctor::command(&args, &mut out).map(|code| Exit::of_success(code == 0))
        }
        Some(Command::Sample(a)) => sampler::record::run(
            &sampler::record::Request {
                pid: a.pid,
                interval: a.interval,
                duration: a.duration,
                source: a.source,
                method: a.method,
            },
            a.csv.as_deref(),
            &mut out,
        )
        .map(|_| Exit::Success),
        Some(Command::Report(args)) => report::commands::report(&args, &mut out),
        Some(Command::Compare(args)) => report::commands::compare(&args, &mut out),
        Some(Command::Completions(args)) => {
            manual::completions(args.shell, &mut out).map(|_| Exit::Success)
        }
        Some(Command::Man(args)) => {
            manual::man(args.out_dir.as_deref(), &mut out).map(|_| Exit::Success)
        }
        Some(Command::Merge(args)) => runner::merge::command(&args.dirs, &args.out, &mut out),
    }
}
