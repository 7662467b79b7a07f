//! `arena-sweep inspect PID [--freeze] [--json] [--watch SECS]`: explain a live
//! process's glibc arenas: arena heaps and their RSS, `[heap]`, thread stacks, mimalloc
//! regions, the anonymous/file split, threads, the process's libc and malloc (all from
//! /proc), then glibc's own arenas read from the process's memory (per arena: heaps,
//! system_mem, in use, free, what `malloc_trim(0)` would return; see `crate::arena`),
//! and a assessment with suggested tunables that follows from those figures.
//!
//! `target` reads /proc ([`target::observe`]), `linkage` tells its libc and malloc
//! from the files it maps (and glibc's version from the banner in them), `assessment`
//! and `arenas` judge what was read (pure functions, unit-tested), `render` and `json`
//! write it, and this file runs the one-shot view and the watch loop.
//!
//! When the arenas cannot be read (another user's process, Yama, another libc or
//! allocator), the view says why and what to do, and the assessment uses smaps alone.
//! `--freeze` stops the process (ptrace) while its arenas are read, for an exact
//! snapshot, and prints how long it was stopped. `--json` writes one JSON object per
//! look (documented in docs/inspect.md).
//!
//! Exit codes: 0 when the process was inspected (also when its malloc is not glibc's,
//! or its arenas could not be read: those are answers, explained in the output), and
//! for `--watch`, when the process exits or Ctrl-C stops the watch; 2 when it cannot
//! be inspected as asked (no such process, or it exited while it was read, permission
//! denied for smaps, a kernel thread or a zombie); 1 for any other failure to read
//! /proc.

pub mod arenas;
pub mod assessment;
mod json;
mod render;

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

pub use crate::process::{linkage, target};

use crate::arena::{self, ArenaSnapshot, ReadError, ReadOptions};
use crate::cli::InspectArgs;
use crate::tunables::Catalog;

use crate::units::{mib, signed_mib};
use assessment::{Assessment, Facts};
use target::{InspectError, Observation};

/// What inspect knows about this host (the target runs on it).
struct Host {
    online_cpus: usize,
    glibc_version: String,
    catalog: Catalog,
}

impl Host {
    fn collect() -> Host {
        Host {
            // SAFETY: sysconf is always safe to call.
            online_cpus: unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize,
            glibc_version: crate::provenance::glibc_version(),
            catalog: Catalog::for_host(),
        }
    }
}

/// One look at a process: /proc, and its arenas (or why they could not be read).
#[derive(Debug, Clone)]
pub struct Look {
    pub obs: Observation,
    pub arenas: Result<ArenaSnapshot, ReadError>,
}

/// Look at `pid` once.
fn look(pid: i32, opts: &ReadOptions) -> Result<Look, InspectError> {
    let obs = target::observe(pid)?;
    let arenas = arena::read(pid, opts);
    if let Err(ReadError::ProcessGone { .. }) = arenas {
        return Err(InspectError::NoSuchProcess {
            pid,
            hint: " (it exited while its arenas were read)".into(),
        });
    }
    Ok(Look { obs, arenas })
}

fn facts(look: &Look, host: &Host) -> Facts {
    let o = &look.obs;
    Facts {
        regions: o.snapshot.regions,
        threads: o.snapshot.threads,
        libc: o.libc.kind.clone(),
        libc_static: o.libc.is_static(),
        glibc_version: o.libc.version.clone(),
        replacement: o.replacement.clone(),
        pointer_bits: o.pointer_bits,
        arena_max: o.arena_max.clone(),
        online_cpus: host.online_cpus,
        host_glibc_version: host.glibc_version.clone(),
        arenas: look.arenas.as_ref().ok().cloned(),
    }
}

fn to_anyhow(e: InspectError) -> anyhow::Error {
    if e.is_usage() {
        crate::error::usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// `arena-sweep inspect`.
pub fn command(args: &InspectArgs, out: &mut dyn Write) -> Result<i32> {
    let host = Host::collect();
    let opts = ReadOptions {
        freeze: args.freeze,
        ..ReadOptions::default()
    };
    let first = look(args.pid, &opts).map_err(to_anyhow)?;
    let v = assessment::assess(&facts(&first, &host), &host.catalog);
    if args.json {
        writeln!(out, "{}", json::look(&first, &v))?;
    } else {
        write!(out, "{}", render::render(&first, &host, &v))?;
    }
    out.flush()?;
    match args.watch {
        Some(every) => watch(&first, &v, every, &host, &opts, args.json, out),
        None => Ok(0),
    }
}

/// Refresh every `every` until the process exits (or its PID is reused) or Ctrl-C.
fn watch(
    first: &Look,
    first_assessment: &Assessment,
    every: Duration,
    host: &Host,
    opts: &ReadOptions,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<i32> {
    crate::runner::install_interrupt_flag()?;
    let pid = first.obs.pid;
    let start_ticks = first.obs.start_ticks;
    if !as_json {
        writeln!(
            out,
            "\nWatching PID {pid} every {}s; each line shows what changed since the one before (Ctrl-C stops).",
            every.as_secs_f64()
        )?;
    }
    out.flush()?;
    let started = Instant::now();
    let mut prev = first.clone();
    let mut prev_assessment = first_assessment.clone();
    let mut refreshes = 0u64;
    let end = loop {
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if crate::runner::interrupted() {
                break;
            }
            if !target::same_process(pid, start_ticks) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50).min(every));
        }
        if crate::runner::interrupted() {
            break "stopped (Ctrl-C)".to_string();
        }
        if !target::same_process(pid, start_ticks) {
            break format!("PID {pid} exited");
        }
        let cur = match look(pid, opts) {
            Ok(l) if l.obs.start_ticks == start_ticks => l,
            // It exited (or the PID was reused) while it was being read.
            Ok(_) | Err(InspectError::NoSuchProcess { .. } | InspectError::Zombie { .. }) => {
                break format!("PID {pid} exited")
            }
            Err(e) => return Err(to_anyhow(e)),
        };
        refreshes += 1;
        let v = assessment::assess(&facts(&cur, host), &host.catalog);
        if as_json {
            writeln!(out, "{}", json::look(&cur, &v))?;
            out.flush()?;
            prev = cur;
            prev_assessment = v;
            continue;
        }
        let mut line = changes(&prev, &cur);
        if v.level != prev_assessment.level {
            line.push(format!(
                "verdict {} -> {}: {}",
                prev_assessment.level.as_str(),
                v.level.as_str(),
                v.headline
            ));
        }
        let text = if line.is_empty() {
            "no change".to_string()
        } else {
            line.join(", ")
        };
        writeln!(out, "[+{:.1}s] {text}", started.elapsed().as_secs_f64())?;
        out.flush()?;
        prev = cur;
        prev_assessment = v;
    };
    if as_json {
        return Ok(0);
    }
    writeln!(
        out,
        "{end} after {:.1}s and {refreshes} refresh(es).",
        started.elapsed().as_secs_f64()
    )?;
    let total = changes(first, &prev);
    if !total.is_empty() {
        writeln!(out, "Since the first view: {}.", total.join(", "))?;
        if prev_assessment != *first_assessment {
            writeln!(
                out,
                "Last verdict: {} - {}",
                prev_assessment.level.as_str(),
                prev_assessment.headline
            )?;
        }
    }
    Ok(0)
}

/// Fields that changed between two looks, as "name before -> after (delta)".
/// Sizes that moved by less than 0.1 MiB are left out.
fn changes(la: &Look, lb: &Look) -> Vec<String> {
    let (a, b) = (&la.obs, &lb.obs);
    let (ra, rb) = (&a.snapshot.regions, &b.snapshot.regions);
    let mut out = Vec::new();
    let mut size = |name: &str, x: u64, y: u64| {
        let d = y as i64 - x as i64;
        if d.unsigned_abs() >= 103 {
            out.push(format!(
                "{name} {} -> {} ({})",
                mib(x),
                mib(y),
                signed_mib(d)
            ));
        }
    };
    size("RSS", a.snapshot.rss_kib, b.snapshot.rss_kib);
    size(
        "arena heap RSS",
        ra.arena_heap_rss_kib,
        rb.arena_heap_rss_kib,
    );
    size("[heap]", ra.main_heap_rss_kib, rb.main_heap_rss_kib);
    size("stacks", ra.stack_rss_kib, rb.stack_rss_kib);
    size("mimalloc", ra.python_alloc_rss_kib, rb.python_alloc_rss_kib);
    size(
        "other anonymous",
        ra.anon_other_rss_kib,
        rb.anon_other_rss_kib,
    );
    size("file-backed", ra.file_rss_kib, rb.file_rss_kib);
    let mut count = |name: &str, x: u64, y: u64| {
        if x != y {
            out.push(format!("{name} {x} -> {y} ({:+})", y as i64 - x as i64));
        }
    };
    count(
        "arena heaps",
        u64::from(ra.arena_heaps),
        u64::from(rb.arena_heaps),
    );
    count("threads", a.snapshot.threads, b.snapshot.threads);
    out.extend(arena_changes(la, lb));
    out
}

/// What changed in the arenas' figures (when both looks read them).
fn arena_changes(la: &Look, lb: &Look) -> Vec<String> {
    let (Ok(a), Ok(b)) = (&la.arenas, &lb.arenas) else {
        return Vec::new();
    };
    let (ta, tb) = (&a.totals, &b.totals);
    let mut out = Vec::new();
    if ta.arenas != tb.arenas {
        out.push(format!(
            "arenas {} -> {} ({:+})",
            ta.arenas,
            tb.arenas,
            tb.arenas as i64 - ta.arenas as i64
        ));
    }
    for (name, x, y) in [
        ("arena free", ta.arena_free_bytes, tb.arena_free_bytes),
        ("in use", ta.in_use_bytes, tb.in_use_bytes),
        ("trimmable", ta.trimmable_bytes, tb.trimmable_bytes),
    ] {
        let d = y as i64 - x as i64;
        if d.unsigned_abs() >= 103 * 1024 {
            out.push(format!(
                "{name} {} -> {} ({})",
                mib(x / 1024),
                mib(y / 1024),
                signed_mib(d / 1024)
            ));
        }
    }
    out
}
