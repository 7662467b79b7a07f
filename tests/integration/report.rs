//! Reports from real results: `arena-sweep report` on fixture folders (small real
//! sweeps committed under tests/fixtures/reports/), snapshots of cells.csv and
//! summary.md, SVGs that hold the values, the HTML in headless Chromium, `compare`,
//! the `--fail-on-*` gates and bad input.
//!
//! Snapshots are insta's, in tests/integration/snapshots/: a changed report fails the test and
//! leaves a `.snap.new` beside the `.snap`; review it with `cargo insta review`, or
//! rewrite them all with `INSTA_UPDATE=always cargo test --test integration report::` and review the
//! diff before committing it.

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports")
        .join(name)
}

/// `arena-sweep report FIXTURE --out <tmp>/out`: (exit code, stdout, stderr, out dir).
pub(crate) fn report(name: &str, extra: &[&str]) -> (i32, String, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("report")
        .arg(fixture(name))
        .arg("--out")
        .arg(tmp.path().join("out"))
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    (o.status.code().unwrap_or(-1), stdout, stderr, tmp)
}

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compare with the snapshot `<fixture>__<file>` (tests/integration/snapshots/).
fn snapshot(name: &str, file: &str, got: &str) {
    insta::assert_snapshot!(format!("{name}__{file}"), got);
}

/// cells.csv as (header, rows of name -> value).
pub(crate) fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(|v| v.to_string()))
                .collect()
        })
        .collect()
}

/// The heatmaps' number formats (`units::mib_short`, `figure::times`), written out again
/// here so the expected values do not come from the code under test.
fn mib(kib: f64) -> String {
    let m = kib / 1024.0;
    let m = if m.abs() < 0.005 { 0.0 } else { m };
    if m.abs() >= 100.0 {
        format!("{m:.0}")
    } else if m.abs() >= 10.0 {
        format!("{m:.1}")
    } else {
        format!("{m:.2}")
    }
}

fn times(a: f64) -> String {
    if a >= 100.0 {
        format!("{a:.0}x")
    } else if a >= 1.0 {
        format!("{a:.1}x")
    } else {
        format!("{a:.2}x")
    }
}

#[test]
fn a_report_from_fixture_results_gives_the_expected_files() {
    for name in ["glibc-default", "tunables"] {
        let (code, stdout, stderr, tmp) = report(name, &[]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let out = tmp.path().join("out");
        snapshot(name, "cells.csv", &read(&out.join("cells.csv")));
        snapshot(name, "summary.md", &read(&out.join("summary.md")));
        for f in ["index.html", "plan.json", "results.jsonl"] {
            assert!(out.join(f).is_file(), "{name}: no {f}");
        }
        let rows = csv_rows(&read(&out.join("cells.csv")));
        for r in &rows {
            let group = format!("{}--{}--{}", r["profile"], r["binding"], r["pattern"]);
            for metric in [
                "amplification",
                "delta-gil",
                "delta-nogil",
                "arena-heaps",
                "reclaimable",
            ] {
                for ext in ["svg", "png"] {
                    let f = out.join(format!("{metric}--{group}.{ext}"));
                    assert!(f.is_file(), "{name}: no {}", f.display());
                }
            }
        }
        let series: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("timeseries--"))
            .collect();
        assert_eq!(series.len(), 2, "{name}: one time series, SVG and PNG");
    }
}

#[test]
fn the_report_is_the_same_every_time() {
    let (_, _, _, a) = report("glibc-default", &[]);
    let (_, _, _, b) = report("glibc-default", &[]);
    for f in [
        "cells.csv",
        "summary.md",
        "index.html",
        "amplification--glibc-default--pyo3--churn.svg",
    ] {
        assert_eq!(
            read(&a.path().join("out").join(f)),
            read(&b.path().join("out").join(f)),
            "{f} differs between two renders"
        );
    }
}

#[test]
fn svgs_hold_each_cells_values_and_cells_csv_matches_the_raw_runs() {
    let (code, stdout, stderr, tmp) = report("glibc-default", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let out = tmp.path().join("out");
    let rows = csv_rows(&read(&out.join("cells.csv")));
    assert_eq!(rows.len(), 12, "3 x 2 points x 2 patterns");
    let runs: Vec<Value> = std::fs::read_to_string(fixture("glibc-default").join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for r in &rows {
        let group = format!("{}--{}--{}", r["profile"], r["binding"], r["pattern"]);
        let svg = |metric: &str| read(&out.join(format!("{metric}--{group}.svg")));
        let num = |k: &str| r[k].parse::<f64>().unwrap();
        let amp = svg("amplification");
        let want = times(num("amplification"));
        assert!(
            amp.contains(&format!(">\n{want}")),
            "{group}: {want} not in the amplification SVG"
        );
        assert!(svg("delta-nogil").contains(&mib(num("nogil_delta_kib"))));
        assert!(svg("delta-gil").contains(&mib(num("gil_delta_kib"))));
        assert!(svg("reclaimable").contains(&mib(num("nogil_reclaimable_kib"))));

        // The medians, recomputed here from results.jsonl.
        let deltas = |build: &str| {
            let mut v: Vec<f64> = runs
                .iter()
                .filter(|x| {
                    x["build"] == build
                        && x["pattern"] == r["pattern"].as_str()
                        && x["python_threads"] == r["python_threads"].parse::<u64>().unwrap()
                        && x["rust_threads"] == r["rust_threads"].parse::<u64>().unwrap()
                })
                .map(|x| x["metrics"]["delta_kib"].as_f64().unwrap())
                .collect();
            v.sort_by(f64::total_cmp);
            assert_eq!(v.len(), 5);
            v[2]
        };
        let (g, n) = (deltas("gil"), deltas("nogil"));
        assert_eq!(num("gil_delta_kib"), g);
        assert_eq!(num("nogil_delta_kib"), n);
        let amplification = n.max(0.0) / g.max(256.0);
        assert!(
            (num("amplification") - amplification).abs() < 1e-12,
            "{group}"
        );
    }
    // The legend that explains the markers is in every heatmap.
    assert!(
        read(&out.join("amplification--glibc-default--pyo3--seed.svg"))
            .contains("Benjamini-Hochberg")
    );
}

#[test]
fn the_tunables_report_ranks_profiles_and_keeps_the_default() {
    let (code, stdout, stderr, tmp) = report("tunables", &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Every profile of this sweep uses more memory than glibc-default, or differs
    // within noise (preload-jemalloc): nothing to recommend.
    assert!(
        stdout.contains(
            "keep the default: no profile differs from glibc-default beyond noise and margin"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("arena-max-1: saving -142.83 MiB [-158.09, -105.10] vs glibc-default over 2 point(s), margin 1.26 MiB: uses more memory, beyond noise and margin"),
        "{stdout}"
    );
    assert!(!stdout.contains("recommended profile"), "{stdout}");
    let out = tmp.path().join("out");
    let html = read(&out.join("index.html"));
    for part in [
        "Keep the default (glibc-default)",
        "Allocator profiles",
        "arena-max-1",
        "preload-jemalloc",
        "<svg",
        "cells.csv",
    ] {
        assert!(html.contains(part), "index.html lacks {part}");
    }
    assert!(out.join("pareto.svg").is_file() && out.join("pareto.png").is_file());
}

#[test]
fn every_string_from_input_is_escaped_in_the_html() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        fixture("tunables").join("results.jsonl"),
        dir.join("results.jsonl"),
    )
    .unwrap();
    let mut plan: Value =
        serde_json::from_str(&read(&fixture("tunables").join("plan.json"))).unwrap();
    let evil = "<script>alert(1)</script>";
    plan["plan"]["name"] = Value::from(format!("n{evil}"));
    plan["plan"]["description"] = Value::from(format!("d{evil}"));
    plan["plan"]["profiles"][0]["description"] = Value::from(format!("p{evil}\"'"));
    plan["provenance"]["interpreters"][0]["executable"] =
        Value::from("/x/<img src=x onerror=alert(2)>");
    plan["provenance"]["host"]["hostname"] = Value::from(format!("h{evil}"));
    std::fs::write(dir.join("plan.json"), serde_json::to_vec(&plan).unwrap()).unwrap();
    let o = bin().arg("report").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let html = read(&dir.join("index.html"));
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "unescaped input in index.html"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    let md = read(&dir.join("summary.md"));
    assert!(!md.contains("<script"), "unescaped input in summary.md");
}

#[test]
fn compare_shows_what_changed_at_each_point() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = bin()
        .arg("compare")
        .arg(fixture("glibc-default"))
        .arg(fixture("arena-max-2"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("glibc-default -> arena-max-2"), "{stdout}");
    let rows = csv_rows(&read(&out.join("compare.csv")));
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let a: f64 = r["nogil_delta_kib_a"].parse().unwrap();
        let b: f64 = r["nogil_delta_kib_b"].parse().unwrap();
        assert_eq!(r["nogil_change_kib"].parse::<f64>().unwrap(), b - a);
        let svg = read(&out.join(format!(
            "compare-delta-nogil--glibc-default-vs-arena-max-2--pyo3--{}.svg",
            r["pattern"]
        )));
        let sign = if b - a > 0.0 { "+" } else { "" };
        assert!(
            svg.contains(&format!("{sign}{}", mib(b - a))),
            "{}: change not in the diff heatmap",
            r["pattern"]
        );
        assert!(out
            .join(format!(
                "compare-amplification--glibc-default-vs-arena-max-2--pyo3--{}.png",
                r["pattern"]
            ))
            .is_file());
    }
}

#[test]
fn fail_on_gates_exit_3() {
    // The tunables fixture has HIGH points (arena-max-1); glibc-default's worst is MEDIUM.
    let (code, stdout, _, _) = report("tunables", &["--fail-on-risk", "high"]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("gate tripped at") && stdout.contains("risk HIGH"),
        "{stdout}"
    );
    let (code, stdout, _, _) = report("glibc-default", &["--fail-on-risk", "high"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("gates passed"), "{stdout}");
    let (code, _, _, _) = report("glibc-default", &["--fail-on-risk", "medium"]);
    assert_eq!(code, 3);
    let (code, stdout, _, _) = report("glibc-default", &["--fail-on-amplification", "3"]);
    assert_eq!(code, 3, "{stdout}");
    let (code, _, _, _) = report("glibc-default", &["--fail-on-amplification", "1000"]);
    assert_eq!(code, 0);
    // compare gates on B.
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("compare")
        .arg(fixture("glibc-default"))
        .arg(fixture("arena-max-2"))
        .args(["--fail-on-risk", "high", "--out"])
        .arg(tmp.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
}

#[test]
fn bad_input_is_a_one_line_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let no_results = tmp.path().join("no-results");
    std::fs::create_dir(&no_results).unwrap();
    std::fs::copy(
        fixture("tunables").join("plan.json"),
        no_results.join("plan.json"),
    )
    .unwrap();
    let garbage = tmp.path().join("garbage");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::copy(
        fixture("tunables").join("plan.json"),
        garbage.join("plan.json"),
    )
    .unwrap();
    std::fs::write(garbage.join("results.jsonl"), "not json\n").unwrap();
    let missing = tmp.path().join("no-such-folder");
    let fx = fixture("tunables");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec!["report".into(), s(&missing)], s(&missing)),
        (
            vec!["report".into(), s(&empty)],
            s(&empty.join("plan.json")),
        ),
        (
            vec!["report".into(), s(&no_results)],
            "no results.jsonl".into(),
        ),
        (
            vec!["report".into(), s(&garbage)],
            "no readable run record".into(),
        ),
        (vec!["compare".into(), s(&fx), s(&missing)], s(&missing)),
        (
            vec![
                "report".into(),
                s(&fx),
                "--fail-on-risk".into(),
                "extreme".into(),
            ],
            "--fail-on-risk".into(),
        ),
        (
            vec![
                "report".into(),
                s(&fx),
                "--fail-on-amplification".into(),
                "abc".into(),
            ],
            "--fail-on-amplification".into(),
        ),
        (
            vec![
                "report".into(),
                s(&fx),
                "--timeseries-cell".into(),
                "8".into(),
            ],
            "--timeseries-cell".into(),
        ),
    ];
    for (args, needle) in cases {
        let o = bin().args(&args).output().unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}:\n{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(&needle),
            "{args:?}: the first line should name {needle}:\n{stderr}"
        );
        if args[0] != "report" || !args.iter().any(|a| a.starts_with("--")) {
            assert_eq!(
                stderr.trim_end().lines().count(),
                1,
                "{args:?}: one line:\n{stderr}"
            );
        }
    }
    assert_eq!(
        count_entries(&empty),
        0,
        "nothing is written into a folder that is not a report"
    );
}

#[test]
fn timeseries_cells_can_be_chosen() {
    let (code, stdout, stderr, tmp) = report(
        "glibc-default",
        &["--timeseries-cell", "4x16", "--timeseries-cell", "1x4"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let out = tmp.path().join("out");
    for cell in ["4x16", "1x4"] {
        for pattern in ["seed", "churn"] {
            let f = out.join(format!(
                "timeseries--glibc-default--pyo3--{pattern}--{cell}.png"
            ));
            assert!(f.is_file(), "no {}", f.display());
        }
    }
}

/// A report folder written by a newer arena-sweep (a `format` above this build's) is
/// refused by `report`, `run --resume` and `merge` with an error that names the file
/// and the versions this build reads, instead of being misread or having its lines
/// skipped as damaged; nothing is written.
#[test]
fn folders_of_a_newer_format_are_refused_by_report_resume_and_merge() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("tests/fixtures/reports/tunables");
    let tmp = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for f in ["plan.json", "results.jsonl"] {
            std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
        }
        dir
    };
    let reads = format!(
        "this build of arena-sweep ({}) reads format versions 1 to 3 (1: files without a `format` field)",
        env!("CARGO_PKG_VERSION")
    );
    // plan.json from the future.
    let newer_plan = copy("newer-plan");
    let mut plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(newer_plan.join("plan.json")).unwrap()).unwrap();
    plan["format"] = 4.into();
    std::fs::write(newer_plan.join("plan.json"), plan.to_string()).unwrap();
    // A results line from the future (its plan.json is an unversioned one).
    let newer_line = copy("newer-line");
    let results = std::fs::read_to_string(newer_line.join("results.jsonl")).unwrap();
    let second = results.lines().nth(1).unwrap();
    let changed = format!("{{\"format\":4,{}", &second[1..]);
    std::fs::write(
        newer_line.join("results.jsonl"),
        results.replacen(second, &changed, 1),
    )
    .unwrap();
    let plan_file = newer_plan.join("plan.json").display().to_string();
    let results_file = newer_line.join("results.jsonl").display().to_string();
    let merged = tmp.path().join("merged");
    let cases: Vec<(Vec<&std::ffi::OsStr>, String)> = vec![
        (
            vec!["report".as_ref(), newer_plan.as_os_str()],
            format!("Error: {plan_file} has format version 4, written by a newer arena-sweep; {reads}. Read it with a newer arena-sweep."),
        ),
        (
            vec!["report".as_ref(), newer_line.as_os_str()],
            format!("Error: {results_file} line 2 has format version 4, written by a newer arena-sweep; {reads}. Read it with a newer arena-sweep."),
        ),
        (
            vec!["run".as_ref(), "--resume".as_ref(), newer_plan.as_os_str()],
            format!("Error: --resume: {plan_file} has format version 4, written by a newer arena-sweep; {reads}. Read it with a newer arena-sweep."),
        ),
        (
            vec![
                "merge".as_ref(),
                newer_line.as_os_str(),
                fixture.as_os_str(),
                "--out".as_ref(),
                merged.as_os_str(),
            ],
            format!("Error: {results_file} line 2 has format version 4, written by a newer arena-sweep; {reads}. Read it with a newer arena-sweep."),
        ),
    ];
    let listing = || {
        let mut v: Vec<String> = walk(tmp.path());
        v.sort();
        v
    };
    let before = listing();
    for (args, expected) in cases {
        let cache = tempfile::tempdir().unwrap();
        let o = bin()
            .env("ARENA_SWEEP_CACHE", cache.path())
            .args(&args)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}:\n{stdout}{stderr}");
        assert_eq!(stderr.lines().next().unwrap_or(""), expected, "{args:?}");
        assert_eq!(listing(), before, "{args:?}: something was written");
    }
}

/// Every file under `dir`, with its size.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(format!(
                "{} {}",
                path.display(),
                e.metadata().unwrap().len()
            ));
        }
    }
    out
}
