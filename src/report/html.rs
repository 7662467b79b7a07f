//! `index.html`: the whole report on one self-contained page. No script and no
//! network: a Content-Security-Policy allows nothing but inline styles and the
//! inline SVG figures. The page is built with maud, which escapes every string it is
//! given (plan and profile names and descriptions, interpreter paths, provenance);
//! only the SVGs from plotters, which escapes their text itself, and the style sheet
//! go in as they are (`PreEscaped`).
//!
//! This file builds the page and its findings (verdict, ranking, figures, every
//! point); `html/appendix.rs` the reference sections at its end (plan, provenance,
//! files).

mod appendix;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::figure::{stars, times, STARS_LEGEND};
use super::heatmap::Group;
use super::markdown::{risk_counts, throughput};
use crate::aggregate::{BuildStats, CellSummary};
use crate::plan_file::PlanFile;
use crate::risk::{Advice, ProfileRank, Verdict, MAX_THROUGHPUT_COST};
use crate::units::{count, mib_short};

/// The figures to inline, already rendered.
pub struct Figures<'a> {
    /// (title, group, file stem, SVG).
    pub heatmaps: Vec<(&'a str, &'a Group, &'a str, &'a str)>,
    /// (title, file stem, SVG).
    pub timeseries: Vec<(String, &'a str, &'a str)>,
    /// RSS by round (title, file stem, SVG): `--rounds` 3 or more.
    pub rounds: Vec<(String, &'a str, &'a str)>,
    pub pareto: Option<&'a str>,
}

const STYLE: &str = "
body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:0 auto;max-width:1320px;padding:16px 24px;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:2px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}tr.best td{background:#eef6ee}
code,pre{font-family:'DejaVu Sans Mono',monospace;background:#f6f6f6}pre{padding:8px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.unstable{color:#8a5a00;font-weight:bold}
.rec{border:2px solid #2b8a3e;border-radius:6px;padding:8px 16px;background:#f5fbf6}
.keep{border:2px solid #888;border-radius:6px;padding:8px 16px;background:#f7f7f7}
.rec code.line{font-size:1.15em;font-weight:bold}.muted{color:#666}.snips{display:flex;gap:12px;flex-wrap:wrap}.snips div{flex:1;min-width:300px}
figure{margin:12px 0}svg{max-width:100%;height:auto}.HIGH{color:#b00;font-weight:bold}.MEDIUM{color:#b60}
details{margin:.5em 0}summary{cursor:pointer;font-weight:bold}
.wrap{overflow-x:auto}td code{word-break:break-all;font-size:.9em}td.l{max-width:420px}
.maps{display:grid;grid-template-columns:repeat(auto-fill,minmax(620px,1fr));gap:8px 16px}.maps figure{margin:4px 0}
";

/// A table row whose first `text` cells are left-aligned (the rest are numbers).
fn row(cells: &[Markup], text: usize) -> Markup {
    html! {
        tr { @for (i, c) in cells.iter().enumerate() { td class=[(i < text).then_some("l")] { (c) } } }
    }
}

/// Text for a table cell (escaped).
fn cell(s: impl AsRef<str>) -> Markup {
    html! { (s.as_ref()) }
}

fn head(cells: &[&str]) -> Markup {
    html! {
        tr { @for c in cells { th { (c) } } }
    }
}

/// A table of names and values, all left-aligned.
fn key_values<K: AsRef<str>>(kv: &[(K, String)]) -> Markup {
    html! {
        table { @for (k, v) in kv { (row(&[cell(k), cell(v)], 2)) } }
    }
}

/// The evidence of each profile against glibc-default, as a list.
fn evidence_list(advice: &Advice, ranks: &[ProfileRank]) -> Markup {
    let lines = advice.evidence_lines(ranks);
    html! {
        @if !lines.is_empty() {
            ul { @for l in &lines { li { (l) } } }
        }
    }
}

/// The verdict box: a recommendation (green, with snippets), "keep the default"
/// (grey, with the numbers and what would give more power), or why nothing was judged.
fn advice_box(advice: &Advice, ranks: &[ProfileRank]) -> Markup {
    let rule = format!(
        "Rule: {}; and a throughput cost of at most {:.0}% of glibc-default's calls per second. Measured on this host only; check it under your own load.",
        advice.rule.describe(),
        MAX_THROUGHPUT_COST * 100.0
    );
    html! {
        @match &advice.verdict {
            Verdict::Recommend(rec) => {
                div.rec {
                    h3 { "Recommended: " (rec.profile) }
                    p {
                        @if rec.env.is_empty() {
                            "No variables needed: this profile is glibc's malloc as it comes."
                        } @else {
                            code.line { (rec.line()) }
                        }
                    }
                    p { (rec.reason) "." }
                    @if rec.needs_jemalloc_build {
                        p { "This profile builds the extension with tikv-jemallocator as its global allocator: the variables alone do not reproduce it." }
                    }
                    @if !rec.env.is_empty() {
                        div.snips {
                            @for (name, body) in [
                                ("systemd unit", &rec.snippets.systemd),
                                ("Dockerfile", &rec.snippets.dockerfile),
                                ("Kubernetes container", &rec.snippets.kubernetes),
                            ] {
                                div { b { (name) } pre { (body) } }
                            }
                        }
                    }
                    (evidence_list(advice, ranks))
                    p.muted { (rule) }
                }
            }
            Verdict::KeepDefault { why, hint } => {
                div.keep {
                    h3 { "Keep the default (glibc-default)" }
                    p { (why) "." }
                    (evidence_list(advice, ranks))
                    p { "For more power: " (hint) "." }
                    p.muted { (rule) }
                }
            }
            Verdict::NotJudged(why) => {
                p.muted { "No recommendation: " (why) "." }
            }
        }
    }
}

/// The page.
pub fn render(
    pf: &PlanFile,
    summaries: &[CellSummary],
    ranks: &[ProfileRank],
    advice: &Advice,
    figs: &Figures,
) -> String {
    let plan = &pf.plan;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "arena-sweep report: " (plan.name) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "arena-sweep report: " (plan.name) }
                @if !plan.description.is_empty() {
                    p { (plan.description) }
                }
                (run_line(pf, summaries))
                (verdict(pf, summaries, ranks, advice))
                (super::mechanisms::html(summaries))
                (super::rounds_text::html(summaries))
                (ranking(pf, ranks, advice))
                @if let Some(svg) = figs.pareto {
                    figure { (PreEscaped(svg)) }
                }
                (heatmaps(figs))
                (timeseries(figs))
                (rounds(figs))
                (cells_table(summaries))
                (appendix::plan_section(pf))
                (appendix::provenance(pf))
                (appendix::files())
            }
        }
    };
    let mut s = page.into_string();
    s.push('\n');
    s
}

/// Host, interpreters, grid size, failures and whether the sweep is complete.
fn run_line(pf: &PlanFile, summaries: &[CellSummary]) -> Markup {
    let prov = &pf.provenance;
    let host = &prov.host;
    let failed: usize = summaries
        .iter()
        .map(|c| c.gil_failed + c.nogil_failed)
        .sum();
    let interpreters = prov
        .interpreters
        .iter()
        .map(|i| i.label())
        .collect::<Vec<_>>()
        .join(" vs ");
    html! {
        p.muted {
            "Host " (host.short()) " (" (host.hostname) ") · " (interpreters) " · "
            (summaries.len()) " point(s) x 2 builds x " (pf.plan.reps) " rep(s) · "
            (failed) " failed run(s) · plan "
            @if pf.complete { "complete" } @else { b { "incomplete" } }
        }
    }
}

/// Risk counts, the thresholds, and the advice box.
fn verdict(
    pf: &PlanFile,
    summaries: &[CellSummary],
    ranks: &[ProfileRank],
    advice: &Advice,
) -> Markup {
    let (high, medium, low) = risk_counts(summaries);
    html! {
        h2 { "Verdict" }
        p {
            span.HIGH { (high) " HIGH" } ", " span.MEDIUM { (medium) " MEDIUM" } ", "
            (low) " LOW point(s). " (pf.plan.thresholds.describe()) "."
        }
        @if let Some(line) = super::rounds_text::growing_line(summaries) {
            p.unstable { (line) }
        }
        (advice_box(advice, ranks))
    }
}

/// The allocator profiles ranked, the recommended one highlighted.
fn ranking(pf: &PlanFile, ranks: &[ProfileRank], advice: &Advice) -> Markup {
    if ranks.is_empty() {
        return html! {};
    }
    let rec = advice.recommendation();
    html! {
        h2 { "Allocator profiles" }
        p { "Medians over the grid; rank 1 = least memory. Throughput: calls per second relative to glibc-default at the same points." }
        div.wrap {
            table {
                (head(&[
                    "profile",
                    "GLIBC_TUNABLES (allocator)",
                    "final RSS nogil, MiB (rank)",
                    "peak RSS nogil, MiB (rank)",
                    "final RSS GIL, MiB (rank)",
                    "peak RSS GIL, MiB (rank)",
                    "nogil delta, MiB",
                    "amplification",
                    "calls/s nogil",
                    "calls/s GIL",
                    "Pareto",
                ]))
                @for r in ranks {
                    @let best = rec.is_some_and(|x| x.profile == r.profile);
                    tr class=[best.then_some("best")] {
                        @for (i, c) in rank_cells(pf, r).iter().enumerate() {
                            td class=[(i < 2).then_some("l")] { (c) }
                        }
                    }
                }
            }
        }
    }
}

/// One profile's cells in the ranking table.
fn rank_cells(pf: &PlanFile, r: &ProfileRank) -> Vec<Markup> {
    let p = pf.plan.profiles.iter().find(|p| p.name == r.profile);
    let setting = p.map_or(String::new(), |p| {
        let t = p.glibc_tunables();
        let a = p.allocator.label();
        if t.is_empty() {
            a
        } else {
            format!("{t} ({a})")
        }
    });
    let ranked = |v: Option<f64>, k: usize| {
        cell(v.map_or("-".into(), |v| format!("{} ({k})", mib_short(v))))
    };
    vec![
        html! { span title=(p.map_or("", |p| &p.description)) { (r.profile) } },
        html! { code { (setting) } },
        ranked(r.final_nogil_kib, r.rank_final_nogil),
        ranked(r.peak_nogil_kib, r.rank_peak_nogil),
        ranked(r.final_gil_kib, r.rank_final_gil),
        ranked(r.peak_gil_kib, r.rank_peak_gil),
        cell(r.delta_nogil_kib.map_or("-".into(), mib_short)),
        cell(r.amplification.map_or("-".into(), times)),
        cell(throughput(r.throughput_nogil)),
        cell(throughput(r.throughput_gil)),
        cell(if r.pareto { "yes" } else { "" }),
    ]
}

/// The heatmaps, one grid of maps per group (profile, binding, pattern).
fn heatmaps(figs: &Figures) -> Markup {
    html! {
        h2 { "Heatmaps" }
        p.muted { (STARS_LEGEND) ". PNG and SVG files of each are in the folder." }
        @for maps in figs.heatmaps.chunk_by(|a, b| a.1 == b.1) {
            h3 { (maps[0].1.describe()) }
            div.maps {
                @for (title, _, stem, svg) in maps {
                    figure id=(stem) {
                        (PreEscaped(svg))
                        figcaption.muted {
                            (title) " · "
                            a href={ (stem) ".png" } { "PNG" } " · "
                            a href={ (stem) ".svg" } { "SVG" }
                        }
                    }
                }
            }
        }
    }
}

/// RSS over time of the chosen points.
fn timeseries(figs: &Figures) -> Markup {
    html! {
        @if !figs.timeseries.is_empty() {
            h2 { "RSS over time" }
            @for (title, stem, svg) in &figs.timeseries {
                @if svg.is_empty() {
                    p.muted { (title) }
                } @else {
                figure {
                    (PreEscaped(svg))
                    figcaption.muted { (title) " · " a href={ (stem) ".png" } { "PNG" } }
                }
                }
            }
        }
    }
}

/// RSS by round at the same points.
fn rounds(figs: &Figures) -> Markup {
    html! {
        @if !figs.rounds.is_empty() {
            h2 { "RSS by round: does it settle?" }
            @for (title, stem, svg) in &figs.rounds {
                figure {
                    (PreEscaped(svg))
                    figcaption.muted { (title) " · " a href={ (stem) ".png" } { "PNG" } }
                }
            }
        }
    }
}

fn cells_table(summaries: &[CellSummary]) -> Markup {
    html! {
        h2 { "Every point" }
        p.muted { "Medians over repetitions; deltas in MiB. Control: the same Python threads calling nothing native; net = delta - control; interpreter's own cost = control nogil - control GIL; native amplification = net nogil / max(net GIL, floor), with its 95% bootstrap CI; the talk's gross ratio = nogil delta / max(GIL delta, floor), and q is the Benjamini-Hochberg-adjusted Mann-Whitney p-value of the gross nogil vs GIL deltas. Risk judges the native figures where a point has a control arm." }
        div.wrap {
            table {
                (head(&[
                    "profile",
                    "binding",
                    "pattern",
                    "PxR",
                    "GIL delta",
                    "nogil delta",
                    "nogil MAD",
                    "nogil CV",
                    "arena heaps GIL/nogil",
                    "reclaimable nogil",
                    "control GIL / nogil",
                    "net GIL / nogil",
                    "interpreter's own cost",
                    "native amplification",
                    "95% CI",
                    "talk's gross ratio",
                    "U",
                    "q",
                    "risk",
                    "failed runs",
                ]))
                @for c in summaries { (row(&point_cells(c), 3)) }
            }
        }
    }
}

/// One point's cells in the "Every point" table.
fn point_cells(c: &CellSummary) -> Vec<Markup> {
    let p = &c.point;
    let d = |b: &Option<BuildStats>| {
        cell(
            b.as_ref()
                .map_or("-".into(), |b| mib_short(b.delta_kib.median)),
        )
    };
    let heaps = |b: &Option<BuildStats>| {
        b.as_ref()
            .map_or("-".into(), |b| count(b.arena_heaps.median))
    };
    let risk = match c.risk {
        Some(r) => html! { span class=(r.to_string()) { (r.to_string()) } },
        None => cell("-"),
    };
    let native = c.native.as_ref();
    vec![
        cell(&p.profile),
        cell(p.binding.as_str()),
        cell(&p.pattern),
        cell(format!("{}x{}", p.python_threads, p.rust_threads)),
        d(&c.gil),
        d(&c.nogil),
        cell(
            c.nogil
                .as_ref()
                .map_or("-".into(), |b| mib_short(b.delta_mad_kib)),
        ),
        cell(
            c.nogil
                .as_ref()
                .and_then(|b| b.delta_cv)
                .map_or("-".into(), |v| format!("{v:.2}")),
        ),
        cell(format!("{} / {}", heaps(&c.gil), heaps(&c.nogil))),
        cell(
            c.nogil
                .as_ref()
                .map_or("-".into(), |b| mib_short(b.reclaimable_kib.median)),
        ),
        cell(native.map_or("-".into(), |n| {
            let control = |b: &Option<crate::aggregate::NetBuild>| {
                b.as_ref()
                    .map_or("-".into(), |b| mib_short(b.control.delta_kib.median))
            };
            format!("{} / {}", control(&n.gil), control(&n.nogil))
        })),
        cell(native.map_or("-".into(), |n| {
            let net = |b: &Option<crate::aggregate::NetBuild>| {
                b.as_ref()
                    .map_or("-".into(), |b| crate::units::signed_mib(b.net_delta_kib))
            };
            format!("{} / {}", net(&n.gil), net(&n.nogil))
        })),
        cell(
            native
                .and_then(|n| n.interpreter_cost_kib)
                .map_or("-".into(), crate::units::signed_mib),
        ),
        cell(
            native
                .and_then(|n| n.amplification)
                .map_or("-".into(), times),
        ),
        cell(
            native
                .and_then(|n| n.amplification_ci)
                .map_or("-".into(), |ci| {
                    format!("{}–{}", times(ci.lo), times(ci.hi))
                }),
        ),
        cell(c.amplification.map_or("-".into(), |a| {
            format!("{}{}", times(a), stars(c.p_adjusted))
        })),
        cell(c.mann_whitney_u.map_or("-".into(), |u| format!("{u}"))),
        cell(c.p_adjusted.map_or("-".into(), |q| format!("{q:.3}"))),
        risk,
        cell(format!("{}", c.gil_failed + c.nogil_failed)),
    ]
}

#[cfg(test)]
mod tests;
