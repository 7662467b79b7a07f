//! A report folder's files from its `plan.json` and `results.jsonl`: summarise the
//! runs, rank the profiles, and have each format write its file. Used at the end of
//! every `run` (and resumed run) and by `arena-sweep report DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::heatmap::{self, Context};
use super::{csv, html, markdown, pareto, timeseries};
use crate::aggregate::{self, CellSummary};
use crate::error::usage;
use crate::plan_file::{load_plan_file, PlanFile};
use crate::results::{self, RunRecord};
use crate::risk::{self, Advice};

/// Choices the user makes about a report.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Points (Python threads, Rust threads) to plot over time; empty: the one with
    /// the highest amplification.
    pub timeseries_cells: Vec<(u32, u32)>,
    /// When a profile's difference from glibc-default counts.
    pub rule: risk::AdviceRule,
    /// Which figures risk levels, gates and advice judge (`--judge`).
    pub judge: crate::model::Judge,
}

/// What was written, for the caller's summary and gates.
pub struct Written {
    pub summaries: Vec<CellSummary>,
    pub advice: Advice,
    /// File names written, in order.
    pub files: Vec<String>,
}

/// A report folder read back, with the line numbers of unreadable result lines.
pub struct Loaded {
    pub plan: PlanFile,
    pub records: Vec<RunRecord>,
    pub skipped: Vec<(usize, String)>,
}

/// Read `dir`'s plan.json and results.jsonl. Every problem is a usage error naming
/// the path: a missing folder, a folder that is not a report, an unreadable file.
pub fn load(dir: &Path) -> Result<Loaded> {
    if !dir.is_dir() {
        return Err(usage(format!("{}: no such report folder", dir.display())));
    }
    let plan = load_plan_file(dir).map_err(|e| usage(format!("{e:#}")))?;
    let path = dir.join("results.jsonl");
    if !path.is_file() {
        return Err(usage(format!(
            "{}: no results.jsonl; is this a report folder whose sweep never ran?",
            dir.display()
        )));
    }
    let loaded = results::load(&path).map_err(|e| usage(format!("{e:#}")))?;
    if loaded.records.is_empty() && !loaded.skipped.is_empty() {
        let (line, why) = &loaded.skipped[0];
        return Err(usage(format!(
            "{}: no readable run record (line {line}: {why})",
            path.display()
        )));
    }
    Ok(Loaded {
        plan,
        records: loaded.records,
        skipped: loaded.skipped,
    })
}

/// The heatmaps' context from a plan file.
pub fn context(pf: &PlanFile) -> Context {
    Context {
        host: pf.provenance.host.short(),
        python: pf
            .provenance
            .interpreters
            .first()
            .map_or("CPython".into(), |i| format!("CPython {}", i.version)),
        reps: pf.plan.reps,
        python_threads: pf.plan.python_threads.clone(),
        rust_threads: pf.plan.rust_threads.clone(),
        thresholds: pf.plan.thresholds,
    }
}

fn write_file(path: PathBuf, text: &str) -> Result<()> {
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Write `summary.json`, the verdict for machines.
fn write_summary_json(
    out: &Path,
    pf: &PlanFile,
    host: &str,
    opts: &Options,
    summaries: &[CellSummary],
    advice: &Advice,
) -> Result<()> {
    let plan = &pf.plan;
    let summary = super::summary_json::build(
        &super::summary_json::Context {
            plan: &plan.name,
            host,
            complete: pf.complete,
            thresholds: &plan.thresholds,
            floor_mib: plan.floor_mib,
            judge: opts.judge,
        },
        summaries,
        advice,
    );
    write_file(
        out.join("summary.json"),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )
}

/// Write every report file into `out`.
pub fn write(out: &Path, pf: &PlanFile, records: &[RunRecord], opts: &Options) -> Result<Written> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let plan = &pf.plan;
    let summaries =
        aggregate::summarize_judged(records, plan.floor_kib(), &plan.thresholds, opts.judge);
    let ctx = context(pf);
    let mut files = Vec::new();

    let heatmaps = heatmap::write_all(out, &summaries, &ctx)?;
    let points = timeseries::points(&summaries, &opts.timeseries_cells);
    let series = timeseries::write_all(out, &points, records, &ctx.host)?;
    let by_round = super::rounds_figure::write_all(out, &points, records, &ctx.host)?;
    let ranks = risk::rank_profiles(&summaries);
    let advice = risk::recommend(&summaries, &ranks, &plan.profiles, &opts.rule);
    let fig = pareto::Pareto {
        ranks: &ranks,
        recommended: advice.recommendation().map(|r| r.profile.as_str()),
        host: format!("host: {}", ctx.host),
    };
    let pareto_svg = pareto::write(out, &fig)?;
    for stem in heatmaps
        .iter()
        .map(|h| &h.stem)
        .chain(series.iter().filter(|t| t.note.is_none()).map(|t| &t.stem))
        .chain(by_round.iter().map(|(_, stem, _)| stem))
    {
        files.push(format!("{stem}.svg"));
        files.push(format!("{stem}.png"));
    }
    if pareto_svg.is_some() {
        files.extend(["pareto.svg".to_string(), "pareto.png".to_string()]);
    }

    write_file(out.join("cells.csv"), &csv::render(&summaries)?)?;
    write_summary_json(out, pf, &ctx.host, opts, &summaries, &advice)?;
    let packages = plan
        .workload
        .as_ref()
        .and_then(crate::workload::packages_summary);
    let header = markdown::Header {
        plan_name: &plan.name,
        host: &ctx.host,
        python: &ctx.python,
        reps: plan.reps,
        complete: pf.complete,
        failed_runs: records.iter().filter(|r| !r.ok()).count(),
        thresholds: &plan.thresholds,
        packages: packages.as_deref(),
    };
    write_file(
        out.join("summary.md"),
        &(markdown::render(&header, &summaries, &ranks, &advice)
            + &super::pools::markdown(records, markdown::esc)
            + &super::failures::markdown(records, markdown::esc)),
    )?;
    let figs = html::Figures {
        heatmaps: heatmaps
            .iter()
            .map(|h| (h.title.as_str(), &h.group, h.stem.as_str(), h.svg.as_str()))
            .collect(),
        timeseries: series
            .iter()
            .map(|t| {
                (
                    // No figure: the note saying why stands in its place.
                    t.note.clone().unwrap_or_else(|| {
                        format!(
                            "{}x{} · {}",
                            t.point.python_threads,
                            t.point.rust_threads,
                            heatmap::Group::of(&t.point).describe()
                        )
                    }),
                    t.stem.as_str(),
                    t.svg.as_str(),
                )
            })
            .collect(),
        rounds: by_round
            .iter()
            .map(|(title, stem, svg)| (title.clone(), stem.as_str(), svg.as_str()))
            .collect(),
        pareto: pareto_svg.as_deref(),
    };
    write_file(
        out.join("index.html"),
        &html::render(pf, &summaries, &ranks, &advice, &figs),
    )?;
    files.extend(["cells.csv", "summary.json", "summary.md", "index.html"].map(String::from));
    Ok(Written {
        summaries,
        advice,
        files,
    })
}
