//! What an inspected process's memory says about glibc arenas, and which tunables to
//! try: a pure function from [`Facts`] (the smaps regions, threads, libc, allocator,
//! the host's CPUs and, when they could be read, the arenas themselves) and the host's
//! tunables [`Catalog`] to a [`Verdict`].
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
//! When the arenas were read from the process's memory (`crate::arena`), the verdict
//! follows their figures (`arenas.rs`): memory that is free inside the arenas and that
//! `malloc_trim(0)` would return points to trimming (`malloc_trim`, `trim_threshold`,
//! `mmap_threshold`); live memory spread over many arenas points to `arena_max`;
//! memory in mimalloc regions points to neither.
//!
//! When they could not be read (permission, another glibc, ...), the verdict falls
//! back on smaps alone. Then the arena count is bounded, not known: every non-main
//! arena has at least one 64 MiB heap, and a busy one may span several, so a process
//! with N arena heaps uses at most N + 1 arenas (the main one lives in `[heap]`).
//! Whether their memory is free is then a guess: the verdict calls it likely when
//! there are more arena heaps than threads besides the main one, the shape left by
//! threads that allocated and exited.
//!
//! Suggestions are [`Profile`]s named after the profiles shipped in `tunables/`, built
//! from [`Tunable`](crate::tunables::Tunable)s the catalog validated, and printed only
//! through their renderer, so the user can measure them with
//! `arena-sweep --tunables glibc-default,arena-max-2,...` before deploying one.

use crate::sampler::Regions;
use crate::tunables::{Allocator, Catalog, Profile};

use super::target::{ArenaMaxSetting, LibcKind, Replacement};

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

/// What the verdict is computed from.
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
pub struct Verdict {
    pub level: Level,
    pub headline: String,
    /// What the figures show, one sentence each.
    pub findings: Vec<String>,
    pub suggestions: Vec<Suggestion>,
    /// Advice that is not a tunable (malloc_trim, measuring first, ...).
    pub advice: Vec<String>,
    /// Caveats about the suggestions (validated against which glibc, ...).
    pub notes: Vec<String>,
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
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

fn not_applicable(headline: String, findings: Vec<String>) -> Verdict {
    Verdict {
        level: Level::NotApplicable,
        headline,
        findings,
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

pub fn verdict(f: &Facts, catalog: &Catalog) -> Verdict {
    let r = &f.regions;
    if f.pointer_bits == Some(32) {
        return not_applicable(
            "32-bit process: glibc's arena heaps are 1 MiB there, and arena-sweep recognises only the 64-bit layout (64 MiB heaps)".into(),
            vec![format!("RSS {} in total; [heap] {}", mib(r.total_rss_kib), mib(r.main_heap_rss_kib))],
        );
    }
    match f.libc {
        LibcKind::Musl => {
            return not_applicable(
                "musl libc: its malloc has no per-thread arenas, so the growth arena-sweep explains does not happen here, and GLIBC_TUNABLES means nothing to it".into(),
                Vec::new(),
            )
        }
        LibcKind::StaticOther => {
            return not_applicable(
                "statically linked without glibc (e.g. Go, or a static musl or Rust-musl build): the program brings its own allocator, so glibc's arenas and tunables do not apply".into(),
                Vec::new(),
            )
        }
        LibcKind::Glibc => {}
    }
    let mut notes = Vec::new();
    if let Some(rep) = &f.replacement {
        let name = rep.name;
        let lib = rep.lib.display();
        if rep.preloaded {
            return not_applicable(
                format!("{name} is preloaded ({lib}): it serves malloc for the whole process, so glibc's arenas and GLIBC_TUNABLES do not apply; tune {name} instead ({})", tuning_hint(name)),
                aligned_note(r),
            );
        }
        if r.arena_heaps == 0 {
            return not_applicable(
                format!("{name} is mapped ({lib}, not through LD_PRELOAD) and no glibc arena heap exists: {name} most likely serves malloc (linked to the program), so glibc's arenas and GLIBC_TUNABLES do not apply; tune {name} instead ({})", tuning_hint(name)),
                Vec::new(),
            );
        }
        notes.push(format!(
            "{name} is mapped ({lib}) but not preloaded, and glibc arena heaps exist: glibc's malloc serves at least part of the process (a library that links {name} and is loaded with dlopen does not replace malloc)"
        ));
    }
    if f.libc_static {
        notes.push("glibc is linked statically into the program: the analysis applies as usual, and static programs read GLIBC_TUNABLES at start too".into());
    }

    if let Some(snap) = &f.arenas {
        return super::arenas::verdict(f, catalog, snap, notes);
    }
    let (cap, cap_text) = arena_cap(f);
    let heaps = u64::from(r.arena_heaps);
    let heap_kib = r.arena_heap_rss_kib;
    let (level, share) = heap_level(r);
    let pct = format!("{:.0}%", share * 100.0);
    let at_cap = heaps > 0 && heaps + 1 >= cap;
    let other_threads = f.threads.saturating_sub(1);
    let retained = heaps > other_threads && heap_kib >= RETAINED_MIN_KIB;

    let mut findings = Vec::new();
    let headline = match level {
        _ if heaps == 0 => format!(
            "only the main arena ([heap], {}) is in use: no arena growth",
            mib(r.main_heap_rss_kib)
        ),
        Level::Fine => format!(
            "{heaps} arena heap(s), but they hold only {}: nothing to tune for now",
            mib(heap_kib)
        ),
        Level::Notice => format!(
            "some arena growth: {heaps} arena heap(s) hold {} ({pct} of RSS)",
            mib(heap_kib)
        ),
        _ => format!(
            "arena growth: {heaps} arena heap(s) hold {} ({pct} of RSS)",
            mib(heap_kib)
        ),
    };
    if heaps > 0 {
        findings.push(format!(
            "{heaps} arena heap(s) mean at most {} arenas, the main one included (a busy arena can span several heaps); the cap is {cap}: {cap_text}",
            heaps + 1
        ));
        if at_cap && f.arena_max.is_none() {
            findings.push(
                "the process has reached the cap: new threads now share arenas. The default cap grows with CPUs (512 on a 64-CPU host), so on a bigger host the same program can keep up to one arena per thread allocating at once"
                    .into(),
            );
        } else if at_cap {
            findings.push("the process has reached the cap: new threads now share arenas".into());
        } else {
            findings.push(
                "below the cap: the arena count follows how many threads allocated at the same time"
                    .into(),
            );
        }
        if retained {
            findings.push(format!(
                "more arena heaps ({heaps}) than threads besides the main one ({other_threads}): arenas outlived the threads that filled them (or one grew past 64 MiB); their free memory stays resident until trimmed, so malloc_trim(0) likely returns part of the {}",
                mib(heap_kib)
            ));
        }
    }
    if r.python_alloc_rss_kib > 0 {
        findings.push(format!(
            "{} sits in mimalloc regions (CPython's free-threaded object allocator); arena tunables do not change it",
            mib(r.python_alloc_rss_kib)
        ));
    }

    let mut suggestions = Vec::new();
    let mut advice = Vec::new();
    if level >= Level::Notice {
        let mut add = |name: &str, entries: &[(&str, u64)], why: String| {
            suggest(catalog, name, entries, why, &mut suggestions, &mut notes)
        };
        const ARENA_MAX: &str = "glibc.malloc.arena_max";
        const TRIM: &str = "glibc.malloc.trim_threshold";
        const MMAP: &str = "glibc.malloc.mmap_threshold";
        if cap > 2 {
            add(
                "arena-max-2",
                &[(ARENA_MAX, 2)],
                format!("caps arenas at 2 instead of {cap}: the usual fix, for the growth itself"),
            );
        }
        if retained || level == Level::Significant {
            add(
                "server",
                &[(ARENA_MAX, 2), (TRIM, 128 * 1024), (MMAP, 128 * 1024)],
                "also hands free heap tops back beyond 128 KiB and keeps blocks >= 128 KiB out of the heaps (fixed thresholds; costs an mmap/munmap per large block)".into(),
            );
        }
        if cap > 4 {
            add(
                "arena-max-4",
                &[(ARENA_MAX, 4)],
                "a middle ground if 2 arenas cost throughput (lock contention)".into(),
            );
        }
        if retained {
            advice.push("from inside the process, malloc_trim(0) after bursts returns free memory of every arena (Python: ctypes.CDLL(None).malloc_trim(0))".into());
        }
        advice.push(
            "a preloaded jemalloc (profile preload-jemalloc) avoids glibc arenas altogether".into(),
        );
        measure_advice(&suggestions, &mut advice);
    }
    version_notes(f, &suggestions, &mut notes);
    Verdict {
        level,
        headline,
        findings,
        suggestions,
        advice,
        notes,
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

/// "Measure before deploying", naming the suggested profiles.
pub(super) fn measure_advice(suggestions: &[Suggestion], advice: &mut Vec<String>) {
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
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn catalog() -> Catalog {
        Catalog::from_text(include_str!(
            "../../tests/fixtures/ld-so-list-tunables-glibc2.36.txt"
        ))
    }

    /// The regions of the free-threaded fixture (`tests/fixtures/proc/smaps-nogil-done.txt`,
    /// 15 arena heaps on a 2-CPU host), classified by the real classifier.
    fn nogil_regions() -> Regions {
        let path = format!(
            "{}/tests/fixtures/proc/smaps-nogil-done.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let file = std::fs::File::open(path).unwrap();
        crate::sampler::smaps::classify(
            &crate::sampler::smaps::parse(std::io::BufReader::new(file)).unwrap(),
        )
    }

    /// [`nogil_regions`] with 40 MiB resident in the arena heaps.
    fn busy_regions() -> Regions {
        let r = nogil_regions();
        Regions {
            arena_heap_rss_kib: 40 * 1024,
            total_rss_kib: r.total_rss_kib + 40 * 1024,
            ..r
        }
    }

    fn facts(regions: Regions, threads: u64) -> Facts {
        Facts {
            regions,
            threads,
            libc: LibcKind::Glibc,
            libc_static: false,
            glibc_version: Some("2.36".into()),
            replacement: None,
            pointer_bits: Some(64),
            arena_max: None,
            online_cpus: 2,
            host_glibc_version: "2.36".into(),
            arenas: None,
        }
    }

    fn rendered(v: &Verdict) -> Vec<(String, String)> {
        v.suggestions
            .iter()
            .map(|s| (s.profile.name.clone(), s.profile.glibc_tunables()))
            .collect()
    }

    #[test]
    fn arenas_at_the_cap_that_hold_little_need_no_tuning() {
        // The talk's pattern touches nothing: 15 heaps (the cap: 15 + main = 8 x 2 CPUs)
        // holding 0.1 MiB.
        let r = nogil_regions();
        assert_eq!(r.arena_heaps, 15);
        let v = verdict(&facts(r, 1), &catalog());
        assert_eq!(v.level, Level::Fine, "{v:#?}");
        assert!(v.headline.contains("nothing to tune for"), "{v:#?}");
        assert!(
            v.findings.iter().any(|f| f.contains("reached the cap")),
            "{v:#?}"
        );
        assert!(v.findings.iter().any(|f| f.contains("mimalloc")), "{v:#?}");
        assert!(v.suggestions.is_empty());
    }

    #[test]
    fn a_free_threaded_process_at_the_cap_gets_arena_max_suggestions() {
        // The same process shape, with 40 MiB resident in its arena heaps.
        let v = verdict(&facts(busy_regions(), 1), &catalog());
        assert_eq!(v.level, Level::Significant, "{v:#?}");
        assert!(
            v.findings.iter().any(|f| f.contains("reached the cap")),
            "{v:#?}"
        );
        assert!(
            v.findings
                .iter()
                .any(|f| f.contains("malloc_trim(0) likely")),
            "{v:#?}"
        );
        assert_eq!(
            rendered(&v),
            vec![
                ("arena-max-2".to_string(), "glibc.malloc.arena_max=2".to_string()),
                (
                    "server".to_string(),
                    "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072".to_string()
                ),
                ("arena-max-4".to_string(), "glibc.malloc.arena_max=4".to_string()),
            ]
        );
        assert!(v.advice.iter().any(|a| a.contains("malloc_trim(0)")));
        assert!(v
            .notes
            .iter()
            .any(|n| n.contains("the one the process runs")));
    }

    #[test]
    fn suggestions_render_like_the_shipped_profiles() {
        let c = catalog();
        let dirs = crate::tunables::default_dirs("tunables");
        let v = verdict(&facts(busy_regions(), 1), &c);
        assert_eq!(v.suggestions.len(), 3);
        for s in &v.suggestions {
            let shipped = crate::tunables::find_profile(&s.profile.name, &dirs, &c).unwrap();
            assert_eq!(
                shipped.glibc_tunables(),
                s.profile.glibc_tunables(),
                "{}",
                s.profile.name
            );
        }
    }

    #[test]
    fn levels_follow_arena_heap_rss() {
        let c = catalog();
        let base = Regions {
            arena_heaps: 3,
            total_rss_kib: 400 * 1024,
            main_heap_rss_kib: 2048,
            ..Default::default()
        };
        let level = |heap_kib: u64, total_kib: u64, threads: u64| {
            let r = Regions {
                arena_heap_rss_kib: heap_kib,
                total_rss_kib: total_kib,
                ..base
            };
            verdict(&facts(r, threads), &c).level
        };
        assert_eq!(level(64 * 1024, 400 * 1024, 8), Level::Significant);
        // 25% of RSS with at least 8 MiB.
        assert_eq!(level(10 * 1024, 40 * 1024, 8), Level::Significant);
        assert_eq!(level(6 * 1024, 20 * 1024, 8), Level::Notice);
        assert_eq!(level(2 * 1024, 400 * 1024, 8), Level::Notice);
        assert_eq!(level(512, 400 * 1024, 8), Level::Fine);
        let none = Regions {
            arena_heaps: 0,
            ..base
        };
        let v = verdict(&facts(none, 8), &c);
        assert_eq!(v.level, Level::Fine);
        assert!(v.headline.starts_with("only the main arena"));
        assert!(v.suggestions.is_empty());
    }

    #[test]
    fn retained_memory_needs_more_heaps_than_threads() {
        let r = Regions {
            arena_heaps: 4,
            arena_heap_rss_kib: 6 * 1024,
            total_rss_kib: 100 * 1024,
            ..Default::default()
        };
        let c = catalog();
        let few = verdict(&facts(r, 2), &c);
        assert!(few.findings.iter().any(|f| f.contains("malloc_trim")));
        assert!(few.advice.iter().any(|a| a.contains("malloc_trim(0)")));
        let many = verdict(&facts(r, 9), &c);
        assert!(!many.findings.iter().any(|f| f.contains("malloc_trim")));
        assert_eq!(rendered(&many)[0].1, "glibc.malloc.arena_max=2");
        // Notice without retained memory: no server profile.
        assert!(!rendered(&many).iter().any(|(n, _)| n == "server"));
    }

    #[test]
    fn an_arena_max_already_set_is_the_cap() {
        let r = Regions {
            arena_heaps: 1,
            arena_heap_rss_kib: 80 * 1024,
            total_rss_kib: 100 * 1024,
            ..Default::default()
        };
        let mut f = facts(r, 3);
        f.arena_max = Some(ArenaMaxSetting {
            value: 2,
            from: "GLIBC_TUNABLES",
        });
        let v = verdict(&f, &catalog());
        assert!(v.findings.iter().any(|x| x.contains("reached the cap")));
        assert!(v.findings[0].contains("arena_max=2 (GLIBC_TUNABLES at start)"));
        // arena_max=2 is not suggested again; 2 is not above 4 either.
        let names: Vec<String> = rendered(&v).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["server"]);
    }

    #[test]
    fn other_mallocs_are_not_applicable() {
        let c = catalog();
        let r = busy_regions();
        let mut musl = facts(r, 1);
        musl.libc = LibcKind::Musl;
        assert_eq!(verdict(&musl, &c).level, Level::NotApplicable);
        assert!(verdict(&musl, &c).headline.starts_with("musl"));

        let mut stat = facts(Regions::default(), 1);
        stat.libc = LibcKind::StaticOther;
        stat.libc_static = true;
        assert!(verdict(&stat, &c).headline.contains("without glibc"));

        let mut je = facts(Regions::default(), 1);
        je.replacement = Some(Replacement {
            name: "jemalloc",
            lib: PathBuf::from("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
            preloaded: true,
        });
        let v = verdict(&je, &c);
        assert_eq!(v.level, Level::NotApplicable);
        assert!(v.headline.contains("jemalloc is preloaded") && v.headline.contains("MALLOC_CONF"));
        assert!(v.suggestions.is_empty());

        // Mapped but not preloaded, with arena heaps: glibc still serves malloc.
        let mut linked = facts(r, 1);
        linked.replacement = je.replacement.clone().map(|mut rep| {
            rep.preloaded = false;
            rep
        });
        let v = verdict(&linked, &c);
        assert!(v.level >= Level::Notice);
        assert!(v.notes.iter().any(|n| n.contains("not preloaded")));

        let mut bits32 = facts(r, 1);
        bits32.pointer_bits = Some(32);
        assert!(verdict(&bits32, &c).headline.starts_with("32-bit"));
    }

    #[test]
    fn static_glibc_is_analysed_and_version_differences_are_noted() {
        let mut f = facts(busy_regions(), 1);
        f.libc_static = true;
        f.glibc_version = Some("2.31".into());
        let v = verdict(&f, &catalog());
        assert!(v.level >= Level::Notice);
        assert!(v.notes.iter().any(|n| n.contains("statically")));
        assert!(v
            .notes
            .iter()
            .any(|n| n.contains("the process runs glibc 2.31")));
        f.glibc_version = Some("2.17".into());
        let v = verdict(&f, &catalog());
        assert!(v
            .notes
            .iter()
            .any(|n| n.contains("predates GLIBC_TUNABLES")));
        assert!(!reads_glibc_tunables(Some("2.17")));
        assert!(reads_glibc_tunables(Some("2.26")));
        assert!(reads_glibc_tunables(None));
    }
}
