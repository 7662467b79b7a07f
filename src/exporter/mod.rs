//! `arena-sweep export`: a Prometheus exporter of a live process's glibc arenas and
//! RSS split, read from outside (no change to the service): the same readers as
//! `inspect` (`process::target::observe` for /proc, `arena::read` for glibc's
//! structures in its memory, never frozen), on a schedule a scraper drives.
//!
//! `targets` chooses the processes (PIDs, pidfiles, a pattern on the command line,
//! resolved again at every read), `collect` reads them and keeps the last good
//! figures and the error counts, `metrics` turns that into families and `exposition`
//! writes them (Prometheus text or OpenMetrics), `http` serves them on one thread, and
//! `textfile` writes them for node_exporter's textfile collector. This file checks the
//! flags and runs the chosen mode.

pub mod collect;
pub mod exposition;
mod http;
pub mod metrics;
pub mod targets;
pub mod textfile;

use std::fmt::Write as _;
use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::ExportArgs;
use crate::error::usage;

use collect::Collector;
use exposition::Format;
use targets::{read_pidfile, Selector};

/// How often `--textfile` is written unless `--interval` says otherwise.
pub const DEFAULT_TEXTFILE_INTERVAL: Duration = Duration::from_secs(15);

/// The collector and what is counted across scrapes.
pub struct State {
    pub collector: Collector,
    /// Scrapes served in the text format and in OpenMetrics.
    pub scrapes: [u64; 2],
}

impl State {
    /// One scrape: read the processes if the last read is older than
    /// `--min-interval`, then render.
    pub fn scrape(&mut self, format: Format, now: Instant) -> String {
        self.collector.refresh(now);
        self.scrapes[usize::from(format == Format::OpenMetrics)] += 1;
        self.render(format, Instant::now())
    }

    pub fn render(&self, format: Format, now: Instant) -> String {
        exposition::render(
            &metrics::families(&self.collector, self.scrapes, now),
            format,
        )
    }

    /// `/`: what is watched and how its last read went, for a person.
    pub fn status_page(&self) -> String {
        let c = &self.collector;
        let mut out = format!(
            "arena-sweep export {}: metrics at /metrics\n{} process(es) watched\n",
            env!("CARGO_PKG_VERSION"),
            c.targets.len()
        );
        for w in c.targets.values() {
            let _ = write!(out, "  PID {} ({}): ", w.id.pid, w.comm);
            match (&w.last_error, w.last_ok) {
                (_, true) => out.push_str("read\n"),
                (Some(e), false) => {
                    let _ = writeln!(out, "not read: {e}");
                }
                (None, false) => out.push_str("not read yet\n"),
            }
        }
        out
    }
}

/// Check the flags that clap cannot (files, processes), naming the flag.
fn check(args: &ExportArgs) -> Result<()> {
    for file in &args.pidfiles {
        let pid = read_pidfile(file).map_err(|why| usage(format!("--pidfile: {why}")))?;
        if crate::process::target::read_start_ticks(pid).is_none() {
            // Not an error: a service may be restarting; it is followed once it is back.
            eprintln!(
                "arena-sweep export: --pidfile {}: PID {pid} is not running now; it is read again at every read",
                file.display()
            );
        }
    }
    for &pid in &args.pids {
        if crate::process::target::read_start_ticks(pid).is_none() {
            return Err(usage(format!(
                "--pid {pid}: no such process (a process that exits later is dropped, but it must exist at start)"
            )));
        }
    }
    if let Some(path) = &args.textfile {
        if path.extension().is_none_or(|e| e != "prom") {
            return Err(usage(format!(
                "--textfile {}: the name must end in .prom (node_exporter's textfile collector reads only *.prom)",
                path.display()
            )));
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(usage(format!(
                "--textfile {}: the folder {} does not exist",
                path.display(),
                dir.unwrap().display()
            )));
        }
    }
    Ok(())
}

/// `arena-sweep export`.
pub fn command(args: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    check(args)?;
    let selector = Selector::new(
        &args.pids,
        &args.pidfiles,
        args.pattern.clone(),
        args.max_targets as usize,
    );
    let mut state = State {
        collector: Collector::new(selector, args.max_arenas as usize, args.min_interval),
        scrapes: [0; 2],
    };
    if let Some(path) = &args.textfile {
        let every = args.interval.unwrap_or(DEFAULT_TEXTFILE_INTERVAL);
        return write_textfile(&mut state, path, every, args.once);
    }
    if args.once {
        state.collector.read_all();
        state.scrapes[0] += 1;
        out.write_all(state.render(Format::Text, Instant::now()).as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    let listener = TcpListener::bind(args.listen).map_err(|e| {
        usage(format!(
            "--listen {}: cannot listen there: {e}",
            args.listen
        ))
    })?;
    let bound = listener.local_addr()?;
    eprintln!(
        "arena-sweep export: serving http://{bound}/metrics (read at most every {}s)",
        args.min_interval.as_secs_f64()
    );
    http::serve(listener, &mut state)
}

/// `--textfile`: write every `every` (once with `--once`). The first write must
/// succeed (else the flag is wrong); later failures are told and retried.
fn write_textfile(
    state: &mut State,
    path: &std::path::Path,
    every: Duration,
    once: bool,
) -> Result<()> {
    let mut first = true;
    loop {
        let started = Instant::now();
        state.collector.read_all();
        state.scrapes[0] += 1;
        let body = state.render(Format::Text, Instant::now());
        match textfile::write(path, &body) {
            Ok(()) => {}
            Err(e) if first => {
                return Err(usage(format!(
                    "--textfile {}: cannot write it: {e}",
                    path.display()
                )))
            }
            Err(e) => eprintln!("arena-sweep export: writing {} failed: {e}", path.display()),
        }
        if first && !once {
            eprintln!(
                "arena-sweep export: writing {} every {}s",
                path.display(),
                every.as_secs_f64()
            );
        }
        first = false;
        if once {
            return Ok(());
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}
