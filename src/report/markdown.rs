//! `summary.md`: the report in short, for a pull-request comment: the verdict (risk
//! counts), the points with the highest amplification, the profiles ranked, and the
//! recommendation with its snippets. No timestamps: the same results give the same
//! file.

use std::fmt::Write as _;

use super::figure::{stars, times, STARS_LEGEND};
use crate::aggregate::CellSummary;
use crate::risk::{Advice, ProfileRank, RiskLevel, Thresholds, Verdict};
use crate::units::mib_short;

/// What the summary needs besides the cells.
pub struct Header<'a> {
    pub plan_name: &'a str,
    /// "2 CPUs, glibc 2.36, THP madvise"
    pub host: &'a str,
    /// "CPython 3.13.5"
    pub python: &'a str,
    pub reps: u32,
    pub complete: bool,
    pub failed_runs: usize,
    pub thresholds: &'a Thresholds,
    /// A workload's installed packages (`crate::workload::packages_summary`).
    pub packages: Option<&'a str>,
}

/// Escape what Markdown (and GitHub's HTML) would interpret in a table cell.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Counts of HIGH, MEDIUM and LOW points.
pub fn risk_counts(summaries: &[CellSummary]) -> (usize, usize, usize) {
    let n = |l: RiskLevel| summaries.iter().filter(|c| c.risk == Some(l)).count();
    (n(RiskLevel::High), n(RiskLevel::Medium), n(RiskLevel::Low))
}

/// Relative calls per second: "0.95x".
pub fn throughput(t: Option<f64>) -> String {
    t.map_or("n/a".to_string(), |t| format!("{t:.2}x"))
}

fn mib_opt(kib: Option<f64>) -> String {
    kib.map_or("-".to_string(), |k| format!("{} MiB", mib_short(k)))
}

/// How many rows of the highest-amplification table.
const TOP: usize = 5;

pub fn render(
    h: &Header,
    summaries: &[CellSummary],
    ranks: &[ProfileRank],
    advice: &Advice,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# arena-sweep: {}\n", esc(h.plan_name));
    let _ = writeln!(
        s,
        "Host: {} · {} (GIL and free-threaded) · {} point(s) · {} rep(s) per build · {} failed run(s){}\n",
        esc(h.host),
        esc(h.python),
        summaries.len(),
        h.reps,
        h.failed_runs,
        if h.complete { "" } else { " · **plan incomplete**" }
    );
    if let Some(p) = h.packages {
        let _ = writeln!(s, "Workload packages: {}\n", esc(p));
    }
    let (high, medium, low) = risk_counts(summaries);
    let _ = writeln!(
        s,
        "**Risk: {high} HIGH, {medium} MEDIUM, {low} LOW** ({})\n",
        esc(&h.thresholds.describe())
    );
    if let Some(line) = super::rounds_text::growing_line(summaries) {
        let _ = writeln!(s, "**{}**\n", esc(&line));
    }
    s.push_str(&highest_amplification(summaries, h.reps));
    s.push_str(&profiles_ranked(ranks));
    s.push_str(&super::mechanisms::markdown(summaries, esc));
    s.push_str(&super::rounds_text::markdown(summaries, esc));
    s.push_str(&advice_section(advice, ranks));
    let _ = writeln!(
        s,
        "Full report: `index.html`; every point's statistics: `cells.csv`; raw runs: `results.jsonl`."
    );
    s
}

/// The [`TOP`] points by the amplification their risk judged (native where there is
/// a control arm), with the talk's gross ratio beside it and the significance legend.
fn highest_amplification(summaries: &[CellSummary], reps: u32) -> String {
    let mut s = String::new();
    let judged = |c: &CellSummary| c.judged_amplification().map_or(0.0, |(a, _)| a);
    let mut top: Vec<&CellSummary> = summaries
        .iter()
        .filter(|c| c.judged_amplification().is_some())
        .collect();
    if top.is_empty() {
        return s;
    }
    top.sort_by(|a, b| judged(b).total_cmp(&judged(a)).then(a.point.cmp(&b.point)));
    let native = summaries.iter().any(|c| c.native.is_some());
    let _ = writeln!(s, "## Highest amplification\n");
    if native {
        let _ = writeln!(
            s,
            "Native figures are net of the control arm (the same Python threads calling nothing native): net delta = delta - control delta, native amplification = net nogil / max(net GIL, floor). The talk's gross ratio is shown beside it; the difference is mostly the free-threaded interpreter's own per-thread cost, which no glibc tunable acts on.\n"
        );
    } else {
        let _ = writeln!(s, "No control arm (`--no-control`, or a folder from before it existed): gross figures only.\n");
    }
    let _ = writeln!(
        s,
        "| cell (PxR) | profile | binding | pattern | GIL delta | nogil delta | control GIL / nogil | {} | 95% CI | talk's gross ratio | q | risk |",
        if native { "native amplification" } else { "amplification" }
    );
    let _ = writeln!(s, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|");
    for c in top.iter().take(TOP) {
        let p = &c.point;
        let d = |b: &Option<crate::aggregate::BuildStats>| {
            b.as_ref().map_or("-".into(), |b| {
                format!("{} MiB", mib_short(b.delta_kib.median))
            })
        };
        let control = |b| {
            c.control(b)
                .map_or("-".to_string(), |s| mib_short(s.delta_kib.median))
        };
        let (a, ci) = c.judged_amplification().unwrap_or((0.0, None));
        let _ = writeln!(
            s,
            "| {}x{} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} | {} |",
            p.python_threads,
            p.rust_threads,
            esc(&p.profile),
            esc(p.binding.as_str()),
            esc(&p.pattern),
            d(&c.gil),
            d(&c.nogil),
            if c.native.is_some() {
                format!(
                    "{} / {} MiB",
                    control(crate::model::Build::Gil),
                    control(crate::model::Build::Nogil)
                )
            } else {
                "-".into()
            },
            times(a),
            ci.map_or("-".into(), |ci| format!(
                "{}–{}",
                times(ci.lo),
                times(ci.hi)
            )),
            times(c.amplification.unwrap_or(0.0)),
            esc(stars(c.p_adjusted)),
            c.p_adjusted.map_or("-".into(), |q| format!("{q:.3}")),
            c.risk.map_or("-".into(), |r| r.to_string()),
        );
    }
    let _ = writeln!(
        s,
        "\n{} (q: Mann-Whitney of the gross deltas, nogil vs GIL.)\n",
        esc(STARS_LEGEND)
    );
    let p = super::heatmap::smallest_p(reps);
    if p >= 0.05 {
        let _ = writeln!(
            s,
            "With {reps} rep(s) per build no point can reach q < 0.05 (the smallest possible p is {p:.3}); use `--reps 5` or more.\n"
        );
    }
    s
}

/// The profiles by median free-threaded final RSS.
fn profiles_ranked(ranks: &[ProfileRank]) -> String {
    let mut s = String::new();
    if ranks.is_empty() {
        return s;
    }
    let _ = writeln!(s, "## Profiles, by median free-threaded final RSS\n");
    let _ = writeln!(
        s,
        "| # | profile | final RSS nogil | peak RSS nogil | final RSS GIL | peak RSS GIL | calls/s vs glibc-default (nogil) | Pareto |"
    );
    let _ = writeln!(s, "|--:|---|--:|--:|--:|--:|--:|:-:|");
    for r in ranks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.rank_final_nogil,
            esc(&r.profile),
            mib_opt(r.final_nogil_kib),
            mib_opt(r.peak_nogil_kib),
            mib_opt(r.final_gil_kib),
            mib_opt(r.peak_gil_kib),
            throughput(r.throughput_nogil),
            if r.pareto { "yes" } else { "" }
        );
    }
    let _ = writeln!(s);
    s
}

/// The recommendation with its snippets, or "keep the default" with the numbers.
fn advice_section(advice: &Advice, ranks: &[ProfileRank]) -> String {
    let mut s = String::new();
    let evidence = advice.evidence_lines(ranks);
    let list = |s: &mut String| {
        for l in &evidence {
            let _ = writeln!(s, "- {}", esc(l));
        }
        if !evidence.is_empty() {
            let _ = writeln!(s);
        }
    };
    match &advice.verdict {
        Verdict::Recommend(rec) => {
            let _ = writeln!(s, "## Recommendation\n");
            if rec.env.is_empty() {
                let _ = writeln!(
                    s,
                    "**{}**: no variables needed (it sets none)\n",
                    esc(&rec.profile)
                );
            } else {
                let line = rec.line().replace('`', "'");
                let _ = writeln!(s, "**{}**: `{line}`\n", esc(&rec.profile));
            }
            let _ = writeln!(s, "{}.\n", esc(&rec.reason));
            if rec.needs_jemalloc_build {
                let _ = writeln!(s, "This profile builds the extension with tikv-jemallocator as its global allocator; the variables alone do not reproduce it.\n");
            }
            if !rec.env.is_empty() {
                let _ = writeln!(
                    s,
                    "<details><summary>systemd, Dockerfile, Kubernetes</summary>\n"
                );
                for (lang, body) in [
                    ("ini", &rec.snippets.systemd),
                    ("dockerfile", &rec.snippets.dockerfile),
                    ("yaml", &rec.snippets.kubernetes),
                ] {
                    let _ = writeln!(s, "```{lang}\n{body}```\n");
                }
                let _ = writeln!(s, "</details>\n");
            }
            list(&mut s);
        }
        Verdict::KeepDefault { why, hint } => {
            let _ = writeln!(s, "## Recommendation: keep the default\n");
            let _ = writeln!(s, "**Keep glibc-default**: {}.\n", esc(why));
            list(&mut s);
            let _ = writeln!(s, "For more power: {}.\n", esc(hint));
        }
        Verdict::NotJudged(why) => {
            let _ = writeln!(s, "No recommendation: {}.\n", esc(why));
        }
    }
    if !matches!(advice.verdict, Verdict::NotJudged(_)) {
        let _ = writeln!(s, "Rule: {}.\n", esc(&advice.rule.describe()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_cannot_break_the_markdown() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("<script>"), "&lt;script&gt;");
        assert_eq!(esc("x_y*z`"), "x\\_y\\*z\\`");
        assert_eq!(esc("two\nlines"), "two lines");
    }
}
