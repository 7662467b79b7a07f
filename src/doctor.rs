//! `arena-sweep doctor`: show this host's provenance (what every plan.json records)
//! and check that the host can run sweeps whose figures mean what the report says.
//!
//! Each check is OK, WARN or FAIL, with a one-line reason and, unless OK, a fix. The
//! checks on collected facts (tunables support, THP, the arena cap, thread limits, the
//! interpreter pair) are pure functions with unit tests; building and importing the
//! extension is done for real (`extension.rs`). The command exits 1 if any check
//! fails, else 0.

use std::fmt;
use std::io::Write;

use anyhow::Result;

use crate::cli::DoctorArgs;
use crate::ext::Variant;
use crate::model::Build;
use crate::provenance::Host;
use crate::python::discover::{self, Candidate, Explicit, Pair};
use crate::runner::limits::{self, Limit};
use crate::tunables::{parse_list_tunables, MALLOC_PREFIX};

mod extension;

use extension::check_extension;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that width flags line the columns up.
        f.pad(match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub reason: String,
    /// What to do about a WARN or FAIL.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, reason: String) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            reason,
            fix: None,
        }
    }
    fn warn(name: &str, reason: String, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Warn,
            reason,
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &str, reason: String, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            reason,
            fix: Some(fix.into()),
        }
    }

    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "  {:<5} {:<25} {}",
            self.status, self.name, self.reason
        )?;
        if let Some(fix) = &self.fix {
            writeln!(out, "  {:<5} {:<25} fix: {fix}", "", "")?;
        }
        Ok(())
    }
}

/// (major, minor) of "2.36" or "2.39.9000".
fn glibc_minor(version: &str) -> Option<(u32, u32)> {
    let mut p = version.split('.');
    Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?))
}

/// GLIBC_TUNABLES needs glibc >= 2.26; `ld.so --list-tunables` (what arena-sweep
/// validates against) needs 2.33.
pub fn check_tunables(host: &Host) -> Check {
    const NAME: &str = "glibc tunables";
    let Some(version) = glibc_minor(&host.glibc_version) else {
        return Check::fail(
            NAME,
            format!("cannot tell the glibc version (`{}`)", host.glibc_version),
            "run arena-sweep on a glibc-based Linux (Debian, Ubuntu, Fedora, RHEL, ...)",
        );
    };
    let v = &host.glibc_version;
    if version < (2, 26) {
        return Check::fail(
            NAME,
            format!(
                "glibc {v} predates GLIBC_TUNABLES (2.26): tunables profiles cannot be applied"
            ),
            "run on glibc >= 2.26 (Debian 10, Ubuntu 18.04, RHEL 8 or newer)",
        );
    }
    let Some(ld_so) = &host.ld_so else {
        return Check::fail(
            NAME,
            "no dynamic loader is mapped into arena-sweep, so its tunables cannot be listed".into(),
            "use a dynamically linked build of arena-sweep",
        );
    };
    let malloc: Vec<String> = parse_list_tunables(&host.ld_so_list_tunables)
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with(MALLOC_PREFIX))
        .collect();
    if malloc.is_empty() {
        let why = if version < (2, 33) {
            format!("glibc {v} reads GLIBC_TUNABLES but cannot list them (`--list-tunables` needs 2.33)")
        } else {
            format!(
                "`{} --list-tunables` listed no glibc.malloc tunables",
                ld_so.display()
            )
        };
        return Check::warn(
            NAME,
            format!("{why}; entries are checked against arena-sweep's built-in table for glibc 2.30-2.32"),
            "nothing breaks; on glibc >= 2.33 entries are checked against the loader's own list",
        );
    }
    if !malloc.iter().any(|n| n == "glibc.malloc.arena_max") {
        return Check::fail(
            NAME,
            format!(
                "`{} --list-tunables` has no glibc.malloc.arena_max",
                ld_so.display()
            ),
            "arena caps cannot be set on this glibc; use another host",
        );
    }
    Check::ok(
        NAME,
        format!(
            "glibc {v}; `{} --list-tunables` lists {} glibc.malloc tunables, arena_max among them",
            ld_so.display(),
            malloc.len()
        ),
    )
}

/// The THP mode changes the figures: under `always`, touched arena heaps may fault in
/// 2 MiB at a time.
pub fn check_thp(mode: &str) -> Check {
    const NAME: &str = "transparent huge pages";
    match mode {
        "madvise" => Check::ok(NAME, "madvise: huge pages only where a program asks for them, so arena heaps fault in 4 KiB pages".into()),
        "never" => Check::ok(NAME, "never: arena heaps fault in 4 KiB pages".into()),
        "always" => Check::warn(
            NAME,
            "always: a touched 64 MiB-aligned arena heap can fault in 2 MiB huge pages, so arena heap RSS and deltas come out larger and coarser than under madvise; results compare only with hosts in the same mode".into(),
            "as root: echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or compare only with THP=always hosts; plan.json records the mode)",
        ),
        "" => Check::warn(
            NAME,
            "the mode is unknown: /sys/kernel/mm/transparent_hugepage/enabled is unreadable".into(),
            "check that /sys is mounted; a kernel without THP behaves like `never`",
        ),
        other => Check::warn(
            NAME,
            format!("unexpected mode `{other}`"),
            "compare results only with hosts in the same mode (plan.json records it)",
        ),
    }
}

/// glibc's default arena cap here, and whether a CPU quota or affinity makes it
/// bigger than the CPUs the process really gets.
pub fn check_arena_cap(online_cpus: usize, affinity: usize, cpu_quota: Option<f64>) -> Check {
    const NAME: &str = "default arena cap";
    let cap = 8 * online_cpus.max(1);
    let reason = format!(
        "{cap} arenas = 8 x {online_cpus} online CPUs (glibc's default on 64-bit; a busy process shows up to {} arena heaps + [heap])",
        cap - 1
    );
    let usable = cpu_quota
        .map(|q| q.ceil() as usize)
        .unwrap_or(usize::MAX)
        .min(if affinity == 0 { usize::MAX } else { affinity });
    if usable < online_cpus {
        return Check::warn(
            NAME,
            format!("{reason}, but this process may use only {usable} CPU(s) (affinity or cgroup cpu.max): the cap follows online CPUs, not the CPUs granted"),
            format!("for a service limited like this, measure the cap that fits it: --tunable glibc.malloc.arena_max={} (8 x {usable}) or lower", 8 * usable),
        );
    }
    Check::ok(NAME, reason)
}

/// The thread limits, against the talk's cell (8 Python x 50 Rust threads).
pub fn check_limits(limits: &[Limit]) -> Check {
    const NAME: &str = "thread limits";
    let needed = limits::threads_needed(8, 50);
    let text: Vec<String> = limits
        .iter()
        .map(|l| format!("{} {} ({} in use)", l.name, l.max, l.used))
        .collect();
    let tight = limits
        .iter()
        .map(|l| (l, l.max.saturating_sub(l.used)))
        .min_by_key(|(_, free)| *free);
    match tight {
        None => Check::warn(
            NAME,
            "no thread limit could be read".into(),
            "check /proc/sys/kernel/threads-max and `ulimit -u`",
        ),
        Some((l, free)) if free < needed => Check::warn(
            NAME,
            format!(
                "{} allows {free} more threads; the talk's cell (8 Python x 50 Rust threads) needs up to {needed} at once",
                l.name
            ),
            "raise the limit, or sweep smaller grids (runs that cannot fit are refused before they start)",
        ),
        Some(_) => Check::ok(
            NAME,
            format!(
                "{}; the talk's cell (8 x 50) needs up to {needed}",
                text.join(", ")
            ),
        ),
    }
}

/// The GIL + free-threaded pair, as `pythons list` resolves it.
pub fn check_pair(resolved: &Result<Option<Pair>>, candidates: &[Candidate]) -> Check {
    const NAME: &str = "interpreters";
    let install = "arena-sweep pythons install 3.13 (builds a matched pair into the cache), or pass --python-gil and --python-nogil";
    match resolved {
        Ok(Some(p)) if p.matched => Check::ok(
            NAME,
            format!(
                "gil {} ({}), nogil {} ({}): matched (same version and configure flags apart from --disable-gil)",
                p.gil.label(),
                p.gil.executable.display(),
                p.nogil.label(),
                p.nogil.executable.display()
            ),
        ),
        Ok(Some(p)) => Check::warn(
            NAME,
            format!(
                "gil {} ({}), nogil {} ({}): NOT matched, so the builds differ in more than the GIL",
                p.gil.label(),
                p.gil.executable.display(),
                p.nogil.label(),
                p.nogil.executable.display()
            ),
            install,
        ),
        Ok(None) => {
            let found = |b: Build| {
                candidates
                    .iter()
                    .filter_map(|c| c.found.as_ref().ok())
                    .filter(|i| i.build() == b)
                    .map(|i| format!("{} ({})", i.label(), i.executable.display()))
                    .collect::<Vec<_>>()
            };
            let (gil, nogil) = (found(Build::Gil), found(Build::Nogil));
            let seen = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            Check::fail(
                NAME,
                format!(
                    "no GIL + free-threaded pair of one version: GIL builds found: {}; free-threaded builds found: {}",
                    seen(&gil),
                    seen(&nogil)
                ),
                install,
            )
        }
        Err(e) => Check::fail(NAME, format!("{e:#}"), install),
    }
}

/// CPUs granted by this process's cgroup `cpu.max` ("max 100000" is no quota).
fn cpu_quota() -> Option<f64> {
    let text = crate::provenance::own_cgroup_file("cpu.max")?;
    let mut p = text.split_whitespace();
    let quota: f64 = p.next()?.parse().ok()?;
    let period: f64 = p.next()?.parse().ok()?;
    (period > 0.0).then_some(quota / period)
}

fn write_provenance(h: &Host, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Host (as plan.json records it):")?;
    let row = |out: &mut dyn Write, k: &str, v: &str| writeln!(out, "  {k:<20} {v}");
    row(out, "glibc", &h.glibc_version)?;
    row(
        out,
        "dynamic loader",
        &h.ld_so
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none)".into()),
    )?;
    row(out, "kernel", &h.kernel)?;
    row(out, "online CPUs", &h.online_cpus.to_string())?;
    row(out, "affinity", &format!("{:?}", h.affinity))?;
    row(
        out,
        "THP",
        &format!("enabled {}, defrag {}", h.thp_enabled, h.thp_defrag),
    )?;
    row(
        out,
        "cgroup memory.max",
        h.cgroup_memory_max.as_deref().unwrap_or("(no cgroup v2)"),
    )?;
    row(out, "CPU model", &h.cpu_model)?;
    row(out, "hostname", &h.hostname)?;
    let malloc: Vec<&str> = h
        .ld_so_list_tunables
        .lines()
        .filter(|l| l.starts_with(MALLOC_PREFIX))
        .collect();
    if malloc.is_empty() {
        row(out, "malloc tunables", "(the loader lists none)")?;
    } else {
        writeln!(out, "  malloc tunables      (ld.so --list-tunables)")?;
        for l in malloc {
            writeln!(out, "    {l}")?;
        }
    }
    Ok(())
}

/// `arena-sweep doctor`.
pub fn command(args: &DoctorArgs, out: &mut dyn Write) -> Result<i32> {
    let host = Host::collect();
    write_provenance(&host, out)?;
    writeln!(out, "\nChecks:")?;
    let mut checks = vec![
        check_tunables(&host),
        check_thp(&host.thp_enabled),
        check_arena_cap(host.online_cpus, host.affinity.len(), cpu_quota()),
        check_limits(&limits::current_limits()),
    ];
    let explicit = Explicit::new(
        args.pythons.python_gil.clone(),
        args.pythons.python_nogil.clone(),
    );
    let candidates = discover::search();
    let resolved = discover::resolve(&explicit, &candidates);
    checks.push(check_pair(&resolved, &candidates));
    for c in &checks {
        c.write(out)?;
    }
    out.flush()?;
    if let Ok(Some(pair)) = &resolved {
        for build in Build::BOTH {
            for variant in [Variant::Glibc, Variant::Jemalloc] {
                let c = check_extension(pair.get(build), variant, out);
                c.write(out)?;
                out.flush()?;
                checks.push(c);
            }
        }
    } else {
        let c = Check::fail(
            "extension",
            "not built: no interpreter pair to build it for".into(),
            "fix the interpreters check first",
        );
        c.write(out)?;
        checks.push(c);
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    writeln!(
        out,
        "\n{} OK, {} WARN, {} FAIL",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail)
    )?;
    Ok(if count(Status::Fail) > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests;
