//! The text view of one look at a process: who it is, where its RSS sits (smaps), its
//! glibc arenas (when read), and the assessment.

use crate::arena::{Arena, ArenaSnapshot, ReadError};
use crate::tunables;

use super::assessment::{self, Assessment};
use super::target::{self, LibcKind, Observation};
use super::{Host, Look};
use crate::units::{mib, mib_of_bytes};

pub(super) fn libc_line(o: &Observation) -> String {
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

pub(super) fn malloc_line(o: &Observation, host: &Host) -> String {
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
                    assessment::default_cap(host.online_cpus),
                    host.online_cpus
                ),
                None => format!(
                    "its environment is unreadable; default cap {} = 8 x {} online CPUs unless arena_max is set",
                    assessment::default_cap(host.online_cpus),
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
pub(super) fn render(look: &Look, host: &Host, v: &Assessment) -> String {
    let o = &look.obs;
    let mut lines = identity(o, host);
    lines.push(String::new());
    lines.extend(rss_table(o));
    lines.push(String::new());
    lines.extend(arena_section(look));
    lines.push(String::new());
    lines.extend(verdict_lines(o, v));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Who the process is: PID, program, libc, malloc, threads and RSS.
fn identity(o: &Observation, host: &Host) -> Vec<String> {
    let s = &o.snapshot;
    let mut out = vec![format!(
        "PID {} ({}), user {}",
        o.pid,
        o.name,
        target::user_name(o.uid)
    )];
    if let Some(exe) = &o.exe {
        out.push(format!(
            "  program   {}{}",
            exe.display(),
            o.pointer_bits
                .map(|b| format!(" ({b}-bit)"))
                .unwrap_or_default()
        ));
    }
    out.push(format!("  libc      {}", libc_line(o)));
    out.push(format!("  malloc    {}", malloc_line(o, host)));
    out.push(format!("  threads   {}", s.threads));
    out.push(format!(
        "  RSS       {} (anonymous {}, file {}, shmem {}); peak {} (VmHWM)",
        mib(s.rss_kib),
        mib(s.rss_anon_kib),
        mib(s.rss_file_kib),
        mib(s.rss_shmem_kib),
        mib(s.hwm_kib)
    ));
    out
}

/// Where the RSS sits, from smaps: arena heaps, `[heap]`, stacks, mimalloc, the rest.
fn rss_table(o: &Observation) -> Vec<String> {
    let s = &o.snapshot;
    let r = &s.regions;
    let row = |name: &str, detail: String, kib: u64| {
        format!("  {name:<16} {detail:<26} {:>12}", mib(kib))
    };
    let mut out = vec![format!(
        "Where the RSS sits (/proc/{}/smaps):            resident",
        o.pid
    )];
    out.push(
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
    out.push(row(
        "[heap]",
        "main arena (brk)".into(),
        r.main_heap_rss_kib,
    ));
    out.push(
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
        out.push(row(
            "mimalloc",
            "CPython's object allocator".into(),
            r.python_alloc_rss_kib,
        ));
    }
    out.push(row("other anonymous", String::new(), r.anon_other_rss_kib));
    out.push(row("file-backed", String::new(), r.file_rss_kib));
    out.push(row("total", String::new(), r.total_rss_kib));
    out
}

/// The assessment, its findings, the suggested settings (GLIBC_TUNABLES, or the old
/// environment aliases for a glibc that predates it), advice and notes.
fn verdict_lines(o: &Observation, v: &Assessment) -> Vec<String> {
    let mut out = vec![format!("Verdict: {} - {}", v.level.as_str(), v.headline)];
    out.extend(v.findings.iter().map(|f| format!("  - {f}")));
    if !v.levers.is_empty() {
        out.push(String::new());
        out.push("What acts on it, most returned first:".into());
        for (i, a) in v.levers.iter().enumerate() {
            out.push(format!("  {}. {}", i + 1, a.line()));
        }
    }
    if !v.suggestions.is_empty() {
        let old = !assessment::reads_glibc_tunables(o.libc.version.as_deref());
        out.push(String::new());
        out.push("Suggested tunables (in order; each is a profile in tunables/):".into());
        for sg in &v.suggestions {
            let setting = if old {
                tunables::render_env_aliases(&sg.profile.tunables)
                    .unwrap_or_else(|| "(no environment alias exists)".into())
            } else {
                format!("GLIBC_TUNABLES={}", sg.profile.glibc_tunables())
            };
            out.push(format!("  {setting}"));
            out.push(format!("      {}: {}", sg.profile.name, sg.why));
        }
    }
    out.extend(bullet_list("Also:", &v.advice));
    out.extend(bullet_list("Notes:", &v.notes));
    out
}

/// A titled list after a blank line, or nothing when `items` is empty.
fn bullet_list(title: &str, items: &[String]) -> Vec<String> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new(), title.to_string()];
    out.extend(items.iter().map(|i| format!("  - {i}")));
    out
}

/// A figure, with `*` when it could not be read consistently.
fn fig(a: &Arena, which: crate::arena::Figure, bytes: u64) -> String {
    let mark = if a.inconsistent.contains(&which) {
        "*"
    } else {
        ""
    };
    format!("{}{mark}", mib_of_bytes(bytes))
}

fn arena_row(a: &Arena) -> String {
    use crate::arena::Figure as F;
    let name = if a.is_main {
        "main ([heap])".to_string()
    } else {
        format!("{} @{:#x}", a.index, a.address)
    };
    format!(
        "  {name:<22} {:>5} {:>11} {:>11} {:>11} {:>11} {:>8}",
        if a.is_main {
            "-".to_string()
        } else {
            a.heaps.len().to_string()
        },
        fig(a, F::SystemMemBytes, a.system_mem_bytes),
        fig(a, F::InUseBytes, a.in_use_bytes),
        fig(
            a,
            F::BinFreeBytes,
            a.fast_free_bytes + a.bin_free_bytes + a.top_bytes
        ),
        fig(a, F::TrimmableBytes, a.trimmable_bytes),
        a.attached_threads
    )
}

fn how_read(s: &ArenaSnapshot) -> String {
    let mut how = format!("read from its memory in {:.1} ms", s.read_s * 1e3);
    if let Some(stopped) = s.stopped_s {
        how.push_str(&format!(
            "; the process was stopped for {:.1} ms",
            stopped * 1e3
        ));
    }
    if s.attempts > 1 {
        how.push_str(&format!("; {} attempts", s.attempts));
    }
    how
}

/// The per-arena table and totals, or why the arenas were not read.
pub(super) fn arena_section(look: &Look) -> Vec<String> {
    let s = match &look.arenas {
        Ok(s) => s,
        Err(e) => return not_read(e),
    };
    let t = &s.totals;
    let mut out = vec![
        format!("glibc's arenas ({}):", how_read(s)),
        format!(
            "  {:<22} {:>5} {:>11} {:>11} {:>11} {:>11} {:>8}",
            "arena", "heaps", "system", "in use", "free", "trimmable", "threads"
        ),
    ];
    out.extend(s.arenas.iter().map(arena_row));
    out.push(format!(
        "  {:<22} {:>5} {:>11} {:>11} {:>11} {:>11}",
        format!("total ({} arenas)", t.arenas),
        t.heaps,
        mib_of_bytes(t.system_mem_bytes),
        mib_of_bytes(t.in_use_bytes),
        mib_of_bytes(t.fast_free_bytes + t.bin_free_bytes + t.top_bytes),
        mib_of_bytes(t.trimmable_bytes)
    ));
    out.push(format!(
        "  free = fast bins {} + bins {} + tops {}; trimmable = the resident RSS malloc_trim(0) would return",
        mib_of_bytes(t.fast_free_bytes),
        mib_of_bytes(t.bin_free_bytes),
        mib_of_bytes(t.top_bytes)
    ));
    if !s.consistent {
        out.push("  * moved while it was read, in every attempt: approximate (--freeze reads it exactly)".into());
        for a in s.arenas.iter().filter(|a| !a.problems.is_empty()) {
            out.push(format!("    arena {}: {}", a.index, a.problems.join("; ")));
        }
    }
    for n in &s.notes {
        out.push(format!("  note: {n}"));
    }
    out
}

fn not_read(e: &ReadError) -> Vec<String> {
    let mut out = vec![format!("glibc's arenas: not read. {e}.")];
    if matches!(e, ReadError::Permission { .. }) {
        out.push("  The view above and the verdict below come from /proc/PID/smaps alone.".into());
    }
    out
}
