//! "Settles or keeps growing", per point, for `summary.md` and `index.html` (runs of
//! `--rounds` 3 or more): each build's delta after round 1 (one window, the talk's),
//! its settled level and its growth per round over the last half of the rounds with
//! the 95% interval, the verdict, and the free-threaded growth net of the control
//! arm's. One list of rows, two renderers, so the two files never disagree.

use std::fmt::Write as _;

use maud::{html, Markup};

use crate::aggregate::rounds::{Rounds, GROWTH_BOUND_KIB, ROUNDS_TO_JUDGE};
use crate::aggregate::{BuildStats, CellSummary};
use crate::model::Build;

/// One point, as both files show it.
pub struct Row {
    pub point: String,
    pub profile: String,
    pub rounds: String,
    /// "0.45 -> 0.65 MiB, +2.0 KiB/round [+1.8, +4.5]: settles" per build.
    pub gil: String,
    pub nogil: String,
    /// The free-threaded growth net of the control arm's, with its verdict.
    pub nogil_net: String,
    /// A build keeps growing by the judged figures.
    pub flagged: bool,
}

const INTRO: &str = "Each run repeats its workload in rounds (a new pool of the same Python threads each round) and the parent snapshots after each. first -> settled: the delta after round 1 (one window, as the talk measured) and the mean delta over the last half of the rounds; growth: the Theil-Sen slope over that last half, median over runs with its 95% bootstrap CI. A build keeps growing when its growth is at least the bound below with the CI above zero, over enough rounds; with fewer rounds that is \"still rising\", too few to tell a one-time rise from a leak. Net: the growth minus the control arm's (the same threads, no native call).";

fn build_text(r: &Rounds) -> String {
    format!(
        "{} -> {}, {:+.1} KiB/round{}: {}",
        crate::units::mib_value(r.first_kib),
        crate::units::mib(r.level_kib),
        r.growth_kib,
        r.growth_ci.map_or(String::new(), |ci| format!(
            " [{:+.1}, {:+.1}]",
            ci.lo, ci.hi
        )),
        r.verdict.as_str()
    )
}

/// The rows of the points with rounds, in the summaries' order.
pub fn rows(summaries: &[CellSummary]) -> Vec<Row> {
    let of = |b: &Option<BuildStats>| b.as_ref().and_then(|b| b.rounds.clone());
    summaries
        .iter()
        .filter_map(|c| {
            let (g, n) = (of(&c.gil), of(&c.nogil));
            let any = g.as_ref().or(n.as_ref())?;
            let p = &c.point;
            Some(Row {
                point: format!(
                    "{}x{} {} {}",
                    p.python_threads, p.rust_threads, p.pattern, p.binding
                ),
                profile: p.profile.clone(),
                rounds: format!("{} (last half from {})", any.rounds, any.from_round),
                gil: g.as_ref().map_or("-".into(), build_text),
                nogil: n.as_ref().map_or("-".into(), build_text),
                nogil_net: c
                    .net(Build::Nogil)
                    .and_then(|b| b.rounds.as_ref())
                    .map_or("-".into(), |r| {
                        format!("{:+.1} KiB/round: {}", r.growth_kib, r.verdict.as_str())
                    }),
                flagged: c.keeps_growing(),
            })
        })
        .collect()
}

fn footer(rows: &[Row]) -> String {
    let flagged = rows.iter().filter(|r| r.flagged).count();
    format!(
        "{flagged} of {} point(s) keep growing by the judged figures (at least {GROWTH_BOUND_KIB} KiB per round, CI above zero, {ROUNDS_TO_JUDGE}+ rounds).",
        rows.len()
    )
}

/// "2 point(s) keep growing round after round: ..." for the verdict of summary.md and
/// index.html; None when none does.
pub fn growing_line(summaries: &[CellSummary]) -> Option<String> {
    let growing: Vec<String> = summaries
        .iter()
        .filter(|c| c.keeps_growing())
        .map(|c| c.point.label())
        .collect();
    (!growing.is_empty()).then(|| {
        format!(
            "{} point(s) keep growing round after round, whatever their ratio (see \"Settles or keeps growing\"): {}",
            growing.len(),
            growing.join("; ")
        )
    })
}

/// The section of `summary.md`; empty when no point has rounds.
pub fn markdown(summaries: &[CellSummary], esc: fn(&str) -> String) -> String {
    let rows = rows(summaries);
    let mut s = String::new();
    if rows.is_empty() {
        return s;
    }
    let _ = writeln!(s, "## Settles or keeps growing\n\n{}\n", esc(INTRO));
    let _ = writeln!(s, "| point | profile | rounds | GIL: first -> settled, growth | nogil: first -> settled, growth | nogil net growth | flagged |");
    let _ = writeln!(s, "|---|---|--:|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            esc(&r.point),
            esc(&r.profile),
            esc(&r.rounds),
            esc(&r.gil),
            esc(&r.nogil),
            esc(&r.nogil_net),
            if r.flagged { "keeps growing" } else { "" }
        );
    }
    let _ = writeln!(s, "\n{}\n", esc(&footer(&rows)));
    s
}

/// The section of `index.html`; nothing when no point has rounds.
pub fn html(summaries: &[CellSummary]) -> Markup {
    let rows = rows(summaries);
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Settles or keeps growing" }
        p.muted { (INTRO.replace("->", "→")) }
        div.wrap {
            table {
                tr {
                    th.l { "point" } th.l { "profile" } th { "rounds" }
                    th.l { "GIL: first → settled, growth" } th.l { "nogil: first → settled, growth" }
                    th.l { "nogil net growth" } th.l { "flagged" }
                }
                @for r in &rows {
                    tr {
                        td.l { (r.point) } td.l { (r.profile) } td { (r.rounds) }
                        td.l { (r.gil.replace("->", "→")) } td.l { (r.nogil.replace("->", "→")) }
                        td.l { (r.nogil_net) }
                        td.l.unstable[r.flagged] { @if r.flagged { "keeps growing" } }
                    }
                }
            }
        }
        p.muted { (footer(&rows)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_without_rounds_has_no_row_and_no_section() {
        let s = crate::risk::tests_support::sweep();
        assert!(rows(&s).is_empty());
        assert_eq!(markdown(&s, |t| t.to_string()), "");
    }
}
