//! The comparison printed at the end of a run: per build, the RSS figures and arena
//! heaps (median and range over repetitions), then the amplification with its floor
//! and the risk level. A run over several bindings prints them side by side instead
//! (`terminal/bindings.rs`); a sweep prints one screen for the whole grid.

mod bindings;

pub use bindings::bindings_block;

use std::fmt::Write as _;

use crate::aggregate::{BuildStats, CellSummary, RegionMedians, Summary};
use crate::model::Binding;
use crate::risk::Thresholds;

fn mib(kib: f64) -> String {
    format!("{:.2} MiB", kib / 1024.0)
}

/// "12.10 MiB [12.00-12.20]" (no range for one run).
fn kib_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!(
            "{} [{:.2}..{:.2}]",
            mib(s.median),
            s.min / 1024.0,
            s.max / 1024.0
        )
    } else {
        mib(s.median)
    }
}

fn count_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{} [{}..{}]", s.median, s.min, s.max)
    } else {
        format!("{}", s.median)
    }
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

/// One screen for a whole sweep: for each profile (and binding and pattern), a text
/// heatmap of amplification (Rust threads down, Python threads across; `!` HIGH,
/// `+` MEDIUM), then the profiles ranked by the memory the free-threaded build
/// kept. The recommendation (by final RSS and throughput cost, `risk::recommend`)
/// is printed after it by the report step.
pub fn sweep_summary(summaries: &[CellSummary], plan: &crate::plan::Plan) -> String {
    let mut s = String::new();
    let mut groups: Vec<(String, Binding, String)> = summaries
        .iter()
        .map(|c| {
            (
                c.point.profile.clone(),
                c.point.binding,
                c.point.pattern.clone(),
            )
        })
        .collect();
    groups.dedup();
    groups.sort();
    groups.dedup();
    for (profile, binding, pattern) in &groups {
        let mine = |c: &&CellSummary| {
            c.point.profile == *profile
                && c.point.binding == *binding
                && c.point.pattern == *pattern
        };
        let native = summaries
            .iter()
            .filter(mine)
            .any(|c| c.judged == crate::model::Judge::Native);
        let what = if native {
            "native amplification (net of the control arm)"
        } else {
            "amplification (gross)"
        };
        let _ = writeln!(s, "{what}, profile {profile}, binding {binding}, pattern {pattern}  (! HIGH, + MEDIUM, ~ unstable)");
        let at = |p: u32, r: u32| {
            summaries
                .iter()
                .filter(mine)
                .find(|c| c.point.python_threads == p && c.point.rust_threads == r)
        };
        text_grid(&mut s, plan, &|p, r| {
            let cell = at(p, r)?;
            Some(match cell.judged_amplification() {
                Some((a, _)) => {
                    let mark = match cell.risk {
                        Some(crate::risk::RiskLevel::High) => "!",
                        Some(crate::risk::RiskLevel::Medium) => "+",
                        _ => " ",
                    };
                    let shaky = if cell.unstable.is_some() { "~" } else { "" };
                    format!("{shaky}{a:.1}x{mark}")
                }
                None => "fail ".to_string(),
            })
        });
        let mine_all: Vec<&CellSummary> = summaries.iter().filter(mine).collect();
        let (high, medium, low) = [
            crate::risk::RiskLevel::High,
            crate::risk::RiskLevel::Medium,
            crate::risk::RiskLevel::Low,
        ]
        .map(|l| mine_all.iter().filter(|c| c.risk == Some(l)).count())
        .into();
        let _ = writeln!(
            s,
            "  risk on the {} figures: {high} HIGH, {medium} MEDIUM, {low} LOW",
            if native { "native" } else { "gross" }
        );
        if native {
            let _ = writeln!(
                s,
                "the talk's gross ratio (nogil delta / GIL delta, the interpreter's own cost included)"
            );
            text_grid(&mut s, plan, &|p, r| {
                let cell = at(p, r)?;
                Some(
                    cell.amplification
                        .map_or("fail ".to_string(), |a| format!("{a:.1}x ")),
                )
            });
        }
        interpreter_cost_row(
            &mut s,
            summaries.iter().filter(mine).collect(),
            &plan.python_threads,
        );
        let _ = writeln!(s);
    }
    s.push_str(&diagnosis_block(summaries));
    // The report's ranking, so the terminal and the report never disagree.
    let ranks = crate::risk::rank_profiles(summaries);
    if ranks.len() > 1 {
        let _ = writeln!(s, "profiles by free-threaded final RSS over the grid (medians; as the report ranks them):");
        let _ = writeln!(
            s,
            "  {:<22}{:>14}{:>14}{:>10}{:>14}",
            "profile", "final nogil", "delta nogil", "amplif.", "calls/s nogil"
        );
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "-".to_string(), f);
        for r in &ranks {
            let _ = writeln!(
                s,
                "  {:<22}{:>14}{:>14}{:>10}{:>14}",
                r.profile,
                opt(r.final_nogil_kib, &mib),
                opt(r.delta_nogil_kib, &mib),
                opt(r.amplification, &|a| format!("{a:.1}x")),
                opt(r.throughput_nogil, &|t| format!("{t:.2}x"))
            );
        }
    }
    s
}

/// A text heatmap: Rust threads down (largest first), Python threads across; `cell`
/// gives a point's text, None where the point was not run.
fn text_grid(s: &mut String, plan: &crate::plan::Plan, cell: &dyn Fn(u32, u32) -> Option<String>) {
    let _ = write!(s, "  rust\\py");
    for p in &plan.python_threads {
        let _ = write!(s, "{p:>9}");
    }
    let _ = writeln!(s);
    for r in plan.rust_threads.iter().rev() {
        let _ = write!(s, "  {r:>7}");
        for &p in &plan.python_threads {
            let text = cell(p, *r).unwrap_or_else(|| "- ".to_string());
            let _ = write!(s, "{text:>9}");
        }
        let _ = writeln!(s);
    }
}

/// The interpreter's own cost by Python threads, under a group's text heatmap.
fn interpreter_cost_row(s: &mut String, mine: Vec<&CellSummary>, python_threads: &[u32]) {
    let cost = |p: u32| {
        mine.iter()
            .find(|c| c.point.python_threads == p)
            .and_then(|c| c.native.as_ref()?.interpreter_cost_kib)
    };
    if python_threads.iter().all(|&p| cost(p).is_none()) {
        return;
    }
    let _ = write!(s, "  {:>7}", "own MiB");
    for &p in python_threads {
        let text = cost(p).map_or("-".to_string(), |k| crate::units::signed_mib(k));
        let _ = write!(s, "{text:>9}");
    }
    let _ = writeln!(
        s,
        "\n  own MiB: the interpreter's own cost (control nogil - control GIL delta, no native call); no glibc tunable acts on it"
    );
}

/// Most points listed by [`diagnosis_block`]; the report lists them all.
const DIAGNOSED_POINTS: usize = 12;

/// What the free-threaded memory is at each point with growth (largest first, up to
/// [`DIAGNOSED_POINTS`]), the levers of the mechanisms named, and the unstable points.
pub fn diagnosis_block(summaries: &[CellSummary]) -> String {
    use crate::risk::diagnosis::{diagnose_point, Mechanism};
    let mut s = String::new();
    let mut rows: Vec<(&CellSummary, crate::risk::diagnosis::Diagnosis)> = summaries
        .iter()
        .filter_map(|c| Some((c, diagnose_point(c, crate::model::Build::Nogil)?)))
        .filter(|(_, d)| d.main().is_some())
        .collect();
    rows.sort_by(|a, b| b.1.delta_kib.total_cmp(&a.1.delta_kib));
    if !rows.is_empty() {
        let _ = writeln!(
            s,
            "what the free-threaded build's delta is (largest first; every point in summary.md):"
        );
        let _ = writeln!(
            s,
            "  {:<34}{:>12}  {:<26}mechanism",
            "point",
            "nogil delta",
            if rows
                .iter()
                .any(|(c, _)| c.judged == crate::model::Judge::Native)
            {
                "native extra [95% CI]"
            } else {
                "extra vs GIL [95% CI]"
            }
        );
        let mut levers: Vec<Mechanism> = Vec::new();
        for (c, d) in rows.iter().take(DIAGNOSED_POINTS) {
            let p = &c.point;
            let extra = c.judged_extra().map_or("-".to_string(), |(e, ci)| {
                format!(
                    "{}{}",
                    crate::units::signed_mib(e),
                    ci.map_or(String::new(), |ci| format!(
                        " [{}..{}]",
                        crate::units::signed_mib(ci.lo),
                        crate::units::signed_mib(ci.hi)
                    ))
                )
            });
            let _ = writeln!(
                s,
                "  {:<34}{:>12}  {:<26}{}",
                format!(
                    "{}x{} {} {} {}",
                    p.python_threads, p.rust_threads, p.pattern, p.binding, p.profile
                ),
                mib(d.delta_kib),
                extra,
                d.short()
            );
            if let Some(m) = d.main().map(|p| p.mechanism) {
                if !levers.contains(&m) {
                    levers.push(m);
                }
            }
        }
        if rows.len() > DIAGNOSED_POINTS {
            let _ = writeln!(s, "  ... and {} more", rows.len() - DIAGNOSED_POINTS);
        }
        for m in levers {
            let _ = writeln!(s, "  lever for {}: {}", m.short_name(), m.lever());
        }
        let _ = writeln!(s);
    }
    let unstable: Vec<&CellSummary> = summaries.iter().filter(|c| c.unstable.is_some()).collect();
    if !unstable.is_empty() {
        let _ = writeln!(
            s,
            "UNSTABLE: {} point(s) whose repetitions do not pin the figures down:",
            unstable.len()
        );
        for c in unstable.iter().take(DIAGNOSED_POINTS) {
            let u = c.unstable.as_ref().expect("filtered");
            let _ = writeln!(
                s,
                "  {}: {}; --reps {}",
                c.point.label(),
                u.reasons.join("; "),
                u.reps_needed
            );
        }
        let _ = writeln!(s);
    }
    s
}
