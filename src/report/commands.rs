//! The `report` and `compare` commands, and the report step that ends every `run`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::files::{self, Options, Written};
use super::gate::{self, Gates, EXIT_GATE};
use crate::cli::{CompareArgs, ReportArgs, ReportOptions};
use crate::error::{usage, Exit};
use crate::plan_file::PlanFile;
use crate::results::RunRecord;

impl ReportOptions {
    pub fn options(&self) -> Options {
        Options {
            timeseries_cells: self.timeseries_cells.clone(),
            rule: self.advice.rule(),
            judge: self.judge,
        }
    }
}

/// Print the advice and the gates' verdict; returns `Exit::Gate` if one tripped.
fn finish(w: &Written, gates: &Gates, out: &mut dyn Write) -> Result<Exit> {
    write!(out, "{}", advice_text(&w.advice, &w.summaries))?;
    check_gates(&w.summaries, gates, out)
}

/// The advice as the terminal shows it: the headline, why, each profile's evidence,
/// what would give more power, and the rule.
pub fn advice_text(
    advice: &crate::risk::Advice,
    summaries: &[crate::aggregate::CellSummary],
) -> String {
    use crate::risk::Verdict;
    let mut s = format!("{}\n", advice.headline());
    match &advice.verdict {
        Verdict::Recommend(r) => s.push_str(&format!("  ({})\n", r.reason)),
        Verdict::KeepDefault { why, hint } => {
            s.push_str(&format!("  {why}\n"));
            for l in advice.evidence_lines(&crate::risk::rank_profiles(summaries)) {
                s.push_str(&format!("    {l}\n"));
            }
            s.push_str(&format!("  for more power: {hint}\n"));
        }
        Verdict::NotJudged(_) => return s,
    }
    s.push_str(&format!("  rule: {}\n", advice.rule.describe()));
    s
}

fn check_gates(
    summaries: &[crate::aggregate::CellSummary],
    gates: &Gates,
    out: &mut dyn Write,
) -> Result<Exit> {
    if !gates.any() {
        return Ok(Exit::of_gate(false));
    }
    let v = gate::violations(&super::summary_json::points(summaries), gates);
    if v.is_empty() {
        writeln!(out, "gates passed: no point reached them")?;
        return Ok(Exit::of_gate(false));
    }
    writeln!(
        out,
        "gate tripped at {} point(s) (exit code {EXIT_GATE}):",
        v.len()
    )?;
    for line in v {
        writeln!(out, "  {line}")?;
    }
    Ok(Exit::of_gate(true))
}

/// The report step of a run: write the files into the run's folder, then the gates.
pub fn after_run(
    dir: &Path,
    pf: &PlanFile,
    records: &[RunRecord],
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> Result<Exit> {
    let w = files::write(dir, pf, records, &opts.options())?;
    writeln!(out, "Report: {}", dir.join("index.html").display())?;
    finish(&w, &Gates::from_args(&opts.gates), out)
}

/// `arena-sweep report DIR`.
pub fn report(args: &ReportArgs, out: &mut dyn Write) -> Result<Exit> {
    let loaded = files::load(&args.dir)?;
    super::timeseries::check_cells(
        &args.report.timeseries_cells,
        &loaded.plan.plan.python_threads,
        &loaded.plan.plan.rust_threads,
    )
    .map_err(usage)?;
    for (line, why) in loaded.skipped.iter().take(3) {
        writeln!(
            out,
            "note: {} line {line} is unreadable and left out: {why}",
            args.dir.join("results.jsonl").display()
        )?;
    }
    let dest = args.out.clone().unwrap_or_else(|| args.dir.clone());
    if dest != args.dir {
        // The page links plan.json and results.jsonl: keep the folder self-contained.
        std::fs::create_dir_all(&dest).map_err(|e| {
            usage(format!(
                "--out {}: cannot create the folder: {e}",
                dest.display()
            ))
        })?;
        for f in ["plan.json", "results.jsonl"] {
            std::fs::copy(args.dir.join(f), dest.join(f))
                .with_context(|| format!("cannot copy {f} into {}", dest.display()))?;
        }
    }
    let w = files::write(&dest, &loaded.plan, &loaded.records, &args.report.options())?;
    writeln!(
        out,
        "host: {}\n\n{}",
        loaded.plan.provenance.host.short(),
        super::terminal::sweep_summary(&w.summaries, &loaded.plan.plan)
    )?;
    writeln!(
        out,
        "Wrote {} file(s) into {}; open {}",
        w.files.len(),
        dest.display(),
        dest.join("index.html").display()
    )?;
    finish(&w, &Gates::from_args(&args.report.gates), out)
}

/// `arena-sweep compare A B`.
pub fn compare(args: &CompareArgs, out: &mut dyn Write) -> Result<Exit> {
    let a = files::load(&args.a)?;
    let b = files::load(&args.b)?;
    let summarize = |f: &files::Loaded| {
        crate::aggregate::summarize_judged(
            &f.records,
            f.plan.plan.floor_kib(),
            &f.plan.plan.thresholds,
            args.judge,
        )
    };
    let (sa, sb) = (summarize(&a), summarize(&b));
    let pairs = super::compare::pair(&sa, &sb, &args.advice.rule()).map_err(|e| {
        usage(format!(
            "cannot compare {} with {}: {e}",
            args.a.display(),
            args.b.display()
        ))
    })?;
    let (ha, hb) = (
        a.plan.provenance.host.short(),
        b.plan.provenance.host.short(),
    );
    writeln!(
        out,
        "A: {} ({ha})\nB: {} ({hb})",
        args.a.display(),
        args.b.display()
    )?;
    if ha != hb {
        writeln!(out, "note: the sweeps ran on different hosts; differences may come from the host, not the change")?;
    }
    writeln!(out, "\n{}", super::compare::table(&pairs))?;
    std::fs::create_dir_all(&args.out).map_err(|e| {
        usage(format!(
            "--out {}: cannot create the folder: {e}",
            args.out.display()
        ))
    })?;
    let mut files = super::compare::write_heatmaps(&args.out, &pairs, &hb)?;
    let csv = args.out.join("compare.csv");
    std::fs::write(&csv, super::compare::csv(&pairs)?)
        .with_context(|| format!("cannot write {}", csv.display()))?;
    files.push("compare.csv".into());
    writeln!(
        out,
        "Wrote {} file(s) into {}",
        files.len(),
        args.out.display()
    )?;
    check_gates(&sb, &Gates::from_args(&args.gates), out)
}
