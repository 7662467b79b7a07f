//! The comparison printed at the end of a run: per build, the RSS figures and arena
//! heaps (median and range over repetitions), then the amplification with its floor
//! and the risk level. A run over several bindings prints them side by side instead
//! (`terminal/bindings.rs`); a sweep prints one screen for the whole grid.

mod bindings;
mod rounds;
mod sweep;

pub use bindings::bindings_block;
pub use sweep::{diagnosis_block, sweep_summary};

use std::fmt::Write as _;

use crate::aggregate::{BuildStats, CellSummary, RegionMedians, Summary};
use crate::risk::Thresholds;
use crate::units::{count_range, mib, mib_value};

/// "12.10 MiB [12.00..12.20]" (no range for one run).
fn kib_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!(
            "{} [{}..{}]",
            mib(s.median),
            mib_value(s.min),
            mib_value(s.max)
        )
    } else {
        mib(s.median)
    }
}

/// "33 [32..34]": a count as a whole number, with its range over runs.
fn count_cell(s: &Summary) -> String {
    count_range(s.median, s.min, s.max, s.n)
}

fn secs_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{:.3} s [{:.3}..{:.3}]", s.median, s.min, s.max)
    } else {
        format!("{:.3} s", s.median)
    }
}

type Row = (&'static str, fn(&BuildStats) -> String);

const ROWS: &[Row] = &[
    ("baseline RSS", |b| kib_cell(&b.baseline_rss_kib)),
    ("peak RSS", |b| kib_cell(&b.peak_rss_kib)),
    ("final RSS", |b| kib_cell(&b.final_rss_kib)),
    ("delta (final - baseline)", |b| kib_cell(&b.delta_kib)),
    ("after malloc_trim(0)", |b| kib_cell(&b.after_trim_rss_kib)),
    ("reclaimable (final - trim)", |b| {
        kib_cell(&b.reclaimable_kib)
    }),
    ("arena heaps (smaps)", |b| count_cell(&b.arena_heaps)),
    ("arena heap RSS", |b| kib_cell(&b.heap_rss_kib)),
    ("arenas (read from outside)", |b| {
        b.arenas_read.as_ref().map_or("-".to_string(), count_cell)
    }),
    ("free inside arenas", |b| {
        b.arena_free_kib.as_ref().map_or("-".to_string(), kib_cell)
    }),
    ("trim would return (outside)", |b| {
        b.trimmable_kib.as_ref().map_or("-".to_string(), kib_cell)
    }),
    ("arenas (malloc_info)", |b| {
        b.arenas_reported
            .as_ref()
            .map_or("- (--verify)".to_string(), count_cell)
    }),
    ("peak threads", |b| count_cell(&b.peak_threads)),
    ("workload wall time", |b| secs_cell(&b.wall_s)),
];

fn mib_signed(kib: f64) -> String {
    format!("{} MiB", crate::units::signed_mib(kib))
}

type RegionRow = (&'static str, fn(&RegionMedians) -> f64);

const REGION_ROWS: &[RegionRow] = &[
    ("  arena heaps", |r| r.arena_heaps),
    ("  main [heap]", |r| r.main_heap),
    ("  thread stacks", |r| r.stacks),
    ("  mimalloc (Python objects)", |r| r.python_alloc),
    ("  file-backed", |r| r.file),
    ("  other anonymous", |r| r.anon_other),
];

/// The block for one point.
pub fn point_block(c: &CellSummary, thresholds: &Thresholds, reps: u32) -> String {
    let mut s = String::new();
    let p = &c.point;
    let _ = writeln!(
        s,
        "{} Python threads x {} Rust threads per call | pattern {} | binding {} | profile {}",
        p.python_threads, p.rust_threads, p.pattern, p.binding, p.profile
    );
    let _ = writeln!(
        s,
        "median over {reps} rep(s) per build, [min..max] when they differ"
    );
    let head = |b: &Option<BuildStats>, name: &str, failed: usize| -> String {
        match b {
            Some(b) => format!(
                "{name} (CPython {}{}){}",
                b.python_version,
                if name == "nogil" { "t" } else { "" },
                if failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                }
            ),
            None => format!("{name}: no successful run ({failed} failed)"),
        }
    };
    let _ = writeln!(
        s,
        "  {:<28}{:<36}{}",
        "",
        head(&c.gil, "GIL", c.gil_failed),
        head(&c.nogil, "nogil", c.nogil_failed)
    );
    for (label, f) in ROWS {
        let g = c.gil.as_ref().map(f).unwrap_or_else(|| "-".into());
        let n = c.nogil.as_ref().map(f).unwrap_or_else(|| "-".into());
        let _ = writeln!(s, "  {label:<28}{g:<36}{n}");
    }
    net_rows(&mut s, c);
    rounds::rounds_rows(&mut s, c);
    regions(&mut s, c);
    notes(&mut s, c);
    diagnosis(&mut s, c);
    amplification(&mut s, c, thresholds);
    s
}

/// The control arm's delta and the net delta of each build, under the gross rows.
fn net_rows(s: &mut String, c: &CellSummary) {
    let Some(native) = &c.native else {
        let _ = writeln!(
            s,
            "  {:<28}no control arm: gross figures only (--no-control, or a folder from before the control arm)",
            "control (no native call)"
        );
        return;
    };
    let control = |b: &Option<crate::aggregate::NetBuild>| {
        b.as_ref()
            .map_or("-".to_string(), |b| kib_cell(&b.control.delta_kib))
    };
    let net = |b: &Option<crate::aggregate::NetBuild>| {
        b.as_ref().map_or("-".to_string(), |b| {
            format!("{}{}", mib_signed(b.net_delta_kib), ci_mib(b.net_delta_ci))
        })
    };
    let _ = writeln!(
        s,
        "  {:<28}{:<36}{}",
        "control delta (no native)",
        control(&native.gil),
        control(&native.nogil)
    );
    let _ = writeln!(
        s,
        "  {:<28}{:<36}{}",
        "net delta (delta - control)",
        net(&native.gil),
        net(&native.nogil)
    );
}

/// " [95% CI +0.01..+0.20]" in MiB, or nothing without an interval.
fn ci_mib(ci: Option<crate::stats::Ci>) -> String {
    ci.map_or(String::new(), |ci| {
        format!(
            " [95% CI {}..{}]",
            crate::units::signed_mib(ci.lo),
            crate::units::signed_mib(ci.hi)
        )
    })
}

/// " [95% CI 1.10x..2.30x]", or nothing without an interval.
fn ci_times(ci: Option<crate::stats::Ci>) -> String {
    ci.map_or(String::new(), |ci| {
        format!(" [95% CI {:.2}x..{:.2}x]", ci.lo, ci.hi)
    })
}

/// Where the delta went, per smaps region, and how much of it is free in arenas.
fn regions(s: &mut String, c: &CellSummary) {
    let _ = writeln!(
        s,
        "\n  where the delta went (median change per smaps region)"
    );
    for (label, f) in REGION_ROWS {
        let g = c
            .gil
            .as_ref()
            .map(|b| mib_signed(f(&b.regions_delta_kib)))
            .unwrap_or_else(|| "-".into());
        let n = c
            .nogil
            .as_ref()
            .map(|b| mib_signed(f(&b.regions_delta_kib)))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(s, "  {label:<28}{g:<36}{n}");
    }
    let free_delta = |b: &Option<BuildStats>| {
        b.as_ref()
            .and_then(|b| b.arena_free_delta_kib)
            .map_or("-".to_string(), mib_signed)
    };
    let _ = writeln!(
        s,
        "  {:<28}{:<36}{}",
        "  arena free, not RSS",
        free_delta(&c.gil),
        free_delta(&c.nogil)
    );
}

/// Cross-checks that disagreed, and pymalloc's arenas when they were read.
fn notes(s: &mut String, c: &CellSummary) {
    for (name, b) in [("GIL", &c.gil), ("nogil", &c.nogil)] {
        if let Some(b) = b {
            if b.malloc_info_mismatches > 0 {
                let _ = writeln!(
                    s,
                    "  note: {name}: in {} of {} run(s) the arenas read from outside differ from malloc_info's",
                    b.malloc_info_mismatches, b.runs_ok
                );
            }
            if b.heap_count_mismatches > 0 {
                let _ = writeln!(
                    s,
                    "  note: {name}: in {} of {} run(s) the smaps arena-heap count differs from malloc_info's",
                    b.heap_count_mismatches, b.runs_ok
                );
            }
            if let Some(py) = b.pymalloc_arena_kib {
                let _ = writeln!(
                    s,
                    "  {name}: pymalloc arenas (in-process, part of other anonymous) {}",
                    mib(py)
                );
            }
        }
    }
}

/// What the memory is in each build, and the lever that acts on it.
fn diagnosis(s: &mut String, c: &CellSummary) {
    let _ = writeln!(s, "\n  what the memory is, and the lever");
    for (name, build) in [
        ("GIL", crate::model::Build::Gil),
        ("nogil", crate::model::Build::Nogil),
    ] {
        if let Some(d) = crate::risk::diagnosis::diagnose_point(c, build) {
            let _ = writeln!(s, "  {name:<6}{}", d.line());
        }
    }
}

/// The native figures (when there is a control arm), the talk's gross ratio, the
/// risk and whether the point is unstable.
fn amplification(s: &mut String, c: &CellSummary, thresholds: &Thresholds) {
    let (Some(a), Some(g), Some(n)) = (c.amplification, &c.gil, &c.nogil) else {
        let _ = writeln!(s, "\n  amplification  n/a: a build has no successful run");
        return;
    };
    let _ = writeln!(s);
    let native = c.native.as_ref();
    if let Some(native) = native {
        if let (Some(na), Some(ng), Some(nn)) = (native.amplification, &native.gil, &native.nogil) {
            let _ = writeln!(
                s,
                "  native amplification    {na:.2}x{} = net nogil {} / max(net GIL {}, floor {})",
                ci_times(native.amplification_ci),
                mib(nn.net_delta_kib),
                mib(ng.net_delta_kib),
                mib(c.floor_kib)
            );
        }
        if let Some(extra) = native.extra_kib {
            let _ = writeln!(
                s,
                "  native extra            {}{} = net nogil - net GIL",
                mib_signed(extra),
                ci_mib(native.extra_ci)
            );
        }
        if let Some(own) = native.interpreter_cost_kib {
            let _ = writeln!(
                s,
                "  interpreter's own cost  {}{} = control nogil - control GIL: the free-threaded threads' own cost with no native call; no glibc tunable acts on it",
                mib_signed(own),
                ci_mib(native.interpreter_cost_ci)
            );
        }
    }
    let talks = if native.is_some() {
        "the talk's gross ratio"
    } else {
        "amplification"
    };
    let _ = writeln!(
        s,
        "  {talks:<24}{a:.2}x{} = nogil delta {} / max(GIL delta {}, floor {})",
        ci_times(c.amplification_ci),
        mib(n.delta_kib.median),
        mib(g.delta_kib.median),
        mib(c.floor_kib)
    );
    let first = |b: &BuildStats| b.rounds.as_ref().map(|r| r.first_kib);
    if let (Some(fg), Some(fn_)) = (first(g), first(n)) {
        let _ = writeln!(
            s,
            "  {:<24}{:.2}x = nogil {} / max(GIL {}, floor {}) after round 1: the talk's single window",
            "one window (round 1)",
            crate::amplification::amplification(fn_, fg, c.floor_kib),
            mib(fn_),
            mib(fg),
            mib(c.floor_kib)
        );
    }
    if let Some(extra) = c.extra_kib {
        let label = if native.is_some() {
            "gross extra"
        } else {
            "extra memory"
        };
        let _ = writeln!(
            s,
            "  {label:<24}{}{} = nogil delta - GIL delta",
            mib_signed(extra),
            ci_mib(c.extra_ci)
        );
    }
    if let Some(risk) = c.risk {
        let judged = match c.judged {
            crate::model::Judge::Native => "native figures",
            crate::model::Judge::Gross => "gross figures",
        };
        let _ = writeln!(
            s,
            "  risk                    {risk}  judged on the {judged} ({})",
            thresholds.describe()
        );
    }
    if let Some(u) = &c.unstable {
        let _ = writeln!(
            s,
            "  UNSTABLE                {}: the median may move; run with --reps {} to pin it down",
            u.reasons.join("; "),
            u.reps_needed
        );
    }
}
