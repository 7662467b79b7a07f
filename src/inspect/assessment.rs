//! What an inspected process's memory says about glibc arenas, and which tunables to
//! try: a pure function from [`Facts`] (the smaps regions, threads, libc, allocator,
//! the host's CPUs and, when they could be read, the arenas themselves) and the host's
//! tunables [`Catalog`] to a [`Assessment`].
//!
//! Levels, from the arena heaps' resident memory (`heap_rss`) and its share of RSS:
//! - **significant**: `heap_rss` >= 64 MiB, or >= 25% of RSS and >= 8 MiB;
//! - **notice**: arena heaps holding >= 1 MiB in all (or, with the arenas read,
//!   >= 4 MiB that a `malloc_trim(0)` would return);
//! - **fine**: no arena heap, or heaps that hold less than 1 MiB;
//! - **not applicable**: malloc is not glibc's (musl, a preloaded or linked
//!   jemalloc/mimalloc/tcmalloc, a static program without glibc) or the process is
//!   32-bit, where glibc's heaps are 1 MiB and the 64 MiB fingerprint does not hold.
//!
//! When the arenas were read from the process's memory (`crate::arena`), the assessment
//! follows their figures (`arenas.rs`): memory that is free inside the arenas points
//! to the levers that return it, ordered by what each would return (`malloc_trim(0)`
//! for free pages below live blocks, a lower `trim_threshold` for thread arenas'
//! tops); live memory spread over many arenas points to `arena_max`; memory in
//! mimalloc regions points to neither. The levers and their words are the one table
//! in `crate::levers`, which a sweep's diagnosis uses too.
//!
//! When they could not be read (permission, another glibc, ...), the assessment falls
//! back on smaps alone. Then the arena count is bounded, not known: every non-main
//! arena has at least one 64 MiB heap, and a busy one may span several, so a process
//! with N arena heaps uses at most N + 1 arenas (the main one lives in `[heap]`).
//! Whether their memory is free is then a guess: the assessment calls it likely when
//! there are more arena heaps than threads besides the main one, the shape left by
//! threads that allocated and exited.
//!
//! Suggestions are [`Profile`]s named after the profiles shipped in `tunables/`, built
//! from [`Tunable`](crate::tunables::Tunable)s the catalog validated, and printed only
//! through their renderer, so the user can measure them with
//! `arena-sweep --tunables glibc-default,arena-max-2,...` before deploying one.

use crate::sampler::Regions;
use crate::tunables::{Allocator, Catalog, Profile};
use crate::units::mib;

use super::target::{ArenaMaxSetting, LibcKind, Replacement};

mod smaps;

const MIB_KIB: u64 = 1024;
/// Arena heap RSS at which arena growth is significant on its own.
pub const SIGNIFICANT_HEAP_KIB: u64 = 64 * MIB_KIB;
/// Share of RSS in arena heaps that is significant (with at least 8 MiB).
pub const SIGNIFICANT_SHARE: f64 = 0.25;
const SIGNIFICANT_SHARE_MIN_KIB: u64 = 8 * MIB_KIB;
/// Below this, arena heaps are not worth tuning for.
pub(super) const NOTICE_HEAP_KIB: u64 = MIB_KIB;
/// Arena heap RSS from which retained memory is worth a malloc_trim.
pub(super) const RETAINED_MIN_KIB: u64 = 4 * MIB_KIB;

/// The tunables the suggestions set.
pub(super) const ARENA_MAX: &str = "glibc.malloc.arena_max";
pub(super) const TRIM: &str = "glibc.malloc.trim_threshold";
pub(super) const MMAP: &str = "glibc.malloc.mmap_threshold";
/// Why `arena-max-4` is suggested next to `arena-max-2`.
pub(super) const MIDDLE_GROUND: &str =
    "a middle ground if 2 arenas cost throughput (lock contention)";

/// What the assessment is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub regions: Regions,
    pub threads: u64,
    pub libc: LibcKind,
    /// glibc linked into the program (no libc.so mapped).
    pub libc_static: bool,
    /// The target's glibc version, when read.
    pub glibc_version: Option<String>,
    pub replacement: Option<Replacement>,
    pub pointer_bits: Option<u8>,
    /// arena_max set in the target's environment at start.
    pub arena_max: Option<ArenaMaxSetting>,
    /// Online CPUs of this host (the target's default cap is 8 x this on 64-bit).
    pub online_cpus: usize,
    /// The glibc version of the host's loader, which the catalog describes.
    pub host_glibc_version: String,
    /// The arenas, read from the process's memory (None when they could not be read).
    pub arenas: Option<crate::arena::ArenaSnapshot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Level {
    #[strum(serialize = "not applicable")]
    NotApplicable,
    Fine,
    Notice,
    Significant,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A tunables profile to try, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub profile: Profile,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub level: Level,
    pub headline: String,
    /// What the figures show, one sentence each.
    pub findings: Vec<String>,
    /// What acts on the memory read, most returned first (`crate::levers`).
    pub levers: Vec<crate::levers::Action>,
    /// The tunables among the levers, as profiles to measure, in the levers' order.
    pub suggestions: Vec<Suggestion>,
    /// Advice that is not a tunable (malloc_trim, measuring first, ...).
    pub advice: Vec<String>,
    /// Caveats about the suggestions (validated against which glibc, ...).
    pub notes: Vec<String>,
}

/// glibc's default arena cap for `cpus` online CPUs on 64-bit (`NARENAS_FROM_NCORES`).
pub fn default_cap(cpus: usize) -> u64 {
    8 * cpus.max(1) as u64
}

fn tuning_hint(allocator: &str) -> &'static str {
    match allocator {
        "jemalloc" => "MALLOC_CONF, e.g. narenas:2,dirty_decay_ms:1000",
        "mimalloc" => "its MIMALLOC_* environment options",
        "tcmalloc" => "its TCMALLOC_* environment variables, e.g. TCMALLOC_RELEASE_RATE",
        _ => "its own options",
    }
}

fn not_applicable(headline: String, findings: Vec<String>) -> Assessment {
    Assessment {
        level: Level::NotApplicable,
        headline,
        findings,
        levers: Vec::new(),
        suggestions: Vec::new(),
        advice: Vec::new(),
        notes: Vec::new(),
    }
}

/// Compare two dotted versions ("2.36" vs "2.26").
fn version_at_least(v: &str, min: (u32, u32)) -> bool {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= min
}

/// Whether glibc's arenas are what to look at in a process.
enum Applicability {
    /// They are; the notes qualify the analysis (a replacement malloc mapped but not
    /// serving it, glibc linked statically).
    Glibc(Vec<String>),
    /// They are not (32-bit, musl, a static program without glibc, a preloaded or
    /// linked replacement malloc): the assessment says why.
    NotApplicable(Assessment),
}

/// Whether glibc's arenas apply to the process `f` describes.
fn applicability(f: &Facts) -> Applicability {
    let r = &f.regions;
    if f.pointer_bits == Some(32) {
        return Applicability::NotApplicable(not_applicable(
            "32-bit process: glibc's arena heaps are 1 MiB there, and arena-sweep recognises only the 64-bit layout (64 MiB heaps)".into(),
            vec![format!("RSS {} in total; [heap] {}", mib(r.total_rss_kib), mib(r.main_heap_rss_kib))],
        ));
    }
    match f.libc {
        LibcKind::Musl => {
            return Applicability::NotApplicable(not_applicable(
                "musl libc: its malloc has no per-thread arenas, so the growth arena-sweep explains does not happen here, and GLIBC_TUNABLES means nothing to it".into(),
                Vec::new(),
            ))
        }
        LibcKind::StaticOther => {
            return Applicability::NotApplicable(not_applicable(
                "statically linked without glibc (e.g. Go, or a static musl or Rust-musl build): the program brings its own allocator, so glibc's arenas and tunables do not apply".into(),
                Vec::new(),
            ))
        }
        LibcKind::Glibc => {}
    }
    let mut notes = Vec::new();
    if let Some(rep) = &f.replacement {
        let name = rep.name;
        let lib = rep.lib.display();
        if rep.preloaded {
            return Applicability::NotApplicable(not_applicable(
                format!("{name} is preloaded ({lib}): it serves malloc for the whole process, so glibc's arenas and GLIBC_TUNABLES do not apply; tune {name} instead ({})", tuning_hint(name)),
                aligned_note(r),
            ));
        }
        if r.arena_heaps == 0 {
            return Applicability::NotApplicable(not_applicable(
                format!("{name} is mapped ({lib}, not through LD_PRELOAD) and no glibc arena heap exists: {name} most likely serves malloc (linked to the program), so glibc's arenas and GLIBC_TUNABLES do not apply; tune {name} instead ({})", tuning_hint(name)),
                Vec::new(),
            ));
        }
        notes.push(format!(
            "{name} is mapped ({lib}) but not preloaded, and glibc arena heaps exist: glibc's malloc serves at least part of the process (a library that links {name} and is loaded with dlopen does not replace malloc)"
        ));
    }
    if f.libc_static {
        notes.push("glibc is linked statically into the program: the analysis applies as usual, and static programs read GLIBC_TUNABLES at start too".into());
    }
    Applicability::Glibc(notes)
}

/// The assessment on `f`: not applicable when malloc is not glibc's, else read from the
/// arenas when they were read, else from smaps alone.
pub fn assess(f: &Facts, catalog: &Catalog) -> Assessment {
    let notes = match applicability(f) {
        Applicability::Glibc(notes) => notes,
        Applicability::NotApplicable(v) => return v,
    };
    match &f.arenas {
        Some(snap) => super::arenas::assess(f, catalog, snap, notes),
        None => smaps::assess(f, catalog, notes),
    }
}

/// The level the arena heaps' resident memory calls for, and their share of RSS.
pub(super) fn heap_level(r: &Regions) -> (Level, f64) {
    let heap_kib = r.arena_heap_rss_kib;
    let share = if r.total_rss_kib == 0 {
        0.0
    } else {
        heap_kib as f64 / r.total_rss_kib as f64
    };
    let level = if r.arena_heaps == 0 {
        Level::Fine
    } else if heap_kib >= SIGNIFICANT_HEAP_KIB
        || (share >= SIGNIFICANT_SHARE && heap_kib >= SIGNIFICANT_SHARE_MIN_KIB)
    {
        Level::Significant
    } else if heap_kib >= NOTICE_HEAP_KIB {
        Level::Notice
    } else {
        Level::Fine
    };
    (level, share)
}

/// The arena cap in force and where it comes from.
pub(super) fn arena_cap(f: &Facts) -> (u64, String) {
    match &f.arena_max {
        Some(s) => (
            s.value,
            format!("arena_max={} ({} at start)", s.value, s.from),
        ),
        None => (
            default_cap(f.online_cpus),
            format!(
                "glibc's default cap on this host, 8 x {} online CPUs",
                f.online_cpus
            ),
        ),
    }
}

/// Add the profile `name` made of `entries`, validated by the catalog (or a note why not).
pub(super) fn suggest(
    catalog: &Catalog,
    name: &str,
    entries: &[(&str, u64)],
    why: String,
    suggestions: &mut Vec<Suggestion>,
    notes: &mut Vec<String>,
) {
    let built: Result<Vec<_>, String> = entries
        .iter()
        .map(|(n, v)| catalog.tunable(n, *v))
        .collect();
    match built {
        Ok(tunables) => suggestions.push(Suggestion {
            profile: Profile {
                name: name.to_string(),
                description: why.clone(),
                tunables,
                allocator: Allocator::Glibc,
                env: Vec::new(),
            },
            why,
        }),
        Err(e) => notes.push(format!("{name} left out: {e}")),
    }
}

/// The advice that ends every list: a preloaded jemalloc as the way around glibc's
/// arenas, then "measure before deploying", naming the suggested profiles.
pub(super) fn closing_advice(suggestions: &[Suggestion], advice: &mut Vec<String>) {
    advice.push(
        "a preloaded jemalloc (profile preload-jemalloc) avoids glibc arenas altogether".into(),
    );
    if suggestions.is_empty() {
        return;
    }
    let names: Vec<&str> = suggestions
        .iter()
        .map(|s| s.profile.name.as_str())
        .collect();
    advice.push(format!(
        "measure before deploying: `arena-sweep --tunables glibc-default,{}` compares them on the PoC; on this program, start it with one GLIBC_TUNABLES line at a time and inspect it again",
        names.join(",")
    ));
}

/// Which glibc the suggestions were validated against.
pub(super) fn version_notes(f: &Facts, suggestions: &[Suggestion], notes: &mut Vec<String>) {
    if suggestions.is_empty() {
        return;
    }
    notes.push(match f.glibc_version.as_deref() {
        Some(v) if !version_at_least(v, (2, 26)) => format!(
            "glibc {v} predates GLIBC_TUNABLES (2.26): use the environment aliases shown instead"
        ),
        Some(v) if v != f.host_glibc_version => format!(
            "validated against this host's glibc {} (ld.so --list-tunables); the process runs glibc {v}",
            f.host_glibc_version
        ),
        Some(_) => format!(
            "validated against this host's glibc {} (ld.so --list-tunables), the one the process runs",
            f.host_glibc_version
        ),
        None => format!(
            "validated against this host's glibc {}; the process's glibc version could not be read",
            f.host_glibc_version
        ),
    });
}

/// For a process whose malloc is not glibc's: 64 MiB-aligned mappings are not arena heaps.
fn aligned_note(r: &Regions) -> Vec<String> {
    if r.arena_heaps == 0 {
        return Vec::new();
    }
    vec![format!(
        "{} mapping(s) have the shape of glibc arena heaps ({}), but with another malloc they belong to it or to a library's own allocator",
        r.arena_heaps,
        mib(r.arena_heap_rss_kib)
    )]
}

/// Does the process's glibc read GLIBC_TUNABLES (2.26 and newer)?
pub fn reads_glibc_tunables(version: Option<&str>) -> bool {
    version.is_none_or(|v| version_at_least(v, (2, 26)))
}

#[cfg(test)]
mod tests;
