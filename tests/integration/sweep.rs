//! Sweeps over a grid: resume after the tool was really killed, shards merged back
//! into the unsharded plan, and `run` writing the report and applying the gates. All on the real binary, interpreters and extension.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

use crate::report::{csv_rows, read};

/// A small grid: 2 x 2 points and the 2 control points x 2 builds x 2 reps = 24 short runs.
const GRID: &[&str] = &[
    "--python-threads",
    "1,2",
    "--rust-threads",
    "2,4",
    "--reps",
    "2",
    "--iterations",
    "3",
    "--sleep-ms",
    "1",
    "--seed",
    "42",
    "--no-install",
];

/// GRID with some flags replaced.
fn grid_with(overrides: &[(&str, &str)]) -> Vec<String> {
    let mut v: Vec<String> = GRID.iter().map(|s| s.to_string()).collect();
    for (flag, value) in overrides {
        let i = v.iter().position(|x| x == flag).expect("flag in GRID");
        v[i + 1] = value.to_string();
    }
    v
}

fn run_ids(dir: &Path) -> Vec<String> {
    records(dir)
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

fn planned(dir: &Path) -> BTreeSet<String> {
    plan(dir)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn resume_completes_a_sweep_whose_process_was_killed() {
    let out = tempfile::tempdir().unwrap();
    let exe = assert_cmd::cargo::cargo_bin("arena-sweep");
    let mut child = std::process::Command::new(&exe)
        .args(GRID)
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a few runs are recorded, then kill the tool without warning.
    let deadline = Instant::now() + Duration::from_secs(300);
    let dir = loop {
        let found = std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.is_dir());
        if let Some(d) = found {
            let lines = std::fs::read_to_string(d.join("results.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines >= 3 {
                break d;
            }
        }
        assert!(Instant::now() < deadline, "the sweep recorded nothing");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let before = run_ids(&dir);
    assert_eq!(
        plan(&dir)["complete"],
        false,
        "a killed sweep is not complete"
    );
    assert!(
        before.len() < 24,
        "killed before the end ({} runs)",
        before.len()
    );

    let o = bin()
        .args(["run", "--resume"])
        .arg(&dir)
        .arg("--no-install")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{} run(s) already recorded", before.len())),
        "{stdout}"
    );
    let after = run_ids(&dir);
    let unique: BTreeSet<String> = after.iter().cloned().collect();
    assert_eq!(unique.len(), after.len(), "no run recorded twice");
    assert_eq!(unique, planned(&dir), "every planned run is recorded");
    assert_eq!(
        unique.iter().filter(|id| id.contains("/r0/")).count(),
        8,
        "the control runs (0 Rust threads, both Python thread counts, both builds, 2 reps) are resumed like the others: {unique:?}"
    );
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "earlier records are kept as they were"
    );
    assert_eq!(plan(&dir)["complete"], true);
    assert!(
        stdout.contains("native amplification (net of the control arm), profile glibc-default"),
        "the sweep summary is printed:\n{stdout}"
    );
    // The resumed run rewrites the report from every record, old and new.
    assert!(stdout.contains("Report: "), "{stdout}");
    let csv = std::fs::read_to_string(dir.join("cells.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "one row per point:\n{csv}");
    assert!(dir.join("index.html").is_file() && dir.join("summary.md").is_file());
}

#[test]
fn resume_refuses_a_changed_plan_and_says_what_changed() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(grid_with(&[
            ("--python-threads", "1"),
            ("--rust-threads", "2"),
            ("--reps", "1"),
        ]))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let dir = report_dir(out.path());
    let before = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let o = bin()
        .args(["run", "--resume"])
        .arg(&dir)
        .args(["--rust-threads", "2,8", "--no-install"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the plan has changed"), "{stderr}");
    assert!(stderr.contains("rust_threads: [2] -> [2,8]"), "{stderr}");
    // Flags not typed again keep the saved plan's values, not their defaults.
    let changes: Vec<&str> = stderr.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(changes.len(), 1, "only the Rust threads changed:\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("results.jsonl")).unwrap(),
        before,
        "nothing was run"
    );
}

#[test]
fn shards_merged_give_the_runs_of_the_unsharded_plan() {
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    let o = bin().args(GRID).arg("--out").arg(&whole).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let whole_dir = report_dir(&whole);

    let mut shard_dirs = Vec::new();
    for k in 0..3 {
        let out = root.path().join(format!("shard{k}"));
        let mut cmd = bin();
        cmd.args(GRID).arg("--out").arg(&out);
        // Shard 1 takes K from the Slurm array variable, as on a cluster.
        if k == 1 {
            cmd.args(["--shard", "3"]).env("SLURM_ARRAY_TASK_ID", "1");
        } else {
            cmd.args(["--shard", &format!("{k}/3")]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{:?}", text(&o));
        let d = report_dir(&out);
        assert!(d
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(&format!("-shard-{k}-of-3")));
        assert_eq!(plan(&d)["complete"], true);
        shard_dirs.push(d);
    }
    let merged = root.path().join("merged");
    let o = bin()
        .arg("merge")
        .args(&shard_dirs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Merged 24 of 24 runs"), "{stdout}");
    assert!(
        stdout.contains(
            "Its report (heatmaps, summary.md, index.html, summary.json): arena-sweep report "
        ),
        "{stdout}"
    );

    let merged_ids: BTreeSet<String> = run_ids(&merged).into_iter().collect();
    let whole_ids: BTreeSet<String> = run_ids(&whole_dir).into_iter().collect();
    assert_eq!(merged_ids, whole_ids);
    assert_eq!(
        merged_ids.iter().filter(|id| id.contains("/r0/")).count(),
        8,
        "control runs are sharded and merged like the others: {merged_ids:?}"
    );
    assert_eq!(planned(&merged), planned(&whole_dir));
    assert_eq!(plan(&merged)["complete"], true);
    assert_eq!(plan(&merged)["merged_from"].as_array().unwrap().len(), 3);

    // Shards of different plans do not merge.
    let other = root.path().join("other");
    let o = bin()
        .args(grid_with(&[("--seed", "43")]))
        .args(["--shard", "0/3", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = bin()
        .arg("merge")
        .arg(&shard_dirs[1])
        .arg(report_dir(&other))
        .arg("--out")
        .arg(root.path().join("bad"))
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("different plans") && stderr.contains("seed: 42 -> 43"),
        "{stderr}"
    );
}

#[test]
fn run_writes_the_report_and_applies_the_gates() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "run",
            "--python-threads",
            "2",
            "--rust-threads",
            "8",
            "--reps",
            "1",
            "--iterations",
            "3",
            "--seed",
            "3",
            "--no-install",
            "--fail-on-amplification",
            "0.01",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    let dir = report_dir(out.path());
    for f in ["index.html", "summary.md", "cells.csv"] {
        assert!(
            dir.join(f).is_file(),
            "the run wrote no {f}:\n{stdout}\n{stderr}"
        );
    }
    assert!(stdout.contains("Report: "), "{stdout}");
    let rows = csv_rows(&read(&dir.join("cells.csv")));
    assert_eq!(rows.len(), 1);
    let tripped = rows[0]["amplification"].parse::<f64>().unwrap() >= 0.01;
    assert_eq!(
        o.status.code(),
        Some(if tripped { 3 } else { 0 }),
        "{stdout}\n{stderr}"
    );
}
