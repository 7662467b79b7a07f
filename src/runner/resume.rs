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

/// The plan a resumed sweep runs: every value whose flag was typed again comes from
/// `now` (built from the flags), every other one from the saved plan, never from a
/// flag's default. A value a matrix file sets counts as typed when `--matrix` is.
/// The destructuring makes a new plan field a compile error here until it is mapped.
pub fn typed_over_saved(saved: &Plan, now: Plan, explicit: &[&str]) -> Plan {
    let typed = |ids: &[&str]| ids.iter().any(|id| explicit.contains(id));
    let Plan {
        name,
        matrix,
        description,
        emulate_cores,
        workload,
        python_threads,
        rust_threads,
        iterations,
        sleep_ms,
        reps,
        rounds,
        builds,
        bindings,
        patterns,
        profiles,
        sample_interval_ms,
        settle_ms,
        timeout_s,
        max_rss_kib,
        floor_mib,
        thresholds,
        seed,
        start,
        env,
        verify,
        control,
    } = now;
    let s = saved.clone();
    let m = typed(&["matrix"]);
    let either = |flags: &[&str]| m || typed(flags);
    Plan {
        name: keep(m, name, s.name),
        matrix: keep(m, matrix, s.matrix),
        description: keep(m, description, s.description),
        builds: keep(m, builds, s.builds),
        emulate_cores: keep(typed(&["emulate_cores"]), emulate_cores, s.emulate_cores),
        workload: keep(
            typed(&["workload", "workload_params"]),
            workload,
            s.workload,
        ),
        python_threads: keep(
            either(&["python_threads"]),
            python_threads,
            s.python_threads,
        ),
        rust_threads: keep(either(&["rust_threads"]), rust_threads, s.rust_threads),
        iterations: keep(either(&["iterations"]), iterations, s.iterations),
        sleep_ms: keep(either(&["sleep_ms"]), sleep_ms, s.sleep_ms),
        reps: keep(either(&["reps"]), reps, s.reps),
        rounds: keep(either(&["rounds"]), rounds, s.rounds),
        bindings: keep(either(&["bindings", "workload"]), bindings, s.bindings),
        patterns: keep(
            either(&["patterns", "pattern_params", "workload", "workload_params"]),
            patterns,
            s.patterns,
        ),
        profiles: keep(
            either(&["tunables", "tunable", "emulate_cores"]),
            profiles,
            s.profiles,
        ),
        sample_interval_ms: keep(
            typed(&["sample_interval"]),
            sample_interval_ms,
            s.sample_interval_ms,
        ),
        settle_ms: keep(typed(&["settle", "workload"]), settle_ms, s.settle_ms),
        timeout_s: keep(typed(&["timeout"]), timeout_s, s.timeout_s),
        max_rss_kib: keep(typed(&["max_rss"]), max_rss_kib, s.max_rss_kib),
        floor_mib: keep(typed(&["floor_mib"]), floor_mib, s.floor_mib),
        // No flag sets them.
        thresholds: keep(false, thresholds, s.thresholds),
        seed: keep(typed(&["seed"]), seed, s.seed),
        start: keep(typed(&["start"]), start, s.start),
        env: keep(typed(&["env", "pass_env"]), env, s.env),
        verify: keep(typed(&["verify"]), verify, s.verify),
        control: keep(typed(&["no_control"]), control, s.control),
    }
}

/// `now` where its flag was typed, else `saved`.
fn keep<T>(typed: bool, now: T, saved: T) -> T {
    if typed {
        now
    } else {
        saved
    }
}

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

    /// The case: a sweep made with `--python-threads 1 --reps 1`, resumed
    /// with `--rust-threads 2,8` only, keeps its Python threads and reps (not the
    /// flags' defaults 8 and 3), and only the Rust threads are reported as changed.
    #[test]
    fn values_not_typed_again_come_from_the_saved_plan() {
        let saved = plan(&["--python-threads", "1", "--reps", "1", "--rounds", "2"]);
        let (args, explicit) = crate::cli::parse_run(&["arena-sweep", "--rust-threads", "2,8"]);
        let now = Plan::from_args(&args, &explicit).unwrap();
        assert_eq!(
            now.python_threads,
            vec![8],
            "the flag's default, which must not be used"
        );
        let resumed = typed_over_saved(&saved, now, &explicit);
        assert_eq!(resumed.python_threads, vec![1]);
        assert_eq!(resumed.reps, 1);
        assert_eq!(resumed.rounds, 2);
        assert_eq!(resumed.seed, 1);
        assert_eq!(resumed.rust_threads, vec![2, 8]);
        assert_eq!(
            plan_diff(&saved, &resumed),
            vec![format!(
                "rust_threads: {} -> [2,8]",
                short(&serde_json::to_value(&saved.rust_threads).unwrap())
            )]
        );
        // Typed again with the saved values: the same plan, nothing to refuse.
        let (args, explicit) =
            crate::cli::parse_run(&["arena-sweep", "--python-threads", "1", "--reps", "1"]);
        let again = typed_over_saved(
            &saved,
            Plan::from_args(&args, &explicit).unwrap(),
            &explicit,
        );
        assert!(
            plan_diff(&saved, &again).is_empty(),
            "{:?}",
            plan_diff(&saved, &again)
        );
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
