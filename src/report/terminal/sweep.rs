//! One screen for a whole sweep: per group a text heatmap of the judged
//! amplification, the talk's gross ratio and the interpreter's own cost beside it when
//! there is a control arm, what the free-threaded delta is at each point with growth,
//! and the profiles ranked.

use std::fmt::Write as _;

use crate::aggregate::CellSummary;
use crate::model::Binding;
use crate::units::mib;

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
        group_block(&mut s, summaries, plan, (profile, *binding, pattern));
    }
    s.push_str(&diagnosis_block(summaries));
    s.push_str(&super::rounds::growth_block(summaries));
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

/// One group's text heatmaps (judged amplification, the talk's gross ratio) and the
/// interpreter's own cost row.
fn group_block(
    s: &mut String,
    summaries: &[CellSummary],
    plan: &crate::plan::Plan,
    (profile, binding, pattern): (&str, Binding, &str),
) {
    let mine = |c: &&CellSummary| {
        c.point.profile == profile && c.point.binding == binding && c.point.pattern == pattern
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
    let _ = writeln!(s, "{what}, profile {profile}, binding {binding}, pattern {pattern}  (! HIGH, + MEDIUM, ~ unstable, ^ keeps growing)");
    let at = |p: u32, r: u32| {
        summaries
            .iter()
            .filter(mine)
            .find(|c| c.point.python_threads == p && c.point.rust_threads == r)
    };
    text_grid(s, plan, &|p, r| {
        let cell = at(p, r)?;
        Some(match cell.judged_amplification() {
            Some((a, _)) => {
                let mark = match cell.risk {
                    Some(crate::risk::RiskLevel::High) => "!",
                    Some(crate::risk::RiskLevel::Medium) => "+",
                    _ => " ",
                };
                let shaky = if cell.unstable.is_some() { "~" } else { "" };
                let grows = if cell.keeps_growing() { "^" } else { "" };
                format!("{shaky}{grows}{a:.1}x{mark}")
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
        text_grid(s, plan, &|p, r| {
            let cell = at(p, r)?;
            Some(
                cell.amplification
                    .map_or("fail ".to_string(), |a| format!("{a:.1}x ")),
            )
        });
    }
    interpreter_cost_row(
        s,
        summaries.iter().filter(mine).collect(),
        &plan.python_threads,
    );
    let _ = writeln!(s);
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
        let text = cost(p).map_or("-".to_string(), crate::units::signed_mib);
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
    use crate::levers::Mechanism;
    use crate::risk::diagnosis::diagnose_point;
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
