//! `cells.csv`: one row per point (profile, binding, pattern, Python threads, Rust
//! threads) with both builds' statistics and the comparison. The columns are listed
//! in [`header`] and documented in docs/output.md; numbers are Rust's shortest exact
//! decimal form, an empty field means "not available" (no successful run, or too few
//! runs for the statistic). The csv crate writes the file: RFC 4180 quoting, only where
//! a field needs it, and `\n` line ends.

use anyhow::{Context, Result};

use crate::aggregate::{BuildStats, CellSummary};

/// A column's name and how to read it from a build's statistics.
type Column = (&'static str, fn(&BuildStats) -> Option<f64>);

/// The per-build columns, each prefixed with `gil_` or `nogil_`.
const BUILD_COLUMNS: &[Column] = &[
    ("baseline_rss_kib", |b| Some(b.baseline_rss_kib.median)),
    ("peak_rss_kib", |b| Some(b.peak_rss_kib.median)),
    ("final_rss_kib", |b| Some(b.final_rss_kib.median)),
    ("delta_kib", |b| Some(b.delta_kib.median)),
    ("delta_min_kib", |b| Some(b.delta_kib.min)),
    ("delta_max_kib", |b| Some(b.delta_kib.max)),
    ("delta_ci_lo_kib", |b| b.delta_median_ci_kib.map(|c| c.lo)),
    ("delta_ci_hi_kib", |b| b.delta_median_ci_kib.map(|c| c.hi)),
    ("delta_mad_kib", |b| Some(b.delta_mad_kib)),
    ("delta_iqr_kib", |b| Some(b.delta_iqr_kib)),
    ("delta_std_kib", |b| Some(b.delta_std_kib)),
    ("delta_cv", |b| b.delta_cv),
    ("delta_skewness", |b| b.delta_skewness),
    ("delta_kurtosis", |b| b.delta_kurtosis),
    ("after_trim_rss_kib", |b| Some(b.after_trim_rss_kib.median)),
    ("reclaimable_kib", |b| Some(b.reclaimable_kib.median)),
    ("arena_heaps", |b| Some(b.arena_heaps.median)),
    ("heap_rss_kib", |b| Some(b.heap_rss_kib.median)),
    ("arenas_reported", |b| b.arenas_reported.map(|s| s.median)),
    ("arenas_read", |b| b.arenas_read.map(|s| s.median)),
    ("arena_free_kib", |b| b.arena_free_kib.map(|s| s.median)),
    ("arena_free_delta_kib", |b| b.arena_free_delta_kib),
    ("trimmable_kib", |b| b.trimmable_kib.map(|s| s.median)),
    ("peak_threads", |b| Some(b.peak_threads.median)),
    ("wall_s", |b| Some(b.wall_s.median)),
    ("calls_per_s", |b| Some(b.calls_per_s.median)),
];

/// The header row's names, in order.
pub fn header() -> Vec<String> {
    let mut h: Vec<String> = [
        "profile",
        "binding",
        "pattern",
        "python_threads",
        "rust_threads",
        "gil_runs_ok",
        "gil_runs_failed",
        "nogil_runs_ok",
        "nogil_runs_failed",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for build in ["gil", "nogil"] {
        h.extend(BUILD_COLUMNS.iter().map(|(n, _)| format!("{build}_{n}")));
    }
    h.extend(
        [
            "floor_kib",
            "amplification",
            "amplification_ci_lo",
            "amplification_ci_hi",
            "mann_whitney_u",
            "p_value",
            "p_adjusted",
            "significance",
            "risk",
            "extra_kib",
            "extra_ci_lo_kib",
            "extra_ci_hi_kib",
            "gil_mechanism",
            "nogil_mechanism",
            "unstable",
            "reps_needed",
            "judged",
            "gross_risk",
            "gil_control_delta_kib",
            "nogil_control_delta_kib",
            "gil_net_delta_kib",
            "gil_net_delta_ci_lo_kib",
            "gil_net_delta_ci_hi_kib",
            "nogil_net_delta_kib",
            "nogil_net_delta_ci_lo_kib",
            "nogil_net_delta_ci_hi_kib",
            "native_amplification",
            "native_amplification_ci_lo",
            "native_amplification_ci_hi",
            "native_extra_kib",
            "native_extra_ci_lo_kib",
            "native_extra_ci_hi_kib",
            "interpreter_cost_kib",
            "interpreter_cost_ci_lo_kib",
            "interpreter_cost_ci_hi_kib",
            "rounds",
            "keeps_growing",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for build in ["gil", "nogil"] {
        h.extend(ROUND_COLUMNS.iter().map(|n| format!("{build}_{n}")));
    }
    h
}

/// Per build, with `--rounds` 3 or more (empty otherwise): the delta after round 1,
/// the settled level (mean over the last half of the rounds), the growth per round
/// over the last half with its 95% CI, the verdict, and the growth net of the
/// control arm's.
const ROUND_COLUMNS: [&str; 8] = [
    "first_round_delta_kib",
    "settled_kib",
    "growth_kib_per_round",
    "growth_ci_lo_kib",
    "growth_ci_hi_kib",
    "growth_verdict",
    "net_growth_kib_per_round",
    "net_growth_verdict",
];

fn round_fields(c: &CellSummary, build: crate::model::Build) -> [String; 8] {
    let r = c.stats(build).and_then(|b| b.rounds.as_ref());
    let net = c.net(build).and_then(|n| n.rounds.as_ref());
    [
        num(r.map(|r| r.first_kib)),
        num(r.map(|r| r.level_kib)),
        num(r.map(|r| r.growth_kib)),
        num(r.and_then(|r| r.growth_ci).map(|ci| ci.lo)),
        num(r.and_then(|r| r.growth_ci).map(|ci| ci.hi)),
        r.map_or(String::new(), |r| r.verdict.as_str().to_string()),
        num(net.map(|n| n.growth_kib)),
        net.map_or(String::new(), |n| n.verdict.as_str().to_string()),
    ]
}

/// A header and its rows as CSV text: a field holding a comma, quote or line break is
/// quoted, and every row must have as many fields as the header.
pub fn table<H, R>(header: H, rows: impl IntoIterator<Item = R>) -> Result<String>
where
    H: IntoIterator,
    H::Item: AsRef<[u8]>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.write_record(row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).context("a CSV field is not UTF-8")
}

/// A number in Rust's shortest exact decimal form; "" when not available.
pub fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v}"))
}

/// The diagnosis's main mechanism of a build (net of its control arm where the
/// point judges native figures), as its snake_case name ("" when the delta is too
/// small to diagnose or the build has no run).
fn mechanism(c: &CellSummary, build: crate::model::Build) -> String {
    crate::risk::diagnosis::diagnose_point(c, build)
        .and_then(|d| {
            let m = d.main()?.mechanism;
            serde_json::to_value(m).ok()?.as_str().map(str::to_string)
        })
        .unwrap_or_default()
}

/// The whole file.
pub fn render(summaries: &[CellSummary]) -> Result<String> {
    table(header(), summaries.iter().map(row))
}

/// One point's fields, in [`header`]'s order.
fn row(c: &CellSummary) -> Vec<String> {
    let p = &c.point;
    let ok = |b: &Option<BuildStats>| b.as_ref().map_or(0, |b| b.runs_ok);
    let mut row = vec![
        p.profile.clone(),
        p.binding.to_string(),
        p.pattern.clone(),
        p.python_threads.to_string(),
        p.rust_threads.to_string(),
        ok(&c.gil).to_string(),
        c.gil_failed.to_string(),
        ok(&c.nogil).to_string(),
        c.nogil_failed.to_string(),
    ];
    for b in [&c.gil, &c.nogil] {
        row.extend(
            BUILD_COLUMNS
                .iter()
                .map(|(_, f)| num(b.as_ref().and_then(f))),
        );
    }
    row.extend([
        num(Some(c.floor_kib)),
        num(c.amplification),
        num(c.amplification_ci.map(|ci| ci.lo)),
        num(c.amplification_ci.map(|ci| ci.hi)),
        num(c.mann_whitney_u),
        num(c.p_value),
        num(c.p_adjusted),
        super::figure::stars(c.p_adjusted).to_string(),
        c.risk.map_or(String::new(), |r| r.to_string()),
        num(c.extra_kib),
        num(c.extra_ci.map(|ci| ci.lo)),
        num(c.extra_ci.map(|ci| ci.hi)),
        mechanism(c, crate::model::Build::Gil),
        mechanism(c, crate::model::Build::Nogil),
        c.unstable
            .as_ref()
            .map_or(String::new(), |u| u.reasons.join("; ")),
        c.unstable
            .as_ref()
            .map_or(String::new(), |u| u.reps_needed.to_string()),
        c.judged.as_str().to_string(),
        c.gross_risk.map_or(String::new(), |r| r.to_string()),
    ]);
    let n = c.native.as_ref();
    let net = |b: Option<&crate::aggregate::NetBuild>| {
        [
            num(b.map(|b| b.net_delta_kib)),
            num(b.and_then(|b| b.net_delta_ci).map(|ci| ci.lo)),
            num(b.and_then(|b| b.net_delta_ci).map(|ci| ci.hi)),
        ]
    };
    let with_ci = |v: Option<f64>, ci: Option<crate::stats::Ci>| {
        [num(v), num(ci.map(|ci| ci.lo)), num(ci.map(|ci| ci.hi))]
    };
    row.extend([
        num(c
            .control(crate::model::Build::Gil)
            .map(|b| b.delta_kib.median)),
        num(c
            .control(crate::model::Build::Nogil)
            .map(|b| b.delta_kib.median)),
    ]);
    row.extend(net(n.and_then(|n| n.gil.as_ref())));
    row.extend(net(n.and_then(|n| n.nogil.as_ref())));
    row.extend(with_ci(
        n.and_then(|n| n.amplification),
        n.and_then(|n| n.amplification_ci),
    ));
    row.extend(with_ci(
        n.and_then(|n| n.extra_kib),
        n.and_then(|n| n.extra_ci),
    ));
    row.extend(with_ci(
        n.and_then(|n| n.interpreter_cost_kib),
        n.and_then(|n| n.interpreter_cost_ci),
    ));
    let rounds = [&c.gil, &c.nogil]
        .iter()
        .find_map(|b| b.as_ref()?.rounds.as_ref().map(|r| r.rounds));
    row.push(rounds.map_or(String::new(), |r| r.to_string()));
    row.push(if rounds.is_some() {
        c.keeps_growing().to_string()
    } else {
        String::new()
    });
    row.extend(round_fields(c, crate::model::Build::Gil));
    row.extend(round_fields(c, crate::model::Build::Nogil));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let one = |field: &str| table(["h"], [[field]]).unwrap();
        assert_eq!(one("glibc-default"), "h\nglibc-default\n");
        assert_eq!(one("a,b"), "h\n\"a,b\"\n");
        assert_eq!(one("say \"hi\""), "h\n\"say \"\"hi\"\"\"\n");
        assert_eq!(one("two\nlines"), "h\n\"two\nlines\"\n");
        assert_eq!(one("cr\r"), "h\n\"cr\r\"\n");
        // An empty field stays empty beside others ("not available").
        assert_eq!(table(["a", "b"], [["", "1"]]).unwrap(), "a,b\n,1\n");
        // A row of another length is a bug, not a file.
        assert!(table(["a", "b"], [["1"]]).is_err());
        assert_eq!(num(Some(14332.0)), "14332");
        assert_eq!(num(Some(0.25)), "0.25");
        assert_eq!(
            (num(None), num(Some(f64::NAN))),
            (String::new(), String::new())
        );
    }

    #[test]
    fn every_row_has_every_column() {
        let n = header().len();
        assert_eq!(
            n,
            9 + 2 * BUILD_COLUMNS.len() + 16 + 19 + 2 + 2 * ROUND_COLUMNS.len()
        );
        let s = crate::risk::tests_support::sweep();
        let text = render(&s).unwrap();
        for line in text.lines() {
            assert_eq!(line.split(',').count(), n, "{line}");
        }
        assert_eq!(text.lines().count(), s.len() + 1);
    }
}
