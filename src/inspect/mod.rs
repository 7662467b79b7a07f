//! `arena-sweep inspect PID [--watch SECS]`: explain a live process's glibc arenas from
//! /proc alone (no ptrace): arena heaps and their RSS, `[heap]`, thread stacks, mimalloc
//! regions, the anonymous/file split, threads, the process's libc and malloc, then a
//! verdict with suggested tunables.
//!
//! `target` reads the process ([`target::observe`]), `linkage` tells its libc and
//! malloc from the files it maps (and glibc's version from the banner in them),
//! `verdict` judges what was read (a pure function, unit-tested), and this file renders
//! both and runs the watch loop.
//!
//! Exit codes: 0 when the process was inspected (also when its malloc is not glibc's:
//! that is an answer, explained in the output), and for `--watch`, when the process
//! exits or Ctrl-C stops the watch; 2 when it cannot be inspected as asked (no such
//! process, permission denied, a kernel thread or a zombie); 1 for any other failure
//! to read /proc.

pub mod linkage;
pub mod target;
pub mod verdict;

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::InspectArgs;
use crate::tunables::{self, Catalog};

use target::{InspectError, LibcKind, Observation};
use verdict::{mib, Facts, Verdict};

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

fn facts(o: &Observation, host: &Host) -> Facts {
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
    let first = target::observe(args.pid).map_err(to_anyhow)?;
    let v = verdict::verdict(&facts(&first, &host), &host.catalog);
    write!(out, "{}", render(&first, &host, &v))?;
    out.flush()?;
    match args.watch {
        Some(every) => watch(&first, &v, every, &host, out),
        None => Ok(0),
    }
}

/// Refresh every `every` until the process exits (or its PID is reused) or Ctrl-C.
fn watch(
    first: &Observation,
    first_verdict: &Verdict,
    every: Duration,
    host: &Host,
    out: &mut dyn Write,
) -> Result<i32> {
    crate::runner::install_interrupt_flag()?;
    writeln!(
        out,
        "\nWatching PID {} every {}s; each line shows what changed since the one before (Ctrl-C stops).",
        first.pid,
        every.as_secs_f64()
    )?;
    out.flush()?;
    let started = Instant::now();
    let mut prev = first.clone();
    let mut prev_verdict = first_verdict.clone();
    let mut refreshes = 0u64;
    let end = loop {
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if crate::runner::interrupted() {
                break;
            }
            if !target::same_process(first.pid, first.start_ticks) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50).min(every));
        }
        if crate::runner::interrupted() {
            break "stopped (Ctrl-C)".to_string();
        }
        if !target::same_process(first.pid, first.start_ticks) {
            break format!("PID {} exited", first.pid);
        }
        let cur = match target::observe(first.pid) {
            Ok(o) if o.start_ticks == first.start_ticks => o,
            // It exited (or the PID was reused) while it was being read.
            Ok(_) | Err(InspectError::NoSuchProcess { .. } | InspectError::Zombie { .. }) => {
                break format!("PID {} exited", first.pid)
            }
            Err(e) => return Err(to_anyhow(e)),
        };
        refreshes += 1;
        let v = verdict::verdict(&facts(&cur, host), &host.catalog);
        let mut line = changes(&prev, &cur);
        if v.level != prev_verdict.level {
            line.push(format!(
                "verdict {} -> {}: {}",
                prev_verdict.level.as_str(),
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
        prev_verdict = v;
    };
    writeln!(
        out,
        "{end} after {:.1}s and {refreshes} refresh(es).",
        started.elapsed().as_secs_f64()
    )?;
    let total = changes(first, &prev);
    if !total.is_empty() {
        writeln!(out, "Since the first view: {}.", total.join(", "))?;
        if prev_verdict != *first_verdict {
            writeln!(
                out,
                "Last verdict: {} - {}",
                prev_verdict.level.as_str(),
                prev_verdict.headline
            )?;
        }
    }
    Ok(0)
}

/// Fields that changed between two observations, as "name before -> after (delta)".
/// Sizes that moved by less than the 0.1 MiB the view shows are left out.
fn changes(a: &Observation, b: &Observation) -> Vec<String> {
    let (ra, rb) = (&a.snapshot.regions, &b.snapshot.regions);
    let mut out = Vec::new();
    let mut size = |name: &str, x: u64, y: u64| {
        let d = y as i64 - x as i64;
        if d.unsigned_abs() >= 103 {
            out.push(format!(
                "{name} {} -> {} ({}{:.1})",
                mib(x),
                mib(y),
                if d > 0 { "+" } else { "-" },
                d.unsigned_abs() as f64 / 1024.0
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
    out
}

fn libc_line(o: &Observation) -> String {
    let l = &o.libc;
    let what = match l.kind {
        LibcKind::Glibc => format!(
            "glibc {}",
            l.version.as_deref().unwrap_or("(version unknown)")
        ),
        LibcKind::Musl => "musl".to_string(),
        LibcKind::StaticOther => "no glibc (statically linked)".to_string(),
    };
    let file = match &l.file {
        Some(f) => f.display().to_string(),
        None if l.kind == LibcKind::Glibc => "linked statically into the program".to_string(),
        None => "no libc.so mapped".to_string(),
    };
    format!("{what}: {file} ({})", l.version_note)
}

fn malloc_line(o: &Observation, host: &Host) -> String {
    if let Some(r) = &o.replacement {
        return format!(
            "{} ({}{})",
            r.name,
            r.lib.display(),
            if r.preloaded {
                ", preloaded"
            } else {
                ", mapped, not preloaded"
            }
        );
    }
    match o.libc.kind {
        LibcKind::Glibc => {
            let cap = match &o.arena_max {
                Some(s) => format!("arena_max={} set by {} at start", s.value, s.from),
                None if o.environ_read => format!(
                    "arena_max not set: default cap {} = 8 x {} online CPUs",
                    verdict::default_cap(host.online_cpus),
                    host.online_cpus
                ),
                None => format!(
                    "its environment is unreadable; default cap {} = 8 x {} online CPUs unless arena_max is set",
                    verdict::default_cap(host.online_cpus),
                    host.online_cpus
                ),
            };
            format!("glibc ptmalloc2; {cap}")
        }
        LibcKind::Musl => "musl's malloc".into(),
        LibcKind::StaticOther => "the program's own".into(),
    }
}

/// The whole one-shot view.
fn render(o: &Observation, host: &Host, v: &Verdict) -> String {
    let s = &o.snapshot;
    let r = &s.regions;
    let mut t = String::new();
    let mut line = |l: String| {
        t.push_str(&l);
        t.push('\n');
    };
    line(format!(
        "PID {} ({}), user {}",
        o.pid,
        o.name,
        target::user_name(o.uid)
    ));
    if let Some(exe) = &o.exe {
        line(format!(
            "  program   {}{}",
            exe.display(),
            o.pointer_bits
                .map(|b| format!(" ({b}-bit)"))
                .unwrap_or_default()
        ));
    }
    line(format!("  libc      {}", libc_line(o)));
    line(format!("  malloc    {}", malloc_line(o, host)));
    line(format!("  threads   {}", s.threads));
    line(format!(
        "  RSS       {} (anonymous {}, file {}, shmem {}); peak {} (VmHWM)",
        mib(s.rss_kib),
        mib(s.rss_anon_kib),
        mib(s.rss_file_kib),
        mib(s.rss_shmem_kib),
        mib(s.hwm_kib)
    ));
    line(String::new());
    line(format!(
        "Where the RSS sits (/proc/{}/smaps):            resident",
        o.pid
    ));
    let row = |name: &str, detail: String, kib: u64| {
        format!("  {name:<16} {detail:<26} {:>12}", mib(kib))
    };
    line(
        row(
            "arena heaps",
            format!("{} heap(s)", r.arena_heaps),
            r.arena_heap_rss_kib,
        ) + &if r.arena_heaps > 0 {
            format!(
                "   committed {} of {} reserved",
                mib(r.arena_heap_committed_kib),
                mib(u64::from(r.arena_heaps) * 64 * 1024)
            )
        } else {
            String::new()
        },
    );
    line(row(
        "[heap]",
        "main arena (brk)".into(),
        r.main_heap_rss_kib,
    ));
    line(
        row(
            "thread stacks",
            format!("{} + the main thread's", r.thread_stacks),
            r.stack_rss_kib,
        ) + if u64::from(r.thread_stacks) >= s.threads {
            // glibc keeps the stacks of exited threads for reuse (up to 40 MiB).
            "   incl. stacks glibc caches for reuse"
        } else {
            ""
        },
    );
    if r.python_alloc_rss_kib > 0 {
        line(row(
            "mimalloc",
            "CPython's object allocator".into(),
            r.python_alloc_rss_kib,
        ));
    }
    line(row("other anonymous", String::new(), r.anon_other_rss_kib));
    line(row("file-backed", String::new(), r.file_rss_kib));
    line(row("total", String::new(), r.total_rss_kib));
    line(String::new());
    line(format!("Verdict: {} - {}", v.level.as_str(), v.headline));
    for f in &v.findings {
        line(format!("  - {f}"));
    }
    if !v.suggestions.is_empty() {
        let old = !verdict::reads_glibc_tunables(o.libc.version.as_deref());
        line(String::new());
        line("Suggested tunables (in order; each is a profile in tunables/):".into());
        for sg in &v.suggestions {
            let setting = if old {
                tunables::render_env_aliases(&sg.profile.tunables)
                    .unwrap_or_else(|| "(no environment alias exists)".into())
            } else {
                format!("GLIBC_TUNABLES={}", sg.profile.glibc_tunables())
            };
            line(format!("  {setting}"));
            line(format!("      {}: {}", sg.profile.name, sg.why));
        }
    }
    if !v.advice.is_empty() {
        line(String::new());
        line("Also:".into());
        for a in &v.advice {
            line(format!("  - {a}"));
        }
    }
    if !v.notes.is_empty() {
        line(String::new());
        line("Notes:".into());
        for n in &v.notes {
            line(format!("  - {n}"));
        }
    }
    t
}
