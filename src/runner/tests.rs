//! The scheduler, resume, shards and merge, interrupts and failure accounting, driven
//! through the `run` command's own stages with a [`MockExecutor`] instead of real
//! processes, and checked with insta snapshots (`src/runner/snapshots/`). What only a
//! real process shows (signals, crashes, the protocol on a pipe) stays in the
//! integration tests (tests/integration/sweep.rs, tests/integration/failures.rs).
//!
//! The order snapshots depend on the plan's seeded shuffle (`Plan::runs_of_shard`)
//! and the padding's hash (`Sweep::pad_len`): a change to either shows up here first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::mock::{fake_host, Interrupt, MockExecutor};
use super::scheduler::{self, run_line, Sweep};
use super::stages::{self, Ended};
use crate::error::Exit;
use crate::model::Build;
use crate::results::{self, FailureKind};

/// A small grid: 2 x 2 points x 2 builds x 2 reps = 16 runs.
const GRID: &[&str] = &[
    "--python-threads",
    "1,2",
    "--rust-threads",
    "2,4",
    "--reps",
    "2",
    "--iterations",
    "3",
    "--seed",
    "42",
];

/// One invocation of `run`, as `stages::run` does it, with the mock instead of
/// the host: flags, plan, folder (new or resumed), sweep, plan.json, tally.
struct Invocation {
    sweep: Sweep,
    /// None when the sweep stopped with an error.
    end: Option<Ended>,
    error: Option<String>,
    /// What the command printed (the resume notes and the tally).
    out: String,
}

fn invoke(flags: &[&str], mock: &mut MockExecutor) -> Invocation {
    let mut argv = vec!["arena-sweep"];
    argv.extend_from_slice(flags);
    let (args, explicit) = crate::cli::parse_run(&argv);
    let asked = stages::resolve(&args, &explicit).expect("a valid plan");
    let mut out = Vec::new();
    let sweep = stages::open_folder(&args, asked, fake_host(), &mut out).expect("a folder");
    let (end, error) = match stages::record(&sweep, mock, Instant::now()) {
        Ok(end) => {
            out.extend_from_slice(stages::tally(&sweep, &end).as_bytes());
            (Some(end), None)
        }
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let out = String::from_utf8(out)
        .unwrap()
        .replace(&sweep.dir.display().to_string(), "<dir>");
    let error = error.map(|e| e.replace(&sweep.dir.display().to_string(), "<dir>"));
    Invocation {
        sweep,
        end,
        error,
        out,
    }
}

/// A new sweep of `GRID` into `out`, with `extra` flags (those of GRID replace its
/// value).
fn sweep(out: &Path, extra: &[&str], mock: &mut MockExecutor) -> Invocation {
    let mut flags = GRID.to_vec();
    for pair in extra.chunks(2) {
        match flags.iter().position(|f| *f == pair[0]) {
            Some(i) => flags[i + 1] = pair[1],
            None => flags.extend_from_slice(pair),
        }
    }
    flags.extend_from_slice(&["--out", out.to_str().unwrap()]);
    invoke(&flags, mock)
}

/// `run --resume DIR` with no plan flags.
fn resume(dir: &Path, mock: &mut MockExecutor) -> Invocation {
    invoke(&["--resume", dir.to_str().unwrap()], mock)
}

fn exit_code(inv: &Invocation) -> i32 {
    inv.end
        .as_ref()
        .map_or(Exit::Failure, |e| e.exit(Exit::Success))
        .code()
}

/// results.jsonl, one line per record: format, status, run id, padding, delta.
fn results_lines(dir: &Path) -> String {
    let loaded = results::load(&dir.join("results.jsonl")).unwrap();
    let mut s = String::new();
    for r in &loaded.records {
        let outcome = match (&r.metrics, &r.failure) {
            (Some(m), _) => format!("delta {} KiB", m.delta_kib),
            (None, Some(f)) => format!("FAILED {}", f.kind),
            (None, None) => "no result".into(),
        };
        s.push_str(&format!(
            "v{} {:<6} {:<42} pad={:<4} {outcome}\n",
            r.format,
            format!("{:?}", r.status).to_lowercase(),
            r.run_id,
            r.env_pad_len
        ));
    }
    for (line, why) in &loaded.skipped {
        s.push_str(&format!("unreadable line {line}: {why}\n"));
    }
    s
}

fn plan_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap()
}

fn ids(dir: &Path) -> Vec<String> {
    results::load(&dir.join("results.jsonl"))
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.run_id)
        .collect()
}

#[test]
fn runs_follow_the_plans_order_with_each_points_builds_side_by_side() {
    let out = tempfile::tempdir().unwrap();
    let mut mock = MockExecutor::new();
    let inv = sweep(out.path(), &[], &mut mock);
    let end = inv.end.as_ref().unwrap();
    // 4 points and 2 control points (one per Python thread count), 2 builds, 2 reps.
    assert_eq!(mock.log.len(), 24);
    assert_eq!(
        mock.log.iter().filter(|l| l.contains("/r0/")).count(),
        8,
        "{:?}",
        mock.log
    );
    // A point's GIL and nogil runs are adjacent, in either order, and every point
    // runs once per repetition before the next repetition starts.
    for pair in mock.log.chunks(2) {
        let point = |line: &str| {
            line.split_once('/')
                .unwrap()
                .1
                .rsplit_once(' ')
                .unwrap()
                .0
                .to_string()
        };
        assert_eq!(point(&pair[0]), point(&pair[1]), "{pair:?}");
        assert_ne!(pair[0][..4], pair[1][..4], "one of each build: {pair:?}");
    }
    for (rep, block) in mock.log.chunks(12).enumerate() {
        assert!(
            block.iter().all(|l| l.contains(&format!("/rep{rep} "))),
            "{block:?}"
        );
    }
    // The same seed gives the same order; another seed another one.
    let mut again = MockExecutor::new();
    sweep(out.path(), &[], &mut again);
    assert_eq!(again.log, mock.log);
    let mut other = MockExecutor::new();
    sweep(out.path(), &["--seed", "43"], &mut other);
    assert_ne!(other.log, mock.log);

    assert!(end.complete && !end.interrupted);
    assert_eq!(exit_code(&inv), 0);
    assert_eq!(plan_json(&inv.sweep.dir)["complete"], true);
    assert_eq!(plan_json(&inv.sweep.dir)["format"], 3);
    insta::assert_snapshot!("order", mock.log.join("\n"));
    insta::assert_snapshot!(
        "order_results",
        format!("{}\n{}", results_lines(&inv.sweep.dir), inv.out)
    );
}

#[test]
fn resume_after_an_interrupt_and_a_torn_last_line_runs_only_what_is_missing() {
    let out = tempfile::tempdir().unwrap();
    let mut first = MockExecutor::new().interrupted(Interrupt::DuringRun(5));
    let inv = sweep(out.path(), &[], &mut first);
    let dir = inv.sweep.dir.clone();
    assert_eq!(exit_code(&inv), 130);
    assert_eq!(ids(&dir).len(), 5, "the run in flight is not recorded");
    // A kill in the middle of the sixth write leaves half a line.
    let path = dir.join("results.jsonl");
    let before = std::fs::read_to_string(&path).unwrap();
    let line = before.lines().next().unwrap();
    let torn = line.replace("rep0", "rep1");
    std::fs::write(&path, format!("{before}{}", &torn[..torn.len() / 2])).unwrap();

    let mut second = MockExecutor::new();
    let resumed = resume(&dir, &mut second);
    assert_eq!(exit_code(&resumed), 0);
    assert_eq!(plan_json(&dir)["complete"], true);
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with(&before),
        "earlier records are kept byte for byte"
    );
    let all = ids(&dir);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 24, "every run once: {all:?}");
    assert_eq!(
        all.iter().filter(|id| id.contains("/r0/")).count(),
        8,
        "control runs resume like the others: {all:?}"
    );
    // The resumed runs are padded as an uninterrupted sweep pads them.
    let mut whole = MockExecutor::new();
    sweep(out.path(), &[], &mut whole);
    assert_eq!(first.log[..5], whole.log[..5]);
    assert_eq!(second.log[..], whole.log[5..]);

    insta::assert_snapshot!(
        "resume",
        format!(
            "first attempt (exit {}):\n{}\nresumed (exit {}):\n{}\nasked of the executor:\n{}\n\nresults.jsonl:\n{}",
            exit_code(&inv),
            inv.out,
            exit_code(&resumed),
            resumed.out,
            second.log.join("\n"),
            results_lines(&dir)
        )
    );
}

#[test]
fn an_interrupt_leaves_an_incomplete_plan_that_exits_130_and_resume_completes() {
    let mut report = String::new();
    for at in [Interrupt::BetweenRuns(3), Interrupt::DuringRun(3)] {
        let out = tempfile::tempdir().unwrap();
        let mut mock = MockExecutor::new().interrupted(at);
        let inv = sweep(out.path(), &[], &mut mock);
        let end = inv.end.as_ref().unwrap();
        let dir = inv.sweep.dir.clone();
        assert!(end.interrupted && !end.complete, "{at:?}");
        assert_eq!(exit_code(&inv), 130, "{at:?}");
        assert_eq!(plan_json(&dir)["complete"], false, "{at:?}");
        assert!(plan_json(&dir)["harness"].is_object(), "{at:?}");
        assert!(
            std::fs::read_to_string(dir.join("results.jsonl"))
                .unwrap()
                .ends_with('\n'),
            "{at:?}: no torn line"
        );
        report.push_str(&format!(
            "{at:?}: asked for {} run(s), recorded {}, exit {}\n{}",
            mock.log.len(),
            end.all.len(),
            exit_code(&inv),
            inv.out
        ));

        let mut rest = MockExecutor::new();
        let resumed = resume(&dir, &mut rest);
        assert_eq!(exit_code(&resumed), 0, "{at:?}");
        assert_eq!(plan_json(&dir)["complete"], true, "{at:?}");
        assert_eq!(ids(&dir).len(), 24, "{at:?}");
        report.push_str(&format!(
            "resumed: asked for {} run(s), exit {}\n{}\n",
            rest.log.len(),
            exit_code(&resumed),
            resumed.out
        ));
    }
    insta::assert_snapshot!("interrupt", report);
}

#[test]
fn shards_merge_into_the_unsharded_plan_and_a_missing_shard_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let whole = sweep(&root.path().join("whole"), &[], &mut MockExecutor::new());
    let mut report = String::new();
    let mut shards: Vec<PathBuf> = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let mut mock = MockExecutor::new();
        let inv = sweep(&root.path().join("shards"), &["--shard", &shard], &mut mock);
        assert_eq!(exit_code(&inv), 0);
        let name = inv
            .sweep
            .dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.ends_with(&format!("-shard-{k}-of-3")), "{name}");
        report.push_str(&format!("shard {shard}:\n  {}\n", mock.log.join("\n  ")));
        shards.push(inv.sweep.dir);
    }
    // A point's runs all land in one shard, both builds and every repetition.
    let points = |dir: &Path| -> BTreeSet<String> {
        ids(dir)
            .iter()
            .map(|id| {
                id.split_once('/')
                    .unwrap()
                    .1
                    .rsplit_once('/')
                    .unwrap()
                    .0
                    .to_string()
            })
            .collect()
    };
    for (i, a) in shards.iter().enumerate() {
        for b in &shards[i + 1..] {
            assert!(points(a).is_disjoint(&points(b)));
        }
    }

    let merged = root.path().join("merged");
    let mut out = Vec::new();
    let exit = super::merge::command(&shards, &merged, &mut out).unwrap();
    assert_eq!(exit, Exit::Success);
    let merged_ids: BTreeSet<String> = ids(&merged).into_iter().collect();
    let whole_ids: BTreeSet<String> = ids(&whole.sweep.dir).into_iter().collect();
    assert_eq!(merged_ids, whole_ids);
    let plan = plan_json(&merged);
    assert_eq!(plan["complete"], true);
    assert_eq!(plan["format"], 3);
    assert!(
        merged_ids.iter().filter(|id| id.contains("/r0/")).count() == 8,
        "control runs are sharded and merged like the others: {merged_ids:?}"
    );
    assert_eq!(plan["merged_from"].as_array().unwrap().len(), 3);
    assert_eq!(plan["runs"], plan_json(&whole.sweep.dir)["runs"]);
    report.push_str(&String::from_utf8(out).unwrap());

    // Two shards of three: merged, but incomplete, which is not a success.
    let partial = root.path().join("partial");
    let mut out = Vec::new();
    let exit = super::merge::command(&shards[..2], &partial, &mut out).unwrap();
    assert_eq!(exit.code(), 1);
    assert_eq!(plan_json(&partial)["complete"], false);
    report.push_str(&String::from_utf8(out).unwrap());
    // A shard given twice overlaps itself.
    let twice = [shards[0].clone(), shards[0].clone()];
    let e = super::merge::merge(&twice, &root.path().join("twice")).unwrap_err();
    report.push_str(&format!("{e:#}\n"));

    let report = report
        .replace(&root.path().display().to_string(), "<root>")
        .replace(
            &shards[0].file_name().unwrap().to_string_lossy()[..19],
            "<stamp>",
        );
    insta::assert_snapshot!("shards", report);
}

#[test]
fn failed_runs_are_recorded_counted_and_make_the_exit_code() {
    let out = tempfile::tempdir().unwrap();
    // The nogil runs of the 2-thread points crash; one GIL run times out.
    let mut mock = MockExecutor::new().failing(|spec| {
        let p = &spec.cell.point;
        match (spec.cell.build, p.python_threads, p.rust_threads, spec.rep) {
            (Build::Nogil, 2, _, _) => Some(FailureKind::Crashed),
            (Build::Gil, 1, 4, 1) => Some(FailureKind::Timeout),
            _ => None,
        }
    });
    let inv = sweep(out.path(), &[], &mut mock);
    let end = inv.end.as_ref().unwrap();
    assert!(
        end.complete,
        "failed runs are results: the plan is complete"
    );
    // Both 2-thread points and the 2-thread control point, 2 reps each, and one timeout.
    assert_eq!(end.failed(), 7);
    assert_eq!(exit_code(&inv), 1);
    assert_eq!(end.exit(Exit::Gate).code(), 3, "a tripped gate comes first");
    let summaries = crate::aggregate::summarize(
        &end.all,
        inv.sweep.plan.floor_kib(),
        &inv.sweep.plan.thresholds,
    );
    let failed_in_cells: usize = summaries
        .iter()
        .map(|c| c.gil_failed + c.nogil_failed)
        .sum();
    assert_eq!(failed_in_cells, 5, "the summary counts them too");
    let lines: Vec<String> = end
        .all
        .iter()
        .enumerate()
        .map(|(i, r)| run_line(r, i as u64 + 1, end.all.len()))
        .collect();
    insta::assert_snapshot!("failures", format!("{}\n\n{}", lines.join("\n"), inv.out));
}

#[test]
fn a_run_on_the_wrong_build_stops_the_sweep_after_recording_it() {
    let out = tempfile::tempdir().unwrap();
    let mut mock = MockExecutor::new()
        .failing(|spec| (spec.cell.build == Build::Nogil).then_some(FailureKind::GilEnabled));
    let inv = sweep(out.path(), &[], &mut mock);
    let error = inv.error.as_deref().expect("the sweep stops with an error");
    let dir = &inv.sweep.dir;
    let recorded = ids(dir);
    assert!(
        recorded.last().unwrap().starts_with("nogil/"),
        "{recorded:?}"
    );
    assert_eq!(recorded.len(), mock.log.len(), "nothing ran after it");
    assert_eq!(plan_json(dir)["complete"], false);
    insta::assert_snapshot!("wrong_build", format!("{error}\n\n{}", results_lines(dir)));
}

#[test]
fn a_folder_from_a_newer_arena_sweep_is_refused_by_resume_and_merge() {
    let out = tempfile::tempdir().unwrap();
    let a = sweep(out.path(), &["--shard", "0/2"], &mut MockExecutor::new());
    let b = sweep(out.path(), &["--shard", "1/2"], &mut MockExecutor::new());
    // b's last record comes from a newer arena-sweep.
    let path = b.sweep.dir.join("results.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let newer = text.replacen("{\"format\":3,", "{\"format\":4,", 1);
    std::fs::write(&path, newer).unwrap();
    let e = super::merge::merge(
        &[a.sweep.dir.clone(), b.sweep.dir.clone()],
        &out.path().join("merged"),
    )
    .unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2);
    let msg = format!("{e:#}");
    assert!(
        msg.contains(&format!("{} line 1 has format version 4", path.display()))
            && msg.contains("reads format versions 1 to 3"),
        "{msg}"
    );
    // A plan.json from a newer arena-sweep: --resume refuses it, naming the file.
    let plan = a.sweep.dir.join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, text.replacen("\"format\": 3", "\"format\": 4", 1)).unwrap();
    let (args, explicit) =
        crate::cli::parse_run(&["arena-sweep", "--resume", a.sweep.dir.to_str().unwrap()]);
    let e = stages::resolve(&args, &explicit).err().expect("refused");
    assert_eq!(crate::error::exit_code(&e), 2);
    let msg = format!("{e:#}");
    assert!(
        msg.starts_with(&format!(
            "--resume: {} has format version 4, written by a newer arena-sweep",
            plan.display()
        )),
        "{msg}"
    );
}

#[test]
fn the_padding_depends_on_the_seed_and_the_run_only() {
    let out = tempfile::tempdir().unwrap();
    let a = sweep(out.path(), &[], &mut MockExecutor::new());
    let pads: BTreeSet<usize> = a
        .sweep
        .run_ids()
        .iter()
        .map(|id| a.sweep.pad_len(id))
        .collect();
    assert!(pads.len() > 8, "lengths spread: {pads:?}");
    assert!(pads.iter().all(|&p| (p as u64) < scheduler::PAD_MAX));
}
