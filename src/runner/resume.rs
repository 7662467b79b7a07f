//! `--resume DIR`: what a resumed sweep must agree with, and what it skips.
//!
//! A resumed sweep uses the plan saved in `DIR/plan.json`. Flags that define a plan
//! may be repeated (they must then produce the same plan); a plan that changed is
//! refused with the list of what changed. The interpreters and the extension sources
//! must be the ones the saved runs used, or the results would mix two measurements.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::scheduler::PlanFile;
use crate::error::usage;
use crate::plan::Plan;
use crate::provenance::Provenance;
use crate::results;

/// Field-by-field differences between two plans, as "field: old -> new".
pub fn plan_diff(saved: &Plan, now: &Plan) -> Vec<String> {
    let (a, b) = (
        serde_json::to_value(saved).unwrap_or(Value::Null),
        serde_json::to_value(now).unwrap_or(Value::Null),
    );
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return vec!["the plan cannot be compared".into()];
    };
    let mut out = Vec::new();
    for (k, old) in &a {
        let new = b.get(k).unwrap_or(&Value::Null);
        if old != new {
            out.push(format!("{k}: {} -> {}", short(old), short(new)));
        }
    }
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}

/// Differences in what the runs were measured with: interpreters and extension sources.
pub fn provenance_diff(saved: &Provenance, now: &Provenance) -> Vec<String> {
    let mut out = Vec::new();
    for (old, new) in saved.interpreters.iter().zip(&now.interpreters) {
        if old.executable != new.executable
            || old.version != new.version
            || old.config_args != new.config_args
        {
            out.push(format!(
                "{} interpreter: {} ({}) -> {} ({})",
                new.build(),
                old.executable.display(),
                old.version,
                new.executable.display(),
                new.version
            ));
        }
    }
    let sources = |p: &Provenance| {
        p.extensions
            .iter()
            .map(|e| e.source_hash.clone())
            .collect::<HashSet<_>>()
    };
    if sources(saved) != sources(now) {
        out.push("the PoC extension's sources changed (a different arena-sweep version?)".into());
    }
    out
}

/// Refuse to resume when anything that shapes the results changed.
pub fn check(dir: &Path, saved: &PlanFile, plan: &Plan, provenance: &Provenance) -> Result<()> {
    let mut changes = plan_diff(&saved.plan, plan);
    changes.extend(provenance_diff(&saved.provenance, provenance));
    if changes.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "--resume {}: the plan has changed since it started, so its results cannot be continued:\n  {}\n\
         Resume with the same flags (or none), or start a new sweep.",
        dir.display(),
        changes.join("\n  ")
    )))
}

/// Run ids already recorded in `DIR/results.jsonl`, saying how many there are and
/// that unreadable lines (a torn last line) will be run again.
pub fn done_runs(dir: &Path, out: &mut dyn std::io::Write) -> Result<HashSet<String>> {
    let (done, unreadable) = recorded(dir)?;
    if unreadable > 0 {
        writeln!(
            out,
            "note: {unreadable} unreadable line(s) in {} are ignored and will be run again",
            dir.join("results.jsonl").display()
        )?;
    }
    writeln!(
        out,
        "Resuming {}: {} run(s) already recorded",
        dir.display(),
        done.len()
    )?;
    Ok(done)
}

/// Run ids already recorded in `DIR/results.jsonl`, and how many lines were unusable.
pub fn recorded(dir: &Path) -> Result<(HashSet<String>, usize)> {
    let path = dir.join("results.jsonl");
    if !path.exists() {
        return Ok((HashSet::new(), 0));
    }
    let loaded = results::load(&path)?;
    Ok((
        loaded.records.into_iter().map(|r| r.run_id).collect(),
        loaded.skipped.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &[&str]) -> Plan {
        let mut v = vec!["arena-sweep", "--seed", "1"];
        v.extend_from_slice(extra);
        Plan::from_argv(&v).unwrap()
    }

    #[test]
    fn a_changed_plan_says_what_changed() {
        let a = plan(&["--python-threads", "1,2", "--reps", "2"]);
        let b = plan(&["--python-threads", "1,2,4", "--reps", "2"]);
        assert!(plan_diff(&a, &a).is_empty());
        let d = plan_diff(&a, &b);
        assert_eq!(d, vec!["python_threads: [1,2] -> [1,2,4]".to_string()]);
    }
}
