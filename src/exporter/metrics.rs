//! The metrics: every family the exporter serves, built from the collector's state at
//! the moment of a scrape (ages are computed then). Names follow Prometheus's
//! conventions (base units, `_bytes`, `_seconds`, `_total` on counters, `_info`),
//! and labels are bounded: a process is `pid` and `comm` (at most 15 bytes), an arena
//! its label from `collect::figures` (at most `--max-arenas` + 1 values), a region or
//! a reason one of a fixed list. docs/exporter.md lists them.

use std::time::Instant;

use super::collect::{ArenaRow, Collector, Watched, DROPS, REASONS};
use super::exposition::{Family, Kind};

/// The sample names the exporter serves, in the order it serves them.
pub const NAMES: &[&str] = &[
    "arena_sweep_process_resident_bytes",
    "arena_sweep_process_region_resident_bytes",
    "arena_sweep_process_threads",
    "arena_sweep_process_arena_heaps",
    "arena_sweep_process_info",
    "arena_sweep_arenas",
    "arena_sweep_arena_cap",
    "arena_sweep_arena_system_bytes",
    "arena_sweep_arena_in_use_bytes",
    "arena_sweep_arena_free_bytes",
    "arena_sweep_arena_trimmable_bytes",
    "arena_sweep_arena_fast_free_bytes",
    "arena_sweep_arena_bin_free_bytes",
    "arena_sweep_arena_top_free_bytes",
    "arena_sweep_arena_attached_threads",
    "arena_sweep_arena_heaps",
    "arena_sweep_read_duration_seconds",
    "arena_sweep_read_errors_total",
    "arena_sweep_read_success",
    "arena_sweep_read_last_success_age_seconds",
    "arena_sweep_read_inconsistent_figures",
    "arena_sweep_exporter_build_info",
    "arena_sweep_exporter_targets",
    "arena_sweep_exporter_targets_over_limit",
    "arena_sweep_exporter_targets_dropped_total",
    "arena_sweep_exporter_reads_total",
    "arena_sweep_exporter_scrapes_total",
    "arena_sweep_exporter_pidfile_errors_total",
    "arena_sweep_exporter_collect_duration_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
];

/// Per arena row: (name, help, figure).
type RowFigure = (&'static str, &'static str, fn(&ArenaRow) -> u64);

const ARENA_FAMILIES: &[RowFigure] = &[
    ("arena_sweep_arena_system_bytes", "Bytes the arena holds from the kernel (system_mem; malloc_info's <system type=\"current\">).", |r| r.system_bytes),
    ("arena_sweep_arena_in_use_bytes", "Bytes of the arena not in a free chunk: live blocks, tcache-cached chunks and glibc's headers (system_mem - fast - bins - top).", |r| r.in_use_bytes),
    ("arena_sweep_arena_free_bytes", "Free bytes inside the arena: fast bins + bins + top (malloc_info's fast + rest).", |r| r.free_bytes),
    ("arena_sweep_arena_trimmable_bytes", "Resident bytes malloc_trim(0) would give back now: whole resident pages inside free chunks, and the main arena's top beyond a page.", |r| r.trimmable_bytes),
    ("arena_sweep_arena_fast_free_bytes", "Free bytes in the arena's fast bins.", |r| r.fast_free_bytes),
    ("arena_sweep_arena_bin_free_bytes", "Free bytes in the arena's unsorted, small and large bins.", |r| r.bin_free_bytes),
    ("arena_sweep_arena_top_free_bytes", "Bytes of the arena's top chunk (free space at the end of its newest heap).", |r| r.top_bytes),
    ("arena_sweep_arena_attached_threads", "Threads attached to the arena (attached_threads; 0: on glibc's free list, for reuse).", |r| r.attached_threads),
    ("arena_sweep_arena_heaps", "64 MiB heaps of the arena (0 for the main arena, which lives in [heap]).", |r| r.heaps),
];

/// What one scrape serves.
/// `scrapes`: scrapes served so far in the text format and in OpenMetrics.
pub fn families(c: &Collector, scrapes: [u64; 2], now: Instant) -> Vec<Family> {
    let mut f = process_families(c);
    f.extend(arena_families(c));
    f.extend(read_families(c, now));
    f.extend(exporter_families(c, scrapes));
    debug_assert_eq!(
        f.iter().map(|x| x.name).collect::<Vec<_>>(),
        NAMES,
        "NAMES lists the families in serving order"
    );
    f
}

fn who(w: &Watched) -> Vec<(&'static str, String)> {
    vec![("pid", w.id.pid.to_string()), ("comm", w.comm.clone())]
}

fn with(w: &Watched, key: &'static str, value: &str) -> Vec<(&'static str, String)> {
    let mut l = who(w);
    l.push((key, value.to_string()));
    l
}

fn process_families(c: &Collector) -> Vec<Family> {
    let mut rss = Family::new(
        "arena_sweep_process_resident_bytes",
        Kind::Gauge,
        "Resident set size of the process (VmRSS).",
    );
    let mut region = Family::new(
        "arena_sweep_process_region_resident_bytes",
        Kind::Gauge,
        "Resident bytes by region of /proc/PID/smaps: arena_heaps (glibc's 64 MiB-aligned thread-arena heaps), main_heap ([heap], the main arena), mimalloc (free-threaded CPython's object allocator), thread_stacks, file (file-backed), other (other anonymous memory).",
    );
    let mut threads = Family::new(
        "arena_sweep_process_threads",
        Kind::Gauge,
        "Threads of the process.",
    );
    let mut heaps = Family::new(
        "arena_sweep_process_arena_heaps",
        Kind::Gauge,
        "Thread-arena heaps (64 MiB-aligned reservations) seen in /proc/PID/smaps.",
    );
    let mut info = Family::new(
        "arena_sweep_process_info",
        Kind::Info,
        "The process's glibc version, and GLIBC_TUNABLES and MALLOC_ARENA_MAX as it started (empty: unset; <unreadable>: its environment could not be read; <invalid>: not tunables syntax), and where its arena cap comes from.",
    );
    for w in c.targets.values() {
        let Some(p) = &w.process else { continue };
        rss.push(who(w), p.rss_bytes as f64);
        let r = &p.regions;
        for (name, kib) in [
            ("arena_heaps", r.arena_heap_rss_kib),
            ("main_heap", r.main_heap_rss_kib),
            ("mimalloc", r.python_alloc_rss_kib),
            ("thread_stacks", r.stack_rss_kib),
            ("file", r.file_rss_kib),
            ("other", r.anon_other_rss_kib),
        ] {
            region.push(with(w, "region", name), (kib * 1024) as f64);
        }
        threads.push(who(w), p.threads as f64);
        heaps.push(who(w), f64::from(r.arena_heaps));
        let mut labels = who(w);
        labels.push(("glibc_version", p.glibc_version.clone().unwrap_or_default()));
        labels.push(("glibc_tunables", w.glibc_tunables.clone()));
        labels.push(("malloc_arena_max", w.malloc_arena_max.clone()));
        labels.push(("arena_cap_from", p.arena_cap_from.to_string()));
        info.push(labels, 1.0);
    }
    vec![rss, region, threads, heaps, info]
}

fn arena_families(c: &Collector) -> Vec<Family> {
    let mut count = Family::new(
        "arena_sweep_arenas",
        Kind::Gauge,
        "glibc arenas in the process, the main one included, read from its memory.",
    );
    let mut cap = Family::new(
        "arena_sweep_arena_cap",
        Kind::Gauge,
        "Most arenas glibc will create in the process: arena_max from GLIBC_TUNABLES or MALLOC_ARENA_MAX at start, else 8 x online CPUs (64-bit).",
    );
    let mut per: Vec<Family> = ARENA_FAMILIES
        .iter()
        .map(|(name, help, _)| Family::new(name, Kind::Gauge, help))
        .collect();
    for w in c.targets.values() {
        if let Some(p) = &w.process {
            cap.push(who(w), p.arena_cap as f64);
        }
        let Some(a) = &w.arenas else { continue };
        count.push(who(w), a.arenas as f64);
        for row in &a.rows {
            for (fam, (_, _, get)) in per.iter_mut().zip(ARENA_FAMILIES) {
                fam.push(with(w, "arena", &row.label), get(row) as f64);
            }
        }
    }
    let mut out = vec![count, cap];
    out.extend(per);
    out
}

fn read_families(c: &Collector, now: Instant) -> Vec<Family> {
    let mut duration = Family::new(
        "arena_sweep_read_duration_seconds",
        Kind::Gauge,
        "Time the last read of the process took (/proc and its arenas).",
    );
    let mut errors = Family::new(
        "arena_sweep_read_errors_total",
        Kind::Counter,
        "Reads of the process that failed, by reason: permission, inconsistent (its memory kept changing through every retry), unsupported (not glibc's malloc), io, internal (a bug). A process that exits is dropped instead (arena_sweep_exporter_targets_dropped_total).",
    );
    let mut success = Family::new(
        "arena_sweep_read_success",
        Kind::Gauge,
        "1 if the last read of the process's arenas succeeded, else 0 (the arena series then hold the last good read).",
    );
    let mut age = Family::new(
        "arena_sweep_read_last_success_age_seconds",
        Kind::Gauge,
        "Seconds since the arena figures served were read (the last good read).",
    );
    let mut inconsistent = Family::new(
        "arena_sweep_read_inconsistent_figures",
        Kind::Gauge,
        "Figures of the last good read that kept changing on every retry (a busy process; they are the last attempt's).",
    );
    for w in c.targets.values() {
        duration.push(who(w), w.read_duration_s);
        for (i, reason) in REASONS.iter().enumerate() {
            errors.push(with(w, "reason", reason), w.errors[i] as f64);
        }
        success.push(who(w), if w.last_ok { 1.0 } else { 0.0 });
        if let Some(a) = &w.arenas {
            age.push(
                who(w),
                now.saturating_duration_since(a.read_at).as_secs_f64(),
            );
            inconsistent.push(who(w), a.inconsistent_figures as f64);
        }
    }
    vec![duration, errors, success, age, inconsistent]
}

fn exporter_families(c: &Collector, scrapes_by_format: [u64; 2]) -> Vec<Family> {
    let mut scrapes = Family::new(
        "arena_sweep_exporter_scrapes_total",
        Kind::Counter,
        "Scrapes served (and textfile writes), by the format served: text (Prometheus text 0.0.4) or openmetrics.",
    );
    for (format, n) in ["text", "openmetrics"].iter().zip(scrapes_by_format) {
        scrapes.push(vec![("format", format.to_string())], n as f64);
    }
    let mut build = Family::new(
        "arena_sweep_exporter_build_info",
        Kind::Info,
        "The exporter's version.",
    );
    build.push(
        vec![("version", env!("CARGO_PKG_VERSION").to_string())],
        1.0,
    );
    let gauge = |name, help, v: f64| {
        let mut f = Family::new(name, Kind::Gauge, help);
        f.push(Vec::new(), v);
        f
    };
    let counter = |name, help, v: f64| {
        let mut f = Family::new(name, Kind::Counter, help);
        f.push(Vec::new(), v);
        f
    };
    let mut dropped = Family::new(
        "arena_sweep_exporter_targets_dropped_total",
        Kind::Counter,
        "Watched processes dropped, with their series, by reason: exited (found gone between reads), exited_while_read, unselected (running, but no longer chosen: a pidfile that names another PID, a command line that no longer matches).",
    );
    for (i, reason) in DROPS.iter().enumerate() {
        dropped.push(
            vec![("reason", reason.to_string())],
            c.dropped_total[i] as f64,
        );
    }
    let (cpu_s, rss_bytes) = own_usage();
    vec![
        build,
        gauge(
            "arena_sweep_exporter_targets",
            "Processes watched now.",
            c.targets.len() as f64,
        ),
        gauge(
            "arena_sweep_exporter_targets_over_limit",
            "Processes chosen but left out by --max-targets.",
            c.over_limit as f64,
        ),
        dropped,
        counter(
            "arena_sweep_exporter_reads_total",
            "Reads of the watched processes (at most one per --min-interval).",
            c.reads_total as f64,
        ),
        scrapes,
        counter(
            "arena_sweep_exporter_pidfile_errors_total",
            "Reads of a --pidfile that failed (unreadable, or no PID in it).",
            c.pidfile_errors_total as f64,
        ),
        gauge(
            "arena_sweep_exporter_collect_duration_seconds",
            "Time the last read of every watched process took, resolving them included.",
            c.collect_duration_s,
        ),
        counter(
            "process_cpu_seconds_total",
            "CPU time the exporter itself has used (user + system).",
            cpu_s,
        ),
        gauge(
            "process_resident_memory_bytes",
            "The exporter's own resident set size.",
            rss_bytes,
        ),
    ]
}

/// The exporter's own CPU seconds and RSS bytes.
fn own_usage() -> (f64, f64) {
    // SAFETY: sysconf is always safe to call.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().collect())
        .unwrap_or_default();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command: state is field 3, utime 14, stime 15, rss (pages) 24.
    let cpu = (num(11) + num(12)) / tick;
    let rss = num(21) * page;
    (cpu, rss)
}
