//! The assessment when the arenas could not be read, from smaps alone: the arena count
//! is bounded by the arena heaps (at most one more arena than heaps), and memory left
//! free is guessed from more heaps than threads besides the main one.

use crate::levers::{self, Action, Figures, Mechanism};
use crate::sampler::Regions;
use crate::tunables::Catalog;

use super::{
    arena_cap, closing_advice, heap_level, mib, suggest, version_notes, Assessment, Facts, Level,
    Suggestion, ARENA_MAX, MIDDLE_GROUND, MMAP, RETAINED_MIN_KIB, TRIM,
};

/// What the smaps figures alone add up to, when the arenas could not be read.
struct Shape {
    /// The arena cap in force, and where it comes from.
    cap: u64,
    cap_text: String,
    /// Arena heaps, and their resident memory.
    heaps: u64,
    heap_kib: u64,
    level: Level,
    /// The heaps' share of RSS, as a percentage.
    pct: String,
    at_cap: bool,
    other_threads: u64,
    /// More heaps than threads besides the main one: memory likely left free.
    retained: bool,
}

/// The figures the assessment is read from: heaps, their level, the cap and the threads.
fn shape(f: &Facts) -> Shape {
    let r = &f.regions;
    let (cap, cap_text) = arena_cap(f);
    let heaps = u64::from(r.arena_heaps);
    let heap_kib = r.arena_heap_rss_kib;
    let (level, share) = heap_level(r);
    let other_threads = f.threads.saturating_sub(1);
    Shape {
        cap,
        cap_text,
        heaps,
        heap_kib,
        level,
        pct: format!("{:.0}%", share * 100.0),
        at_cap: heaps > 0 && heaps + 1 >= cap,
        other_threads,
        retained: heaps > other_threads && heap_kib >= RETAINED_MIN_KIB,
    }
}

/// The assessment from smaps alone.
pub(super) fn assess(f: &Facts, catalog: &Catalog, mut notes: Vec<String>) -> Assessment {
    let sh = shape(f);
    let (suggestions, advice) = if sh.level >= Level::Notice {
        suggest_profiles(catalog, &sh, &mut notes)
    } else {
        (Vec::new(), Vec::new())
    };
    version_notes(f, &suggestions, &mut notes);
    Assessment {
        level: sh.level,
        headline: headline(&f.regions, &sh),
        findings: findings(f, &sh),
        levers: if sh.level >= Level::Notice {
            levers(&sh)
        } else {
            Vec::new()
        },
        suggestions,
        advice,
        notes,
    }
}

/// One line on the arena heaps: none, too small to matter, or growth.
fn headline(r: &Regions, sh: &Shape) -> String {
    let (heaps, heap_kib, pct) = (sh.heaps, sh.heap_kib, &sh.pct);
    match sh.level {
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
    }
}

/// The arena count against the cap, memory likely retained, and mimalloc regions.
fn findings(f: &Facts, sh: &Shape) -> Vec<String> {
    let (heaps, cap) = (sh.heaps, sh.cap);
    let mut findings = Vec::new();
    if heaps > 0 {
        findings.push(format!(
            "{heaps} arena heap(s) mean at most {} arenas, the main one included (a busy arena can span several heaps); the cap is {cap}: {}",
            heaps + 1,
            sh.cap_text
        ));
        if sh.at_cap && f.arena_max.is_none() {
            findings.push(
                "the process has reached the cap: new threads now share arenas. The default cap grows with CPUs (512 on a 64-CPU host), so on a bigger host the same program can keep up to one arena per thread allocating at once"
                    .into(),
            );
        } else if sh.at_cap {
            findings.push("the process has reached the cap: new threads now share arenas".into());
        } else {
            findings.push(
                "below the cap: the arena count follows how many threads allocated at the same time"
                    .into(),
            );
        }
        if sh.retained {
            findings.push(format!(
                "more arena heaps ({heaps}) than threads besides the main one ({}): arenas outlived the threads that filled them (or one grew past 64 MiB); their free memory stays resident until trimmed, so malloc_trim(0) likely returns part of the {}",
                sh.other_threads,
                mib(sh.heap_kib)
            ));
        }
    }
    let r = &f.regions;
    if r.python_alloc_rss_kib > 0 {
        findings.push(format!(
            "{} sits in mimalloc regions (CPython's free-threaded object allocator); arena tunables do not change it",
            mib(r.python_alloc_rss_kib)
        ));
    }
    findings
}

/// The levers, with what each returns unknown (the arenas were not read): the arena
/// cap first, the usual fix for the growth itself, then, with memory likely left
/// free, the levers that return free memory.
fn levers(sh: &Shape) -> Vec<Action> {
    let held = |kib: u64| Figures {
        held_kib: kib as f64,
        ..Figures::default()
    };
    let mut out = Vec::new();
    if sh.cap > 2 {
        out.extend(levers::actions(Mechanism::MoreArenas, &held(sh.heap_kib)));
    }
    if sh.retained {
        out.extend(levers::actions(Mechanism::FreeRetained, &held(sh.heap_kib)));
    }
    out
}

/// Profiles to try and other advice, for arena heaps worth tuning: cap the arenas,
/// and with memory retained (or much of it) also trim sooner.
fn suggest_profiles(
    catalog: &Catalog,
    sh: &Shape,
    notes: &mut Vec<String>,
) -> (Vec<Suggestion>, Vec<String>) {
    let cap = sh.cap;
    let mut suggestions = Vec::new();
    let mut advice = Vec::new();
    let mut add = |name: &str, entries: &[(&str, u64)], why: String| {
        suggest(catalog, name, entries, why, &mut suggestions, notes)
    };
    if cap > 2 {
        add(
            "arena-max-2",
            &[(ARENA_MAX, 2)],
            format!("caps arenas at 2 instead of {cap}: the usual fix, for the growth itself"),
        );
    }
    if sh.retained || sh.level == Level::Significant {
        add(
            "server",
            &[(ARENA_MAX, 2), (TRIM, 128 * 1024), (MMAP, 128 * 1024)],
            "also hands free heap tops back beyond 128 KiB and keeps blocks >= 128 KiB out of the heaps (fixed thresholds; costs an mmap/munmap per large block)".into(),
        );
    }
    if cap > 4 {
        add("arena-max-4", &[(ARENA_MAX, 4)], MIDDLE_GROUND.into());
    }
    closing_advice(&suggestions, &mut advice);
    (suggestions, advice)
}
