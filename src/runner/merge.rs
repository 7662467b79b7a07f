//! `arena-sweep merge A B ... --out C`: join shard folders into one report folder.
//!
//! The plans must agree (the same plan, sharded differently); each run id may appear
//! in only one input. The output gets every record, in plan order, and a plan.json
//! that lists where each part came from and whether the plan is now complete.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::resume::plan_diff;
use super::scheduler::{load_plan_file, write_plan_file, MergedFrom, PlanFile};
use crate::error::{usage, Exit, SweepEnd};
use crate::results::{self, ResultsWriter, RunRecord};

/// The merged records by run id, each with the input folder it came from.
type ById<'a> = HashMap<String, (RunRecord, &'a Path)>;

/// What a merge produced.
#[derive(Debug)]
pub struct Merged {
    pub runs: usize,
    pub expected: usize,
    pub complete: bool,
    pub missing: Vec<String>,
}

/// `arena-sweep merge`: merge, and say how many runs the result holds. A plan still
/// incomplete after the merge is not a success.
pub fn command(inputs: &[PathBuf], merged: &Path, out: &mut dyn Write) -> Result<Exit> {
    let m = merge(inputs, merged)?;
    writeln!(
        out,
        "Merged {} of {} runs into {}",
        m.runs,
        m.expected,
        merged.display()
    )?;
    if !m.complete {
        writeln!(
            out,
            "The plan is incomplete: {} run(s) missing, e.g. {}",
            m.missing.len(),
            m.missing[0]
        )?;
    }
    writeln!(
        out,
        "Its report (heatmaps, summary.md, index.html, summary.json): arena-sweep report {}",
        merged.display()
    )?;
    Ok(Exit::of_sweep(SweepEnd {
        complete: m.complete,
        ..SweepEnd::default()
    }))
}

/// Join the folders `inputs` into `out` (see the module's header).
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<Merged> {
    if inputs.len() < 2 {
        return Err(usage("merge needs at least two report folders"));
    }
    let plans = load_agreeing_plans(inputs)?;
    let first = &plans[0];
    check_out_is_new(out)?;
    let (mut by_id, merged_from) = collect_records(inputs, &plans)?;

    let expected: Vec<String> = first
        .plan
        .runs()
        .iter()
        .map(|s| s.cell.run_id(s.rep))
        .collect();
    let unexpected: Vec<&String> = by_id.keys().filter(|id| !expected.contains(id)).collect();
    if let Some(id) = unexpected.first() {
        bail!("run {id} is not part of the plan; the inputs are inconsistent");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writer = ResultsWriter::open(&out.join("results.jsonl"))?;
    let mut missing = Vec::new();
    for id in &expected {
        match by_id.remove(id) {
            Some((r, _)) => writer.append(&r)?,
            None => missing.push(id.clone()),
        }
    }
    let complete = missing.is_empty();
    let file = PlanFile {
        format: crate::format::CURRENT,
        plan: first.plan.clone(),
        shard: None,
        provenance: first.provenance.clone(),
        runs: expected.clone(),
        complete,
        merged_from,
        harness: None,
        child_env: first.child_env.clone(),
        child_programs: first.child_programs.clone(),
    };
    write_plan_file(out, &file)?;
    Ok(Merged {
        runs: expected.len() - missing.len(),
        expected: expected.len(),
        complete,
        missing,
    })
}

/// The plan files of `inputs`, refused unless they all hold the first one's plan.
fn load_agreeing_plans(inputs: &[PathBuf]) -> Result<Vec<PlanFile>> {
    let plans: Vec<PlanFile> = inputs
        .iter()
        .map(|d| load_plan_file(d).map_err(|e| usage(format!("{e:#}"))))
        .collect::<Result<_>>()?;
    let first = &plans[0];
    for (dir, p) in inputs.iter().zip(&plans).skip(1) {
        let diff = plan_diff(&first.plan, &p.plan);
        if !diff.is_empty() {
            return Err(usage(format!(
                "{} and {} hold different plans, which cannot be merged:\n  {}",
                inputs[0].display(),
                dir.display(),
                diff.join("\n  ")
            )));
        }
    }
    Ok(plans)
}

/// Refuse an `--out` folder that exists and is not empty (or cannot be read).
fn check_out_is_new(out: &Path) -> Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(usage(format!(
            "--out {}: the folder exists and is not empty; merge into a new folder",
            out.display()
        )));
    }
    Ok(())
}

/// Every input's records by run id (with the folder each came from), and where each
/// part came from for plan.json; a run id in two inputs is an error.
fn collect_records<'a>(
    inputs: &'a [PathBuf],
    plans: &[PlanFile],
) -> Result<(ById<'a>, Vec<MergedFrom>)> {
    let mut by_id = ById::new();
    let mut merged_from = Vec::new();
    for (dir, p) in inputs.iter().zip(plans) {
        let loaded = results::load(&dir.join("results.jsonl"))?;
        if !loaded.skipped.is_empty() {
            eprintln!(
                "warning: {}: {} unreadable line(s) skipped",
                dir.display(),
                loaded.skipped.len()
            );
        }
        merged_from.push(MergedFrom {
            dir: dir.clone(),
            shard: p.shard,
            host: p.provenance.host.hostname.clone(),
            runs: loaded.records.len(),
        });
        for r in loaded.records {
            if let Some((_, other)) = by_id.get(&r.run_id) {
                bail!(
                    "run {} is recorded in both {} and {}; were the shards overlapping?",
                    r.run_id,
                    other.display(),
                    dir.display()
                );
            }
            by_id.insert(r.run_id.clone(), (r, dir.as_path()));
        }
    }
    Ok((by_id, merged_from))
}
