//! "What the memory is", per point, for `summary.md` and `index.html`: each point's
//! free-threaded delta, the extra memory over the GIL build with its interval, the
//! mechanism that holds the delta (`risk::diagnosis`) and the lever that acts on it,
//! and whether the repetitions pin the point down (`aggregate::Instability`).
//! One list of rows, two renderers, so the two files never disagree.

use std::fmt::Write as _;

use maud::{html, Markup};

use crate::aggregate::CellSummary;
use crate::levers::Mechanism;
use crate::model::{Build, Judge};
use crate::risk::diagnosis::diagnose_point;
use crate::units::mib_short;
use crate::units::signed_mib;

/// One point, as both files show it.
pub struct Row {
    pub point: String,
    pub profile: String,
    pub nogil_delta: String,
    /// Free inside the free-threaded build's arenas at the final snapshot, and its
    /// change over the run (read from outside).
    pub free_in_arenas: String,
    pub extra: String,
    /// The free-threaded control arm's delta and the net delta ("-" without a
    /// control arm).
    pub control_net: String,
    pub nogil: String,
    pub gil: String,
    /// The main mechanism of the free-threaded delta (None: little growth).
    pub mechanism: Option<Mechanism>,
    /// "nogil deltas vary 50% (CV); --reps 40", or empty.
    pub unstable: String,
}

/// The rows, in the summaries' order (points sorted by profile, binding, pattern,
/// threads).
pub fn rows(summaries: &[CellSummary]) -> Vec<Row> {
    summaries
        .iter()
        .map(|c| {
            let p = &c.point;
            let nogil = diagnose_point(c, Build::Nogil);
            Row {
                point: format!(
                    "{}x{} {} {}",
                    p.python_threads, p.rust_threads, p.pattern, p.binding
                ),
                profile: p.profile.clone(),
                nogil_delta: c.nogil.as_ref().map_or("-".into(), |b| {
                    format!("{} MiB", mib_short(b.delta_kib.median))
                }),
                free_in_arenas: c
                    .nogil
                    .as_ref()
                    .and_then(|b| Some((b.arena_free_kib?.median, b.arena_free_delta_kib?)))
                    .map_or("-".into(), |(free, delta)| {
                        format!("{} MiB ({} MiB)", mib_short(free), signed_mib(delta))
                    }),
                extra: c.judged_extra().map_or("-".into(), |(e, ci)| {
                    format!(
                        "{} MiB{}",
                        signed_mib(e),
                        ci.map_or(String::new(), |ci| format!(
                            " [{}, {}]",
                            signed_mib(ci.lo),
                            signed_mib(ci.hi)
                        ))
                    )
                }),
                control_net: c.native.as_ref().and_then(|n| n.nogil.as_ref()).map_or(
                    "-".into(),
                    |b| {
                        format!(
                            "{} / {} MiB",
                            mib_short(b.control.delta_kib.median),
                            signed_mib(b.net_delta_kib)
                        )
                    },
                ),
                mechanism: nogil.as_ref().and_then(|d| d.main().map(|p| p.mechanism)),
                nogil: nogil.map_or("-".into(), |d| d.short()),
                gil: diagnose_point(c, Build::Gil).map_or("-".into(), |d| d.short()),
                unstable: c.unstable.as_ref().map_or(String::new(), |u| {
                    format!("{}; --reps {}", u.reasons.join("; "), u.reps_needed)
                }),
            }
        })
        .collect()
}

/// The levers of the mechanisms that hold some point's delta, once each.
fn levers(rows: &[Row]) -> Vec<Mechanism> {
    let mut out: Vec<Mechanism> = Vec::new();
    for m in rows.iter().filter_map(|r| r.mechanism) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

const INTRO: &str = "Where each point's free-threaded delta sits, by mechanism (the share of the delta), from the region split, what malloc_trim(0) returned and glibc's arenas read from outside (free inside arenas at the final snapshot, and its change over the run). With a control arm (the same Python threads calling nothing native), its delta is the interpreter's own per-thread cost, a mechanism of its own, and the other mechanisms split the net delta; the native extra is the net nogil delta minus the net GIL delta, else the extra is the nogil delta minus the GIL delta, each with its 95% bootstrap CI. A mechanism points to the lever that acts on it.";

/// The extra column's heading: native where some point judged native figures.
fn extra_heading(summaries: &[CellSummary]) -> &'static str {
    if summaries.iter().any(|c| c.judged == Judge::Native) {
        "native extra [95% CI]"
    } else {
        "extra vs GIL [95% CI]"
    }
}

/// The section for summary.md; `esc` escapes table text.
pub fn markdown(summaries: &[CellSummary], esc: fn(&str) -> String) -> String {
    let rows = rows(summaries);
    let mut s = String::new();
    if rows.is_empty() {
        return s;
    }
    let _ = writeln!(s, "## What the memory is\n\n{INTRO}\n");
    let _ = writeln!(
        s,
        "| point | profile | nogil delta | nogil control / net | free inside arenas (change) | {} | nogil: mechanism | GIL: mechanism | unstable |",
        extra_heading(summaries)
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|--:|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            esc(&r.point),
            esc(&r.profile),
            r.nogil_delta,
            r.control_net,
            r.free_in_arenas,
            r.extra,
            esc(&r.nogil),
            esc(&r.gil),
            esc(&r.unstable)
        );
    }
    let _ = writeln!(s);
    for m in levers(&rows) {
        let _ = writeln!(s, "- **{}**: {}", esc(m.short_name()), esc(&m.lever()));
    }
    let _ = writeln!(s);
    s
}

/// The section for index.html (maud escapes the text).
pub fn html(summaries: &[CellSummary]) -> Markup {
    let rows = rows(summaries);
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h2 { "What the memory is" }
        p.muted { (INTRO) }
        div.wrap {
            table {
                tr {
                    th.l { "point" } th.l { "profile" } th { "nogil delta" }
                    th { "nogil control / net" }
                    th { "free inside arenas (change)" } th { (extra_heading(summaries)) }
                    th.l { "nogil: mechanism" } th.l { "GIL: mechanism" } th.l { "unstable" }
                }
                @for r in &rows {
                    tr {
                        td.l { (r.point) } td.l { (r.profile) } td { (r.nogil_delta) }
                        td { (r.control_net) }
                        td { (r.free_in_arenas) } td { (r.extra) }
                        td.l { (r.nogil) } td.l { (r.gil) }
                        td.l.unstable[!r.unstable.is_empty()] { (r.unstable) }
                    }
                }
            }
        }
        ul {
            @for m in levers(&rows) {
                li { b { (m.short_name()) } ": " (m.lever()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_show_the_same_rows_and_levers() {
        let s = crate::risk::tests_support::sweep();
        let md = markdown(&s, super::super::markdown::esc);
        let html = html(&s).into_string();
        for r in rows(&s) {
            assert!(md.contains(&r.nogil_delta) && html.contains(&r.nogil_delta));
            assert!(
                md.contains(&r.extra) && html.contains(&r.extra),
                "{}",
                r.extra
            );
        }
        // The test sweep's deltas sit in no region (its runs carry no smaps split):
        // every mechanism is "other", and its lever is listed once.
        assert_eq!(md.matches("- **other**").count(), 1, "{md}");
        assert_eq!(html.matches("<li><b>other</b>").count(), 1, "{html}");
    }
}
