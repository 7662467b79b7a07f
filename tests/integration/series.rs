//! The time series of a run, end to end on the real interpreter pair and the real
//! kernel: the kernel's `kmem:rss_stat` events where they can be had and are asked
//! for (`ARENA_SWEEP_SERIES=events`; the tests run as root, as the sweeps here do),
//! the sampler where they cannot (a process without CAP_PERFMON and CAP_SYS_ADMIN,
//! and a user that cannot read tracefs), and the figure drawn from them.

use crate::common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// How far VmHWM may sit from the exact peak (the kernel's per-CPU counter bound:
/// see `vm_hwm_slack_kib`).
fn hwm_bound_kib() -> u64 {
    arena_sweep::sampler::events::vm_hwm_slack_kib()
}

/// Kernel 6.16 and later read /proc's RSS as exact sums of the per-CPU counters.
fn proc_sums_per_cpu_counters() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (v.next().unwrap(), v.next().unwrap()) >= (6, 16)
}

fn field(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

#[test]
fn the_first_command_draws_each_run_from_its_exact_series() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .env("ARENA_SWEEP_SERIES", "events")
        .args([
            "--python-threads",
            "8",
            "--rust-threads",
            "50",
            "--no-install",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("time series source: kernel events"),
        "{stdout}"
    );
    let dir = report_dir(out.path());
    let all = records(&dir);
    // 3 reps of each build, and as many control runs (0 Rust threads).
    assert_eq!(all.len(), 12);
    let (control, recs): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|r| r["rust_threads"] == 0);
    assert_eq!(control.len(), 6);
    for r in &control {
        assert_eq!(r["series_source"], "kernel events", "{}", r["run_id"]);
    }
    for r in &recs {
        let id = &r["run_id"];
        assert_eq!(r["series_source"], "kernel events", "{id}");
        let s = &r["series"];
        let points = s["t_us"].as_array().unwrap().len();
        assert!(points >= 200, "{id}: {points} points");
        let ev = &s["events"];
        assert_eq!(field(ev, "lost"), 0, "{id}");
        // 10 calls of 50 Rust threads from each of 8 Python threads.
        assert!(field(ev, "thread_starts") >= 8 * 10 * 50, "{id}: {ev}");
        // The rebuilt RSS at the done pause is what /proc said there, kind by kind:
        // since 6.16 /proc sums the per-CPU counters as the tracepoint does (before,
        // it read them without their per-CPU parts: within the batch bound).
        let (at, proc_) = (&s["at_done"], &r["phases"]["done"]);
        let slack = if proc_sums_per_cpu_counters() {
            0
        } else {
            hwm_bound_kib()
        };
        for k in ["rss_kib", "rss_anon_kib", "rss_file_kib", "rss_shmem_kib"] {
            let (a, p) = (field(at, k), field(proc_, k));
            assert!(
                a.abs_diff(p) <= slack,
                "{id}: {k} at done, series {a} vs /proc {p}"
            );
        }
        assert_eq!(field(at, "threads"), field(proc_, "threads"), "{id}");
        // The exact peak against the kernel's own.
        let m = &r["metrics"];
        let (peak, hwm) = (field(m, "peak_rss_kib"), field(m, "vm_hwm_kib"));
        assert!(
            peak.abs_diff(hwm) <= hwm_bound_kib(),
            "{id}: peak {peak} KiB vs VmHWM {hwm} KiB (bound {} KiB)",
            hwm_bound_kib()
        );
        let max_rss = s["rss_kib"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .max();
        assert_eq!(max_rss, Some(peak), "{id}: the peak is the series' own");
        let max_threads = s["threads"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .max();
        assert_eq!(max_threads, Some(field(m, "peak_threads")), "{id}");
        let marks = &s["marks"];
        let (done, trimmed) = (
            marks["done_ms"].as_f64().unwrap(),
            marks["trimmed_ms"].as_f64().unwrap(),
        );
        let peak_t = s["peak_t_ms"].as_f64().unwrap();
        assert!(
            0.0 < peak_t && peak_t <= trimmed && done <= trimmed,
            "{id}: {marks} {peak_t}"
        );
    }
    let svg = std::fs::read_to_string(dir.join("timeseries--glibc-default--pyo3--seed--8x50.svg"))
        .unwrap();
    assert!(
        svg.contains("series source: kernel events"),
        "the figure says where its series came from"
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("series source: kernel events"));
}

/// The lines of a time-series SVG drawn in a build's colour with more than `min`
/// points (the runs' RSS lines; marks and legend keys have two).
fn run_lines(svg: &str, min: usize) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p.contains("stroke=\"#0072B2\"") || p.contains("stroke=\"#D55E00\""))
        .filter(|p| {
            let pts = p
                .split("points=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("");
            pts.split_whitespace().count() > min
        })
        .count()
}

#[test]
fn run_matrix_quick_draws_a_series_for_every_run() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.env("ARENA_SWEEP_SERIES", "events");
    cmd.args(["run", "--matrix", "quick", "--no-install"]);
    for cell in ["1x2", "1x8", "2x2", "2x8"] {
        cmd.args(["--timeseries-cell", cell]);
    }
    let o = cmd.arg("--out").arg(out.path()).output().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let dir = report_dir(out.path());
    let recs = records(&dir);
    // 4 points and 2 control points, 2 builds, 2 reps.
    assert_eq!(recs.len(), 24);
    for r in &recs {
        let n = r["series"]["rss_kib"].as_array().unwrap().len();
        // Runs of 3 calls last tens of ms: the sampler saw one point in each. A
        // control run starts no Rust thread, and its series is shorter.
        let min = if r["rust_threads"] == 0 { 2 } else { 20 };
        assert!(n >= min, "{}: {n} points", r["run_id"]);
    }
    for cell in ["1x2", "1x8", "2x2", "2x8"] {
        let svg = std::fs::read_to_string(
            dir.join(format!("timeseries--glibc-default--pyo3--seed--{cell}.svg")),
        )
        .unwrap();
        // 2 reps x 2 builds, each its own RSS line (the medians' thread lines too).
        assert!(
            run_lines(&svg, 20) >= 4,
            "{cell}: {} run lines",
            run_lines(&svg, 20)
        );
        let labels: Vec<&str> = svg.split("<text").skip(1).collect();
        assert!(!labels.is_empty());
    }
}

/// Run `arena-sweep` with `setpriv` arguments in front.
fn as_restricted(setpriv: &[&str], args: &[&str], out: Option<&Path>) -> (bool, String, String) {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.env("ARENA_SWEEP_SERIES", "events")
        .args(setpriv)
        .arg(assert_cmd::cargo::cargo_bin("arena-sweep"))
        .args(args);
    if let Some(out) = out {
        cmd.arg("--out").arg(out);
    }
    let o = cmd.output().expect("setpriv (util-linux)");
    let (a, b) = text(&o);
    (o.status.success(), a, b)
}

#[test]
fn without_cap_perfmon_the_sweep_samples_and_says_why() {
    // Root without CAP_PERFMON and CAP_SYS_ADMIN, as in a container: the kernel
    // refuses the raw tracepoint records unless perf_event_paranoid is -1.
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        paranoid > -1,
        "this check needs kernel.perf_event_paranoid above -1 (it is {paranoid})"
    );
    let out = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = as_restricted(
        &["--bounding-set=-perfmon,-sys_admin"],
        &[
            "--python-threads",
            "2",
            "--rust-threads",
            "4",
            "--reps",
            "1",
            "--no-install",
            "--sample-interval",
            "10ms",
        ],
        Some(out.path()),
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("time series source: sampler (perf_event_open refused"),
        "{stdout}"
    );
    let dir = report_dir(out.path());
    for r in records(&dir) {
        let source = r["series_source"].as_str().unwrap();
        assert!(
            source.starts_with("sampler (perf_event_open refused")
                && source.contains("CAP_PERFMON"),
            "{source}"
        );
        assert!(r["series"]["t_ms"].as_array().unwrap().len() >= 2);
        assert!(r["series"]["events"].is_null());
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("series source: sampler (perf_event_open refused"));
}

#[test]
fn nobody_samples_a_live_process_and_says_why_not_the_events() {
    let nobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    let mut target = std::process::Command::new("setpriv")
        .args(nobody)
        .args([
            "/usr/bin/python3",
            "-c",
            "import time; x = bytearray(8 << 20); time.sleep(5)",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = target.id().to_string();
    let (ok, stdout, stderr) =
        as_restricted(&nobody, &["sample", &pid, "--duration", "200ms"], None);
    let _ = target.kill();
    let _ = target.wait();
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("source: sampler (kernel events cannot be had: tracefs at /sys/kernel/tracing is not readable by uid 65534"),
        "{stdout}"
    );
    assert!(stdout.contains("peak RSS"), "{stdout}");
    // Asked for the events outright, it fails and says why.
    let (ok, _, stderr) = as_restricted(
        &nobody,
        &["sample", "1", "--source", "events", "--duration", "10ms"],
        None,
    );
    assert!(!ok);
    assert!(stderr.contains("rss_stat events cannot be had"), "{stderr}");
}

#[test]
fn sample_records_a_live_process_from_the_events() {
    let mut target = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import time\ntime.sleep(0.2)\nx = bytearray(16 << 20)\ntime.sleep(0.3)",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("s.csv");
    let o = bin()
        .args([
            "sample",
            &target.id().to_string(),
            "--duration",
            "5s",
            "--csv",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    target.wait().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("source: kernel events;"), "{stdout}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    // 16 MiB touched page by page: thousands of changes, and the peak holds them.
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let peak = rows.iter().map(|r| r[1]).fold(0.0, f64::max);
    let first = rows[0][1];
    assert!(
        peak >= first + 16.0 * 1024.0 - 512.0,
        "peak {peak} KiB from {first} KiB"
    );
    // The process exited before the 5 s were over: the recording ended with it.
    assert!(text.lines().count() > 1);
}

#[test]
fn where_no_run_has_a_series_the_report_says_why_instead_of_drawing_axes() {
    // By default a sweep samples every 100 ms, and the quick matrix's runs last tens
    // of ms: one sample each.
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["run", "--matrix", "quick", "--no-install", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("time series source: sampler (the default;"),
        "{stdout}"
    );
    let dir = report_dir(out.path());
    let drawn: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("timeseries"))
        .collect();
    let single = records(&dir)
        .iter()
        .all(|r| r["series"]["t_ms"].as_array().unwrap().len() < 2);
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    if single {
        assert!(drawn.is_empty(), "{drawn:?}");
        assert!(
            html.contains("No RSS-over-time figure at")
                && html.contains("a run shorter than the interval has one"),
            "the page says why there is no figure"
        );
    } else {
        // A slow machine let some run reach a second sample: then it is drawn.
        assert_eq!(drawn.len(), 2, "{drawn:?}");
    }
}
