//! `index.html`: the whole report on one self-contained page. No script and no
//! network: a Content-Security-Policy allows nothing but inline styles and the
//! inline SVG figures. Every string that comes from input (plan and profile names and
//! descriptions, interpreter paths, provenance) goes through [`esc`]; the SVGs come
//! from plotters, which escapes their text itself.

use std::fmt::Write as _;

use super::figure::{mib, stars, times, STARS_LEGEND};
use super::heatmap::{Group, Metric};
use super::markdown::{risk_counts, throughput};
use crate::aggregate::CellSummary;
use crate::plan_file::PlanFile;
use crate::risk::{Advice, ProfileRank, Verdict, MAX_THROUGHPUT_COST};

/// Escape text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The figures to inline, already rendered.
pub struct Figures<'a> {
    /// (metric, group, file stem, SVG).
    pub heatmaps: Vec<(Metric, &'a Group, &'a str, &'a str)>,
    /// (title, file stem, SVG).
    pub timeseries: Vec<(String, &'a str, &'a str)>,
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
fn row_l(cells: &[String], text: usize) -> String {
    let mut s = String::from("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let class = if i < text { " class=\"l\"" } else { "" };
        let _ = write!(s, "<td{class}>{c}</td>");
    }
    s.push_str("</tr>\n");
    s
}

fn row(cells: &[String]) -> String {
    row_l(cells, 1)
}

fn head(cells: &[&str]) -> String {
    let mut s = String::from("<tr>");
    for c in cells {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr>\n");
    s
}

/// The evidence of each profile against glibc-default, as a list.
fn evidence_list(advice: &Advice, ranks: &[ProfileRank]) -> String {
    let lines = advice.evidence_lines(ranks);
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from("<ul>");
    for l in lines {
        let _ = write!(s, "<li>{}</li>", esc(&l));
    }
    s.push_str("</ul>\n");
    s
}

/// The verdict box: a recommendation (green, with snippets), "keep the default"
/// (grey, with the numbers and what would give more power), or why nothing was judged.
fn advice_box(advice: &Advice, ranks: &[ProfileRank]) -> String {
    let mut s = String::new();
    let rule = format!(
        "Rule: {}; and a throughput cost of at most {:.0}% of glibc-default's calls per second. Measured on this host only; check it under your own load.",
        advice.rule.describe(),
        MAX_THROUGHPUT_COST * 100.0
    );
    match &advice.verdict {
        Verdict::Recommend(rec) => {
            let _ = writeln!(
                s,
                "<div class=\"rec\"><h3>Recommended: {}</h3><p>{}</p><p>{}.</p>",
                esc(&rec.profile),
                if rec.env.is_empty() {
                    "No variables needed: this profile is glibc's malloc as it comes.".to_string()
                } else {
                    format!("<code class=\"line\">{}</code>", esc(&rec.line()))
                },
                esc(&rec.reason)
            );
            if rec.needs_jemalloc_build {
                s.push_str("<p>This profile builds the extension with tikv-jemallocator as its global allocator: the variables alone do not reproduce it.</p>\n");
            }
            if !rec.env.is_empty() {
                s.push_str("<div class=\"snips\">");
                for (name, body) in [
                    ("systemd unit", &rec.snippets.systemd),
                    ("Dockerfile", &rec.snippets.dockerfile),
                    ("Kubernetes container", &rec.snippets.kubernetes),
                ] {
                    let _ = write!(s, "<div><b>{name}</b><pre>{}</pre></div>", esc(body));
                }
                s.push_str("</div>\n");
            }
            s.push_str(&evidence_list(advice, ranks));
            let _ = writeln!(s, "<p class=\"muted\">{}</p></div>", esc(&rule));
        }
        Verdict::KeepDefault { why, hint } => {
            let _ = writeln!(
                s,
                "<div class=\"keep\"><h3>Keep the default (glibc-default)</h3><p>{}.</p>",
                esc(why)
            );
            s.push_str(&evidence_list(advice, ranks));
            let _ = writeln!(
                s,
                "<p>For more power: {}.</p><p class=\"muted\">{}</p></div>",
                esc(hint),
                esc(&rule)
            );
        }
        Verdict::NotJudged(why) => {
            let _ = writeln!(s, "<p class=\"muted\">No recommendation: {}.</p>", esc(why));
        }
    }
    s
}

/// The page.
pub fn render(
    pf: &PlanFile,
    summaries: &[CellSummary],
    ranks: &[ProfileRank],
    advice: &Advice,
    figs: &Figures,
) -> String {
    let rec = advice.recommendation();
    let plan = &pf.plan;
    let prov = &pf.provenance;
    let host = &prov.host;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>arena-sweep report: {}</title>\n<style>{STYLE}</style></head><body>\n",
        esc(&plan.name)
    );
    let _ = writeln!(s, "<h1>arena-sweep report: {}</h1>", esc(&plan.name));
    if !plan.description.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", esc(&plan.description));
    }
    let failed: usize = summaries
        .iter()
        .map(|c| c.gil_failed + c.nogil_failed)
        .sum();
    let _ = writeln!(
        s,
        "<p class=\"muted\">Host {} ({}) · {} · {} point(s) x 2 builds x {} rep(s) · {} failed run(s) · plan {}</p>",
        esc(&host.short()),
        esc(&host.hostname),
        esc(&prov.interpreters.iter().map(|i| i.label()).collect::<Vec<_>>().join(" vs ")),
        summaries.len(),
        plan.reps,
        failed,
        if pf.complete { "complete" } else { "<b>incomplete</b>" }
    );

    // Verdict and recommendation.
    let (high, medium, low) = risk_counts(summaries);
    let _ = writeln!(
        s,
        "<h2>Verdict</h2><p><span class=\"HIGH\">{high} HIGH</span>, <span class=\"MEDIUM\">{medium} MEDIUM</span>, {low} LOW point(s). {}.</p>",
        esc(&plan.thresholds.describe())
    );
    s.push_str(&advice_box(advice, ranks));
    s.push_str(&super::mechanisms::html(summaries, esc));

    // Ranking.
    if !ranks.is_empty() {
        s.push_str("<h2>Allocator profiles</h2>\n<p>Medians over the grid; rank 1 = least memory. Throughput: calls per second relative to glibc-default at the same points.</p><div class=\"wrap\"><table>\n");
        s.push_str(&head(&[
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
        ]));
        for r in ranks {
            let p = plan.profiles.iter().find(|p| p.name == r.profile);
            let setting = p.map_or(String::new(), |p| {
                let t = p.glibc_tunables();
                let a = p.allocator.label();
                if t.is_empty() {
                    a
                } else {
                    format!("{t} ({a})")
                }
            });
            let ranked =
                |v: Option<f64>, k: usize| v.map_or("-".into(), |v| format!("{} ({k})", mib(v)));
            let line = row_l(
                &[
                    format!(
                        "<span title=\"{}\">{}</span>",
                        esc(p.map_or("", |p| &p.description)),
                        esc(&r.profile)
                    ),
                    format!("<code>{}</code>", esc(&setting)),
                    ranked(r.final_nogil_kib, r.rank_final_nogil),
                    ranked(r.peak_nogil_kib, r.rank_peak_nogil),
                    ranked(r.final_gil_kib, r.rank_final_gil),
                    ranked(r.peak_gil_kib, r.rank_peak_gil),
                    r.delta_nogil_kib.map_or("-".into(), mib),
                    r.amplification.map_or("-".into(), times),
                    throughput(r.throughput_nogil),
                    throughput(r.throughput_gil),
                    if r.pareto {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ],
                2,
            );
            if rec.is_some_and(|x| x.profile == r.profile) {
                s.push_str(&line.replacen("<tr>", "<tr class=\"best\">", 1));
            } else {
                s.push_str(&line);
            }
        }
        s.push_str("</table></div>\n");
    }
    if let Some(svg) = figs.pareto {
        let _ = writeln!(s, "<figure>{svg}</figure>");
    }

    // Heatmaps.
    s.push_str("<h2>Heatmaps</h2>\n");
    let _ = writeln!(
        s,
        "<p class=\"muted\">{}. PNG and SVG files of each are in the folder.</p>",
        esc(STARS_LEGEND)
    );
    let mut last: Option<&Group> = None;
    for (metric, group, stem, svg) in &figs.heatmaps {
        if last != Some(group) {
            if last.is_some() {
                s.push_str("</div>\n");
            }
            let _ = writeln!(s, "<h3>{}</h3><div class=\"maps\">", esc(&group.describe()));
            last = Some(group);
        }
        let _ = writeln!(
            s,
            "<figure id=\"{}\">{svg}<figcaption class=\"muted\">{} · <a href=\"{}.png\">PNG</a> · <a href=\"{}.svg\">SVG</a></figcaption></figure>",
            esc(stem),
            esc(metric.title()),
            esc(stem),
            esc(stem)
        );
    }
    if last.is_some() {
        s.push_str("</div>\n");
    }
    if !figs.timeseries.is_empty() {
        s.push_str("<h2>RSS over time</h2>\n");
        for (title, stem, svg) in &figs.timeseries {
            let _ = writeln!(
                s,
                "<figure>{svg}<figcaption class=\"muted\">{} · <a href=\"{}.png\">PNG</a></figcaption></figure>",
                esc(title),
                esc(stem)
            );
        }
    }

    cells_table(&mut s, summaries);
    plan_section(&mut s, pf);
    s.push_str("<h2>Files</h2><ul><li><a href=\"cells.csv\">cells.csv</a>: every point's statistics</li>\
        <li><a href=\"results.jsonl\">results.jsonl</a>: every run, with its snapshots and time series</li>\
        <li><a href=\"summary.md\">summary.md</a>: this report in short</li><li><a href=\"plan.json\">plan.json</a>: plan and provenance</li></ul>\n");
    s.push_str("</body></html>\n");
    s
}

fn cells_table(s: &mut String, summaries: &[CellSummary]) {
    s.push_str("<h2>Every point</h2><p class=\"muted\">Medians over repetitions; deltas in MiB; q is the Benjamini-Hochberg-adjusted Mann-Whitney p-value of nogil vs GIL deltas.</p><div class=\"wrap\"><table>\n");
    s.push_str(&head(&[
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
        "amplification",
        "95% CI",
        "U",
        "q",
        "risk",
        "failed runs",
    ]));
    for c in summaries {
        let p = &c.point;
        let d = |b: &Option<crate::aggregate::BuildStats>| {
            b.as_ref().map_or("-".into(), |b| mib(b.delta_kib.median))
        };
        let heaps = |b: &Option<crate::aggregate::BuildStats>| {
            b.as_ref()
                .map_or("-".into(), |b| format!("{}", b.arena_heaps.median))
        };
        let risk = c
            .risk
            .map_or("-".into(), |r| format!("<span class=\"{r}\">{r}</span>"));
        let line = row_l(
            &[
                esc(&p.profile),
                esc(&p.binding),
                esc(&p.pattern),
                format!("{}x{}", p.python_threads, p.rust_threads),
                d(&c.gil),
                d(&c.nogil),
                c.nogil
                    .as_ref()
                    .map_or("-".into(), |b| mib(b.delta_mad_kib)),
                c.nogil
                    .as_ref()
                    .and_then(|b| b.delta_cv)
                    .map_or("-".into(), |v| format!("{v:.2}")),
                format!("{} / {}", heaps(&c.gil), heaps(&c.nogil)),
                c.nogil
                    .as_ref()
                    .map_or("-".into(), |b| mib(b.reclaimable_kib.median)),
                c.amplification.map_or("-".into(), |a| {
                    format!("{}{}", times(a), stars(c.p_adjusted))
                }),
                c.amplification_ci.map_or("-".into(), |ci| {
                    format!("{}–{}", times(ci.lo), times(ci.hi))
                }),
                c.mann_whitney_u.map_or("-".into(), |u| format!("{u}")),
                c.p_adjusted.map_or("-".into(), |q| format!("{q:.3}")),
                risk,
                format!("{}", c.gil_failed + c.nogil_failed),
            ],
            3,
        );
        s.push_str(&line);
    }
    s.push_str("</table></div>\n");
}

fn plan_section(s: &mut String, pf: &PlanFile) {
    let plan = &pf.plan;
    let prov = &pf.provenance;
    let h = &prov.host;
    s.push_str("<h2>Plan</h2><table>\n");
    let grid = |v: &[u32]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kv: Vec<(&str, String)> = vec![
        ("Python threads", grid(&plan.python_threads)),
        ("Rust threads per call", grid(&plan.rust_threads)),
        ("iterations per Python thread", plan.iterations.to_string()),
        ("sleep between calls", format!("{} ms", plan.sleep_ms)),
        ("repetitions per build", plan.reps.to_string()),
        ("bindings", plan.bindings.join(", ")),
        (
            "patterns",
            plan.patterns
                .iter()
                .map(|p| {
                    if p.params.is_empty() {
                        p.name.clone()
                    } else {
                        format!("{}:{}", p.name, p.params)
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("GIL delta floor", format!("{} MiB", plan.floor_mib)),
        ("seed", plan.seed.to_string()),
    ];
    for (k, v) in kv {
        s.push_str(&row(&[esc(k), esc(&v)]).replace("<td>", "<td class=\"l\">"));
    }
    s.push_str("</table>\n<h3>Profiles</h3><table>\n");
    s.push_str(&head(&[
        "profile",
        "GLIBC_TUNABLES",
        "allocator",
        "other variables",
        "description",
    ]));
    for p in &plan.profiles {
        let env: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let line = row(&[
            esc(&p.name),
            format!("<code>{}</code>", esc(&p.glibc_tunables())),
            esc(&p.allocator.label()),
            esc(&env.join(" ")),
            esc(&p.description),
        ]);
        s.push_str(&line.replace("<td>", "<td class=\"l\">"));
    }
    s.push_str("</table>\n<h2>Provenance</h2><table>\n");
    let interp = |i: &crate::python::inspect::Interpreter| {
        format!(
            "{} ({}) configure: {}",
            i.executable.display(),
            i.label(),
            i.config_args
        )
    };
    let mut kv: Vec<(String, String)> = vec![
        (
            "tool".into(),
            format!("{} {}", prov.tool, prov.tool_version),
        ),
        ("glibc".into(), h.glibc_version.clone()),
        ("kernel".into(), h.kernel.clone()),
        (
            "CPU".into(),
            format!(
                "{} ({} online; affinity {:?})",
                h.cpu_model, h.online_cpus, h.affinity
            ),
        ),
        (
            "THP".into(),
            format!("enabled {}, defrag {}", h.thp_enabled, h.thp_defrag),
        ),
        (
            "cgroup memory.max".into(),
            h.cgroup_memory_max.clone().unwrap_or_else(|| "-".into()),
        ),
        ("hostname".into(), h.hostname.clone()),
        ("command line".into(), prov.command_line.join(" ")),
    ];
    for i in &prov.interpreters {
        kv.push((format!("{} interpreter", i.build()), interp(i)));
    }
    for (k, v) in kv {
        s.push_str(&row(&[esc(&k), esc(&v)]).replace("<td>", "<td class=\"l\">"));
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<details><summary>ld.so --list-tunables</summary><pre>{}</pre></details>",
        esc(&h.ld_so_list_tunables)
    );
    let json = serde_json::to_string_pretty(pf).unwrap_or_default();
    let _ = writeln!(
        s,
        "<details><summary>plan.json</summary><pre>{}</pre></details>",
        esc(&json)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc("<img src=x onerror=\"alert('1')\">&"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }
}
