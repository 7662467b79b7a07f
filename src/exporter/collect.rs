//! The exporter's state: the processes watched, and per process the figures of its
//! last read (from `/proc`, through `process::target::observe`, and its arenas, through
//! `arena::read`, never frozen), the last good arena figures and when they were read,
//! and its error counts. A read happens at most once per `min_interval`; what it keeps
//! is bounded (a few rows per process, at most `max_targets` processes), and a process
//! that exits is forgotten.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::arena::{self, ArenaSnapshot, ReadError, ReadOptions};
use crate::process::target::{self, env_value, parse_environ, InspectError};
use crate::sampler::Regions;

use super::targets::{Selector, TargetId};

/// Why a read failed: the values of `arena_sweep_read_errors_total`'s `reason`.
/// (A process that exits is dropped instead: see [`DROPS`].)
pub const REASONS: [&str; 5] = [
    "permission",
    "inconsistent",
    "unsupported",
    "io",
    "internal",
];

/// Why a watched process was dropped: the values of
/// `arena_sweep_exporter_targets_dropped_total`'s `reason`.
pub const DROPS: [&str; 3] = ["exited", "exited_while_read", "unselected"];

fn reason_index(reason: &str) -> usize {
    let io = REASONS.iter().position(|r| *r == "io").unwrap_or(0);
    REASONS.iter().position(|r| *r == reason).unwrap_or(io)
}

/// What `/proc` said at the last read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFigures {
    pub rss_bytes: u64,
    pub regions: Regions,
    pub threads: u64,
    pub glibc_version: Option<String>,
    /// The arena cap in force, and where it comes from.
    pub arena_cap: u64,
    pub arena_cap_from: &'static str,
}

/// One exported arena (or the sum of those past `max_arenas`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArenaRow {
    /// "0" for the main arena, then "1", "2", ... in creation order, or "other".
    pub label: String,
    pub heaps: u64,
    pub system_bytes: u64,
    pub in_use_bytes: u64,
    pub free_bytes: u64,
    pub trimmable_bytes: u64,
    pub fast_free_bytes: u64,
    pub bin_free_bytes: u64,
    pub top_bytes: u64,
    pub attached_threads: u64,
}

/// The arena figures of one good read.
#[derive(Debug, Clone, PartialEq)]
pub struct ArenaFigures {
    pub arenas: u64,
    pub rows: Vec<ArenaRow>,
    /// Figures that kept changing on every retry of that read.
    pub inconsistent_figures: u64,
    pub glibc_version: String,
    pub read_at: Instant,
}

/// One watched process.
#[derive(Debug, Clone)]
pub struct Watched {
    pub id: TargetId,
    /// `/proc/PID/comm` at first sight (at most 15 bytes).
    pub comm: String,
    /// GLIBC_TUNABLES at start, as the info series shows it.
    pub glibc_tunables: String,
    /// MALLOC_ARENA_MAX at start, as the info series shows it.
    pub malloc_arena_max: String,
    pub process: Option<ProcessFigures>,
    pub arenas: Option<ArenaFigures>,
    /// The last read of the arenas succeeded.
    pub last_ok: bool,
    pub read_duration_s: f64,
    /// Counts per [`REASONS`].
    pub errors: [u64; REASONS.len()],
    /// The last error's explanation (what `inspect` says), logged when it changes.
    pub last_error: Option<String>,
}

/// Every watched process and the exporter's own counts.
pub struct Collector {
    selector: Selector,
    max_arenas: usize,
    min_interval: Duration,
    online_cpus: usize,
    pub targets: BTreeMap<TargetId, Watched>,
    pub last_read: Option<Instant>,
    pub reads_total: u64,
    pub pidfile_errors_total: u64,
    /// Processes dropped, per [`DROPS`].
    pub dropped_total: [u64; DROPS.len()],
    pub over_limit: usize,
    pub collect_duration_s: f64,
    /// Where problems are told (stderr; a test gives a buffer).
    log: Box<dyn FnMut(&str) + Send>,
}

impl Collector {
    pub fn new(selector: Selector, max_arenas: usize, min_interval: Duration) -> Collector {
        Collector {
            selector,
            max_arenas: max_arenas.max(1),
            min_interval,
            // SAFETY: sysconf is always safe to call.
            online_cpus: unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize,
            targets: BTreeMap::new(),
            last_read: None,
            reads_total: 0,
            pidfile_errors_total: 0,
            dropped_total: [0; DROPS.len()],
            over_limit: 0,
            collect_duration_s: 0.0,
            log: Box::new(|line| eprintln!("arena-sweep export: {line}")),
        }
    }

    /// Read every process now, unless the last read is younger than `min_interval`.
    /// Returns whether it read.
    pub fn refresh(&mut self, now: Instant) -> bool {
        if self
            .last_read
            .is_some_and(|t| now.saturating_duration_since(t) < self.min_interval)
        {
            return false;
        }
        self.read_all();
        true
    }

    /// Read every process now.
    pub fn read_all(&mut self) {
        let started = Instant::now();
        let resolved = self.selector.resolve();
        for why in &resolved.pidfile_problems {
            self.pidfile_errors_total += 1;
            (self.log)(&format!("--pidfile: {why}"));
        }
        if resolved.over_limit > 0 && self.over_limit != resolved.over_limit {
            (self.log)(&format!(
                "{} more process(es) match than --max-targets allows; the lowest PIDs are watched",
                resolved.over_limit
            ));
        }
        self.over_limit = resolved.over_limit;
        // Processes no longer chosen (exited, or a pidfile that moved on) are dropped,
        // and their series with them.
        let left: Vec<TargetId> = self
            .targets
            .keys()
            .filter(|id| !resolved.targets.contains(id))
            .copied()
            .collect();
        for id in left {
            let exited = !target::same_process(id.pid, id.start_ticks);
            self.drop_target(id, if exited { "exited" } else { "unselected" });
        }
        for id in resolved.targets {
            let w = self.targets.entry(id).or_insert_with(|| first_sight(id));
            let gone = read_one(w, self.online_cpus, self.max_arenas, &mut self.log);
            if gone {
                self.drop_target(id, "exited_while_read");
            }
        }
        self.reads_total += 1;
        self.last_read = Some(Instant::now());
        self.collect_duration_s = started.elapsed().as_secs_f64();
    }
}

impl Collector {
    fn drop_target(&mut self, id: TargetId, why: &'static str) {
        let i = DROPS.iter().position(|d| *d == why).unwrap_or(0);
        self.dropped_total[i] += 1;
        if let Some(w) = self.targets.remove(&id) {
            (self.log)(&format!(
                "PID {} ({}): {}; its series are dropped",
                id.pid,
                w.comm,
                match why {
                    "unselected" => "no longer chosen by --pid, --pidfile or --match",
                    _ => "exited",
                }
            ));
        }
    }
}

/// What a process is at first sight: its name and the tunables it started with.
fn first_sight(id: TargetId) -> Watched {
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", id.pid))
        .map(|c| c.trim_end_matches('\n').to_string())
        .unwrap_or_default();
    let environ = std::fs::read(format!("/proc/{}/environ", id.pid)).ok();
    let (glibc_tunables, malloc_arena_max) = match environ {
        Some(raw) => {
            let env = parse_environ(&raw);
            (
                env_label(env_value(&env, "GLIBC_TUNABLES"), valid_tunables),
                env_label(env_value(&env, "MALLOC_ARENA_MAX"), |v| {
                    v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
                }),
            )
        }
        None => (UNREADABLE.to_string(), UNREADABLE.to_string()),
    };
    Watched {
        id,
        comm,
        glibc_tunables,
        malloc_arena_max,
        process: None,
        arenas: None,
        last_ok: false,
        read_duration_s: 0.0,
        errors: [0; REASONS.len()],
        last_error: None,
    }
}

/// The label value for an environment variable the process's environ could not show.
pub const UNREADABLE: &str = "<unreadable>";
/// ... and for one that is not what glibc would parse.
pub const INVALID: &str = "<invalid>";
/// Longest GLIBC_TUNABLES shown (ld.so reads far less in practice).
const MAX_TUNABLES_LEN: usize = 512;

fn env_label(value: Option<String>, valid: impl Fn(&str) -> bool) -> String {
    match value {
        None => String::new(),
        Some(v) if valid(&v) => v,
        Some(_) => INVALID.to_string(),
    }
}

/// `name=value[:name=value...]` with names of letters, digits, `_` and `.`, and values
/// of letters, digits, `_`, `.`, `+` and `-` (numbers, hex numbers, sizes), at most
/// 512 bytes: what glibc's tunables look like. Anything else is shown as `<invalid>`,
/// so an arbitrary string from a process's environment never reaches a label.
pub fn valid_tunables(s: &str) -> bool {
    let name = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    let value = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
    };
    s.len() <= MAX_TUNABLES_LEN
        && !s.is_empty()
        && s.split(':').all(|item| {
            item.split_once('=')
                .is_some_and(|(n, v)| name(n) && value(v))
        })
}

/// Read one process; true when it is gone (exited, or its PID now names another).
fn read_one(
    w: &mut Watched,
    online_cpus: usize,
    max_arenas: usize,
    log: &mut Box<dyn FnMut(&str) + Send>,
) -> bool {
    let pid = w.id.pid;
    let started = Instant::now();
    // A bug in a reader must not take the exporter down with it: it counts as an error.
    let outcome = std::panic::catch_unwind(|| {
        let obs = target::observe(pid);
        let arenas = match &obs {
            Ok(_) => Some(arena::read(pid, &ReadOptions::default())),
            Err(_) => None,
        };
        (obs, arenas)
    });
    w.read_duration_s = started.elapsed().as_secs_f64();
    let (obs, arenas) = match outcome {
        Ok(x) => x,
        Err(_) => {
            note_error(
                w,
                "internal",
                "the reader panicked (a bug: please report it)".into(),
                log,
            );
            return false;
        }
    };
    match obs {
        Ok(o) if o.start_ticks != w.id.start_ticks => return true,
        Ok(o) => {
            let (arena_cap, arena_cap_from) = match &o.arena_max {
                Some(s) => (s.value, s.from),
                None => (
                    crate::inspect::assessment::default_cap(online_cpus),
                    "default",
                ),
            };
            w.process = Some(ProcessFigures {
                rss_bytes: o.snapshot.rss_kib * 1024,
                regions: o.snapshot.regions,
                threads: o.snapshot.threads,
                glibc_version: o.libc.version.clone(),
                arena_cap,
                arena_cap_from,
            });
        }
        Err(InspectError::NoSuchProcess { .. } | InspectError::Zombie { .. }) => return true,
        Err(e) => {
            let reason = match e {
                InspectError::Permission { .. } => "permission",
                InspectError::KernelThread { .. } => "unsupported",
                _ => "io",
            };
            w.last_ok = false;
            note_error(w, reason, e.to_string(), log);
            return false;
        }
    }
    match arenas {
        Some(Ok(snap)) => {
            w.arenas = Some(figures(&snap, max_arenas));
            w.last_ok = true;
            if w.last_error.take().is_some() {
                log(&format!(
                    "PID {pid} ({}): its arenas are read again",
                    w.comm
                ));
            }
            false
        }
        Some(Err(ReadError::ProcessGone { .. })) => true,
        Some(Err(e)) => {
            w.last_ok = false;
            note_error(w, e.kind(), e.to_string(), log);
            false
        }
        None => false,
    }
}

/// Count an error, and tell it when it is not the one told last.
fn note_error(
    w: &mut Watched,
    reason: &str,
    message: String,
    log: &mut Box<dyn FnMut(&str) + Send>,
) {
    w.errors[reason_index(reason)] += 1;
    if w.last_error.as_deref() != Some(message.as_str()) {
        log(&format!(
            "PID {} ({}): {message} (counted in arena_sweep_read_errors_total{{reason=\"{}\"}}; the exporter goes on)",
            w.id.pid,
            w.comm,
            REASONS[reason_index(reason)]
        ));
        w.last_error = Some(message);
    }
}

/// The exported rows of a read: the main arena as "0", the thread arenas in creation
/// order from "1" (glibc's ring, as malloc_info and `inspect` number it, runs from the
/// newest; creation order keeps a label on the same arena for the process's life),
/// the first `max` one by one and the rest summed as "other".
pub fn figures(snap: &ArenaSnapshot, max: usize) -> ArenaFigures {
    let main = snap.arenas.iter().filter(|a| a.is_main);
    let threads = snap.arenas.iter().filter(|a| !a.is_main).rev();
    let mut rows: Vec<ArenaRow> = Vec::new();
    let mut other: Option<ArenaRow> = None;
    for (i, a) in main.chain(threads).enumerate() {
        let row = ArenaRow {
            label: i.to_string(),
            heaps: if a.is_main { 0 } else { a.heaps.len() as u64 },
            system_bytes: a.system_mem_bytes,
            in_use_bytes: a.in_use_bytes,
            free_bytes: a.free_bytes,
            trimmable_bytes: a.trimmable_bytes,
            fast_free_bytes: a.fast_free_bytes,
            bin_free_bytes: a.bin_free_bytes,
            top_bytes: a.top_bytes,
            attached_threads: a.attached_threads,
        };
        if i < max {
            rows.push(row);
        } else {
            let o = other.get_or_insert_with(|| ArenaRow {
                label: "other".into(),
                ..ArenaRow::default()
            });
            o.heaps += row.heaps;
            o.system_bytes += row.system_bytes;
            o.in_use_bytes += row.in_use_bytes;
            o.free_bytes += row.free_bytes;
            o.trimmable_bytes += row.trimmable_bytes;
            o.fast_free_bytes += row.fast_free_bytes;
            o.bin_free_bytes += row.bin_free_bytes;
            o.top_bytes += row.top_bytes;
            o.attached_threads += row.attached_threads;
        }
    }
    rows.extend(other);
    ArenaFigures {
        arenas: snap.arenas.len() as u64,
        rows,
        inconsistent_figures: snap
            .arenas
            .iter()
            .map(|a| a.inconsistent.len() as u64)
            .sum(),
        glibc_version: snap.glibc_version.clone(),
        read_at: Instant::now(),
    }
}

#[cfg(test)]
mod tests;
