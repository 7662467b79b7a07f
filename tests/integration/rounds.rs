//! Rounds within a run (`--rounds`), on real runs: what a run records per round, the
//! verdict a cell gets (settles or keeps growing), and the per-round levels against a
//! minimal in-process script (`tests/fidelity/rounds_driver.py`) that repeats the
//! pool the same way.
//!
//! The fidelity rows pass where arena-sweep's Hodges-Lehmann shift from the minimal
//! script's runs, at a round, is within max(10%, 0.05 MiB) of the script's median
//! there: the guard's band for the talk's cell. The table goes to
//! `target/fidelity-rounds.md`.

use crate::common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const PYTHON_ONLY: &str = "examples/workloads/python_only_bytes.py";

/// Run a sweep with `args`; returns its stdout and report folder.
fn sweep(args: &[&str], out: &Path) -> (String, PathBuf) {
    let o = bin()
        .current_dir(repo())
        .args(args)
        .args(["--no-install", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{args:?}:\n{stdout}\n{stderr}");
    (stdout, report_dir(out))
}

/// Each run's deltas by round (KiB), per build, from results.jsonl: [gil, nogil],
/// the point's runs (not the control's).
fn round_deltas(dir: &Path) -> [Vec<Vec<f64>>; 2] {
    let mut out: [Vec<Vec<f64>>; 2] = Default::default();
    for r in records(dir) {
        if r["rust_threads"] == 0 {
            continue;
        }
        let i = usize::from(r["build"] == "nogil");
        let rounds = r["metrics"]["rounds"].as_array().expect("rounds recorded");
        out[i].push(
            rounds
                .iter()
                .map(|x| x["delta_kib"].as_f64().unwrap())
                .collect(),
        );
    }
    out
}

/// A 2x4 sweep of two calls per Python thread: a fraction of a second per run.
fn small(tmp: &tempfile::TempDir, reps: &str, rounds: &str) -> (String, PathBuf) {
    sweep(
        &[
            "--python-threads",
            "2",
            "--rust-threads",
            "4",
            "--iterations",
            "2",
            "--reps",
            reps,
            "--rounds",
            rounds,
        ],
        tmp.path(),
    )
}

fn verdict(summary: &Value, build: &str) -> String {
    summary["points"][0]["rounds"][build]["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no {build} verdict in {summary}"))
        .to_string()
}

#[test]
fn each_round_is_recorded_and_the_last_is_the_final_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, dir) = small(&tmp, "2", "4");
    assert_eq!(plan(&dir)["plan"]["rounds"], 4, "plan.json keeps --rounds");
    let recs = records(&dir);
    // 2 builds x 2 reps, the point and its control.
    assert_eq!(recs.len(), 8);
    for r in &recs {
        let m = &r["metrics"];
        let rounds = m["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 4, "{}", r["run_id"]);
        assert_eq!(rounds[3]["delta_kib"], m["delta_kib"], "{}", r["run_id"]);
        // A snapshot after every round but the last (that one is `done`).
        assert_eq!(r["phases"]["rounds"].as_array().unwrap().len(), 3);
        for (i, x) in rounds.iter().enumerate().take(3) {
            let snap = r["phases"]["rounds"][i]["rss_kib"].as_i64().unwrap();
            let base = m["baseline_rss_kib"].as_i64().unwrap();
            assert_eq!(x["delta_kib"].as_i64().unwrap(), snap - base);
        }
        // Every worker made every call of every round.
        assert_eq!(m["calls"], 2 * 2 * 4);
    }
    for line in [
        "rounds                      4 per run",
        "after round 1 (one window)",
        "settled level",
        "growth per round",
        "net growth (- control's)",
        "settles?",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    let summary = valid_summary(&dir);
    assert_eq!(summary["points"][0]["rounds"]["rounds"], 4);
    assert_eq!(summary["points"][0]["rounds"]["from_round"], 3);
    let csv = std::fs::read_to_string(dir.join("cells.csv")).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("nogil_growth_kib_per_round"));
    assert!(
        dir.join("rounds--glibc-default--pyo3--seed--2x4.png")
            .exists(),
        "the by-round figure"
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("RSS by round: does it settle?"));
    assert!(html.contains("Settles or keeps growing"));
}

#[test]
fn one_round_is_one_window_with_no_growth_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, dir) = small(&tmp, "1", "1");
    for r in records(&dir) {
        assert!(r["metrics"].get("rounds").is_none(), "{r}");
        assert!(r["phases"].get("rounds").is_none(), "{r}");
    }
    assert!(
        stdout.contains("one window per run: settling or growth not measured (--rounds 3 or more)"),
        "{stdout}"
    );
    let summary = valid_summary(&dir);
    assert_eq!(summary["points"][0]["rounds"], Value::Null);
    assert_eq!(summary["points"][0]["keeps_growing"], false);
}

/// The talk's cell: its arenas fill over about ten rounds, then the level holds in
/// both builds (the free-threaded build creeps by a page or so per round, below the
/// bound of two).
#[test]
fn the_talks_cell_settles_in_both_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, dir) = sweep(
        &[
            "--python-threads",
            "8",
            "--rust-threads",
            "50",
            // Five runs: the free-threaded build creeps by +0.5 to +6.4 KiB per round
            // run by run over rounds 21-40, and a median of five is far below the bound.
            "--reps",
            "5",
            "--rounds",
            "40",
        ],
        tmp.path(),
    );
    let summary = valid_summary(&dir);
    let deltas = round_deltas(&dir);
    assert_eq!(verdict(&summary, "gil"), "settles", "{deltas:?}\n{stdout}");
    assert_eq!(
        verdict(&summary, "nogil"),
        "settles",
        "{deltas:?}\n{stdout}"
    );
    assert_eq!(summary["points"][0]["keeps_growing"], false);
    // And yet its level after 40 rounds is above the first round's: a one-time rise.
    for b in ["gil", "nogil"] {
        let r = &summary["points"][0]["rounds"][b];
        assert!(
            r["settled_mib"].as_f64().unwrap() > r["first_delta_mib"].as_f64().unwrap(),
            "{r}"
        );
    }
}

/// No native call at all: 32 Python threads, each call building 200 small bytes
/// objects kept until the worker's next call. The free-threaded build's memory is
/// still growing after 100 rounds of new pools (mimalloc); the GIL build's is not.
#[test]
fn python_threads_alone_keep_growing_in_the_free_threaded_build_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, dir) = sweep(
        &[
            "--workload",
            PYTHON_ONLY,
            "--python-threads",
            "32",
            "--rust-threads",
            "1",
            "--iterations",
            "1",
            "--sleep-ms",
            "0",
            "--reps",
            "3",
            "--rounds",
            "100",
        ],
        tmp.path(),
    );
    let summary = valid_summary(&dir);
    let deltas = round_deltas(&dir);
    let nogil = &summary["points"][0]["rounds"]["nogil"];
    assert_eq!(
        verdict(&summary, "nogil"),
        "keeps_growing",
        "{nogil}\n{stdout}"
    );
    assert!(
        nogil["growth_ci_kib"]["lo"].as_f64().unwrap() > 0.0,
        "{nogil}"
    );
    assert_eq!(
        nogil["growing_region"], "mimalloc (the free-threaded interpreter's objects)",
        "{nogil}"
    );
    assert_eq!(verdict(&summary, "gil"), "settles", "{deltas:?}\n{stdout}");
    assert_eq!(summary["points"][0]["keeps_growing"], true);
    assert!(stdout.contains("nogil keeps growing: +"), "{stdout}");
    // `report` prints the sweep's screen: the point is listed with its growth.
    let o = bin().arg("report").arg(&dir).output().unwrap();
    let (again, _) = text(&o);
    assert!(
        again.contains("points that keep growing round after round")
            && again.contains("nogil: keeps growing +"),
        "{again}"
    );
    assert!(
        again.contains("^"),
        "the text heatmap marks the point: {again}"
    );
}

/// One fidelity cell: arena-sweep's flags and the minimal script's arguments.
struct Cell {
    name: &'static str,
    python_threads: &'static str,
    rust_threads: &'static str,
    iterations: &'static str,
    sleep_ms: &'static str,
    rounds: usize,
    workload: Option<&'static str>,
    /// Runs per driver and build.
    runs: usize,
    /// The rounds compared (1-based).
    at: &'static [usize],
}

const CELLS: [Cell; 2] = [
    Cell {
        name: "seed 8x50",
        python_threads: "8",
        rust_threads: "50",
        iterations: "10",
        sleep_ms: "5",
        rounds: 10,
        workload: None,
        runs: 8,
        at: &[1, 5, 10],
    },
    Cell {
        name: "python-only bytes 32x1",
        python_threads: "32",
        rust_threads: "1",
        iterations: "1",
        sleep_ms: "0",
        rounds: 30,
        workload: Some(PYTHON_ONLY),
        runs: 20,
        at: &[1, 10, 30],
    },
];

/// One arena-sweep rep of a cell (a GIL and a free-threaded run, no control arm):
/// [gil, nogil] deltas by round, and the plan.
fn sweep_rep(cell: &Cell, seed: usize, out: &Path) -> ([Vec<f64>; 2], Value) {
    let rounds = cell.rounds.to_string();
    let seed = seed.to_string();
    let mut args = vec![
        "--python-threads",
        cell.python_threads,
        "--rust-threads",
        cell.rust_threads,
        "--iterations",
        cell.iterations,
        "--sleep-ms",
        cell.sleep_ms,
        "--reps",
        "1",
        "--rounds",
        &rounds,
        "--no-control",
        "--seed",
        &seed,
    ];
    if let Some(w) = cell.workload {
        args.extend(["--workload", w]);
    }
    let (_, dir) = sweep(&args, out);
    let [mut g, mut n] = round_deltas(&dir);
    let plan = plan(&dir);
    std::fs::remove_dir_all(out).unwrap();
    ([g.remove(0), n.remove(0)], plan)
}

fn minimal_run(cell: &Cell, program: &str, ext_dir: &str, build: &str) -> Vec<f64> {
    let mut cmd = minimal_command(program, &repo());
    cmd.arg(repo().join("tests/fidelity/rounds_driver.py"))
        .args([
            ext_dir,
            cell.python_threads,
            cell.rust_threads,
            cell.iterations,
            cell.sleep_ms,
            &cell.rounds.to_string(),
            "seed",
            "",
        ]);
    if let Some(w) = cell.workload {
        cmd.arg(repo().join(w));
    }
    let o = cmd.output().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{program}: {stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["gil_enabled"].as_bool(), Some(build == "gil"));
    v["deltas_kib"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect()
}

fn median(v: &[f64]) -> f64 {
    arena_sweep::stats::median(v).unwrap()
}

#[test]
fn rounds_read_as_a_minimal_in_process_script_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut table = String::from(
        "| cell | build | round | arena-sweep median MiB | script median MiB | shift (HL) MiB | band MiB | ok |\n|---|---|--:|--:|--:|--:|--:|---|\n",
    );
    let mut failed = Vec::new();
    for cell in &CELLS {
        // [build][driver 0 arena-sweep, 1 script] -> runs of deltas by round.
        let mut runs: [[Vec<Vec<f64>>; 2]; 2] = Default::default();
        let mut programs = None;
        for i in 0..cell.runs {
            // Take turns, the order alternating, so that drift falls on both alike.
            let mut step = |sweep_first: bool, programs: &mut Option<Vec<(String, String)>>| {
                if sweep_first {
                    let (deltas, plan) = sweep_rep(cell, i + 1, &tmp.path().join("s"));
                    for (b, d) in deltas.into_iter().enumerate() {
                        runs[b][0].push(d);
                    }
                    programs.get_or_insert_with(|| children(&plan));
                } else if let Some(p) = programs.as_ref() {
                    for (b, build) in ["gil", "nogil"].iter().enumerate() {
                        runs[b][1].push(minimal_run(cell, &p[b].0, &p[b].1, build));
                    }
                }
            };
            if i % 2 == 0 || programs.is_none() {
                step(true, &mut programs);
                step(false, &mut programs);
            } else {
                step(false, &mut programs);
                step(true, &mut programs);
            }
        }
        for (b, build) in ["gil", "nogil"].iter().enumerate() {
            for &k in cell.at {
                let at = |d: usize| -> Vec<f64> { runs[b][d].iter().map(|r| r[k - 1]).collect() };
                let (mine, theirs) = (at(0), at(1));
                let shift = arena_sweep::stats::hodges_lehmann_shift(&mine, &theirs).unwrap();
                let band = (0.10 * median(&theirs).abs()).max(0.05 * 1024.0);
                let ok = shift.abs() <= band;
                let _ = writeln!(
                    table,
                    "| {} | {build} | {k} | {:.2} | {:.2} | {:+.3} | {:.3} | {} |",
                    cell.name,
                    median(&mine) / 1024.0,
                    median(&theirs) / 1024.0,
                    shift / 1024.0,
                    band / 1024.0,
                    if ok { "yes" } else { "NO" }
                );
                if !ok {
                    failed.push(format!("{} {build} round {k}", cell.name));
                }
            }
        }
    }
    println!("{table}");
    std::fs::create_dir_all(repo().join("target")).unwrap();
    std::fs::write(repo().join("target/fidelity-rounds.md"), &table).unwrap();
    assert!(
        failed.is_empty(),
        "rounds where arena-sweep and the minimal script differ: {failed:?}\n{table}"
    );
}
