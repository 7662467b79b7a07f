//! The headline path end to end: one grid point, GIL vs free-threaded, on the real
//! interpreter pair and the real extension.

use crate::common;

use common::*;
use serde_json::Value;

#[test]
fn one_cell_records_both_builds_with_sane_numbers() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "--python-threads",
            "2",
            "--rust-threads",
            "4",
            "--reps",
            "1",
            "--no-install",
            "--verify",
            // A 2 x 4 run lasts about 60 ms, less than the default 100 ms between
            // samples, so the series would hold only the sample taken as the workload
            // starts; checking that the sampler sees the threads takes a finer one.
            "--sample-interval",
            "10ms",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("amplification"), "{stdout}");
    assert!(
        stdout.contains("floor 0.25 MiB"),
        "the floor is printed next to the ratio:\n{stdout}"
    );
    assert!(stdout.contains("risk"), "{stdout}");

    // The control arm: gross, control and net figures, and the interpreter's own cost.
    for row in [
        "control delta (no native)",
        "net delta (delta - control)",
        "native amplification",
        "interpreter's own cost",
        "the talk's gross ratio",
    ] {
        assert!(stdout.contains(row), "no `{row}` row:\n{stdout}");
    }

    let dir = report_dir(out.path());
    let all = records(&dir);
    assert_eq!(
        all.len(),
        4,
        "one GIL and one nogil run, and the control run of each"
    );
    let (control, recs): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|r| r["rust_threads"] == 0);
    // Every call of every round (the default --rounds).
    let rounds = plan(&dir)["plan"]["rounds"].as_u64().unwrap();
    assert_eq!(rounds, 5);
    assert_eq!(control.len(), 2, "{all:?}");
    for r in &control {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(
            r["python_threads"], 2,
            "the control runs the same Python threads"
        );
        assert_eq!(
            r["metrics"]["calls"],
            2 * 10 * rounds,
            "and the same calls: {r}"
        );
    }
    for r in &recs {
        assert_eq!(r["status"], "ok", "{r}");
        let m = &r["metrics"];
        let build = r["build"].as_str().unwrap();
        let gil_enabled = r["child_reports"]["ready"]["gil_enabled"]
            .as_bool()
            .unwrap();
        let gil_enabled_after = r["child_reports"]["report"]["gil_enabled"]
            .as_bool()
            .unwrap();
        match build {
            "nogil" => assert!(
                !gil_enabled && !gil_enabled_after,
                "the nogil run must really run without the GIL: {r}"
            ),
            "gil" => assert!(gil_enabled && gil_enabled_after),
            other => panic!("unexpected build {other}"),
        }
        let baseline = m["baseline_rss_kib"].as_i64().unwrap();
        let final_ = m["final_rss_kib"].as_i64().unwrap();
        let delta = m["delta_kib"].as_i64().unwrap();
        assert_eq!(delta, final_ - baseline);
        // Non-negative within noise: freeing can give back a few pages, not megabytes.
        assert!(delta > -1024, "{build}: delta {delta} KiB");
        assert!(m["peak_rss_kib"].as_i64().unwrap() >= final_);
        assert_eq!(
            m["reclaimable_kib"].as_i64().unwrap(),
            final_ - m["after_trim_rss_kib"].as_i64().unwrap()
        );
        // 4 Rust threads per call run at once in either build, so glibc made arenas,
        // and the parent's smaps classifier found their heaps.
        assert!(
            m["arena_heaps"].as_u64().unwrap() >= 1,
            "{build}: no arena heap counted: {m}"
        );
        assert!(m["heap_rss_kib"].as_u64().unwrap() > 0);
        // --verify: malloc_info, after the last snapshot, counts the main arena too,
        // and its heap count matches smaps at the same pause.
        assert!(m["arenas_reported"].as_u64().unwrap() > m["arena_heaps"].as_u64().unwrap() / 2);
        assert_eq!(
            m["heaps_reported"], r["phases"]["verified"]["regions"]["arena_heaps"],
            "{build}: {r}"
        );
        assert!(m["peak_threads"].as_u64().unwrap() >= 2);
        assert_eq!(
            m["calls"].as_u64().unwrap(),
            2 * 10 * rounds,
            "2 Python threads x 10 iterations x the rounds"
        );
        // The kernel's events write times in µs (`t_us`), the sampler in ms.
        let times = r["series"]["t_us"]
            .as_array()
            .or(r["series"]["t_ms"].as_array())
            .unwrap();
        assert!(
            times.len() >= 2,
            "the time series was recorded: {}",
            r["series"]
        );
        for phase in ["ready", "done", "trimmed"] {
            assert!(r["phases"][phase].is_object(), "missing {phase} snapshot");
        }
    }

    // Each net figure in summary.json is its gross minus its control, from the runs.
    let delta = |build: &str, control: bool| -> f64 {
        let d: Vec<f64> = all
            .iter()
            .filter(|r| r["build"] == build && (r["rust_threads"] == 0) == control)
            .map(|r| r["metrics"]["delta_kib"].as_f64().unwrap())
            .collect();
        arena_sweep::stats::median(&d).unwrap() / 1024.0
    };
    let summary = valid_summary(&dir);
    let point = &summary["points"][0];
    let c = &point["control"];
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    for build in ["gil", "nogil"] {
        assert!(
            close(&point[format!("{build}_delta_mib")], delta(build, false)),
            "{point}"
        );
        assert!(
            close(&c[format!("{build}_control_delta_mib")], delta(build, true)),
            "{c}"
        );
        assert!(
            close(
                &c[format!("{build}_net_delta_mib")],
                delta(build, false) - delta(build, true)
            ),
            "{c}"
        );
    }
    assert!(close(
        &c["interpreter_cost_mib"],
        delta("nogil", true) - delta("gil", true)
    ));
    assert!(close(
        &c["native_extra_mib"],
        (delta("nogil", false) - delta("nogil", true)) - (delta("gil", false) - delta("gil", true))
    ));
    assert_eq!(summary["judge"], "native");
    assert_eq!(point["judged"], "native");
    assert_eq!(point["amplification"], c["native_amplification"]);

    let plan = plan(&dir);
    assert_eq!(plan["complete"], Value::Bool(true));
    assert_eq!(plan["plan"]["python_threads"], serde_json::json!([2]));
    let prov = &plan["provenance"];
    assert!(prov["host"]["glibc_version"]
        .as_str()
        .unwrap()
        .starts_with("2."));
    assert!(prov["host"]["ld_so_list_tunables"]
        .as_str()
        .unwrap()
        .contains("glibc.malloc.arena_max"));
    assert!(!prov["host"]["thp_enabled"].as_str().unwrap().is_empty());
    let interps = prov["interpreters"].as_array().unwrap();
    assert_eq!(interps.len(), 2);
    assert_eq!(interps[0]["gil_disabled"], Value::Bool(false));
    assert_eq!(interps[1]["gil_disabled"], Value::Bool(true));
    assert_eq!(prov["extensions"].as_array().unwrap().len(), 2);
    assert_eq!(
        plan["runs"].as_array().unwrap().len(),
        4,
        "with the control runs"
    );
    assert_eq!(plan["plan"]["control"], Value::Bool(true));
}

#[test]
fn pythons_list_shows_a_matched_pair() {
    let o = bin().args(["pythons", "list"]).output().unwrap();
    let (stdout, _) = text(&o);
    assert!(o.status.success());
    assert!(stdout.contains("Pair used:"), "{stdout}");
    assert!(
        stdout.contains("matched: same version and configure flags"),
        "{stdout}"
    );
}

#[test]
fn a_gil_forced_on_in_the_free_threaded_build_stops_the_run() {
    // A wrapper that starts the free-threaded interpreter with the GIL forced on, as a
    // PYTHON_GIL=1 in a service's environment or an old extension would. The build is
    // still free-threaded (Py_GIL_DISABLED), so it passes as --python-nogil; the
    // driver must notice that the GIL is on and the run must stop.
    let (gil, nogil) = pair();
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("python-gil-forced");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec {} -X gil=1 \"$@\"\n", nogil.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("reports");
    let o = bin()
        .arg("--python-gil")
        .arg(&gil)
        .arg("--python-nogil")
        .arg(&wrapper)
        .args([
            "--python-threads",
            "1",
            "--rust-threads",
            "2",
            "--reps",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("the GIL is enabled in the free-threaded interpreter"),
        "{stderr}"
    );
    let recs = records(&report_dir(&out));
    let nogil_rec = recs
        .iter()
        .find(|r| r["build"] == "nogil")
        .expect("the nogil run is recorded");
    assert_eq!(nogil_rec["status"], "failed");
    assert_eq!(nogil_rec["failure"]["kind"], "gil_enabled");
}
