//! The advice on real sweeps: profiles that do not differ from glibc-default beyond
//! noise and margin end with "keep the default" (terminal, summary.md, index.html),
//! and a profile that really saves memory is still recommended, with its interval.
//! Also the environment a child gets (--env, --pass-env), recorded in plan.json and
//! seen by the workload.

use crate::common;

use common::*;

/// Run a sweep into a fresh folder; returns (stdout, report folder).
fn sweep(args: &[&str]) -> (String, std::path::PathBuf, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(args)
        // Judged on final RSS, as a sweep without a control arm judges it (the net
        // rule's figures are checked in risk::evidence's tests).
        .args(["--no-control", "--seed", "7", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{args:?}:\n{stdout}\n{stderr}");
    let dir = report_dir(out.path());
    (stdout, dir, out)
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn profiles_within_noise_keep_the_default() {
    // The talk's PoC allocates 64 MiB Vecs it never touches: capping arenas or
    // trimming earlier changes the final RSS by a fraction of a MiB at most.
    let (stdout, dir, _tmp) = sweep(&[
        "--python-threads",
        "4,8",
        "--rust-threads",
        "16",
        "--tunables",
        "glibc-default,arena-max-2,trim-threshold-128k",
        "--reps",
        "3",
    ]);
    assert!(
        stdout.contains(
            "keep the default: no profile differs from glibc-default beyond noise and margin"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("recommended profile:"), "{stdout}");
    // Each profile's figure is shown with its interval and what the rule made of it.
    for p in ["arena-max-2: ", "trim-threshold-128k: "] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(p))
            .unwrap_or_else(|| panic!("no evidence line for {p}:\n{stdout}"));
        assert!(
            line.contains("vs glibc-default over 2 point(s), margin 1.00 MiB"),
            "{line}"
        );
        assert!(
            line.contains("within noise") || line.contains("below the margin"),
            "{line}"
        );
    }
    assert!(stdout.contains("for more power: "), "{stdout}");
    let md = read(&dir.join("summary.md"));
    assert!(md.contains("## Recommendation: keep the default"), "{md}");
    assert!(md.contains("**Keep glibc-default**"), "{md}");
    assert!(!md.contains("GLIBC_TUNABLES="), "{md}");
    let html = read(&dir.join("index.html"));
    assert!(html.contains("<h3>Keep the default (glibc-default)</h3>"));
    assert!(
        !html.contains("class=\"rec\""),
        "no green recommendation box"
    );
}

#[test]
fn a_profile_that_really_saves_memory_is_recommended() {
    // Blocks of 128 KiB..4 MiB: glibc's dynamic mmap threshold rises and later
    // blocks stay in the arenas; a fixed 128 KiB threshold returns every one to the
    // kernel on free.
    let (stdout, dir, _tmp) = sweep(&[
        "--pattern",
        "large:max=4194304",
        "--python-threads",
        "2,4",
        "--rust-threads",
        "8",
        "--tunables",
        "glibc-default,mmap-threshold-128k",
        "--reps",
        "3",
    ]);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("recommended profile"))
        .unwrap_or_else(|| panic!("no recommendation:\n{stdout}"));
    // Blocks the kernel faults in anew on every call cost throughput; the headline
    // says so when the cost is above 10%.
    assert!(
        line.ends_with(": mmap-threshold-128k: GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072"),
        "{line}"
    );
    let reason = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("(free-threaded final RSS "))
        .unwrap_or_else(|| panic!("no reason:\n{stdout}"));
    // "(free-threaded final RSS 12.34 MiB less than glibc-default [95% CI a, b] ..."
    let saved: f64 = reason
        .trim_start()
        .trim_start_matches("(free-threaded final RSS ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(saved >= 4.0, "a real saving is several MiB: {reason}");
    assert!(reason.contains("[95% CI "), "{reason}");
    let md = read(&dir.join("summary.md"));
    assert!(
        md.contains("**mmap-threshold-128k**: `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`"),
        "{md}"
    );
    let html = read(&dir.join("index.html"));
    assert!(html.contains("<h3>Recommended: mmap-threshold-128k</h3>"));
    let doc = valid_summary(&dir);
    assert_eq!(doc["advice"]["kind"], "recommend");
    assert_eq!(doc["advice"]["profile"], "mmap-threshold-128k");
    assert_eq!(
        doc["advice"]["glibc_tunables"],
        "glibc.malloc.mmap_threshold=131072"
    );
    assert!(doc["advice"]["saving_ci_mib"]["lo"].as_f64().unwrap() > 0.0);
    // The region split names where the default's memory went: glibc kept it.
    assert!(md.contains("## What the memory is"), "{md}");
}

#[test]
fn the_child_environment_is_the_users_and_is_recorded() {
    let workload = tempfile::NamedTempFile::with_suffix(".py").unwrap();
    std::fs::write(
        workload.path(),
        "import os\n\
         def setup(params):\n    assert os.environ.get('OMP_NUM_THREADS') == '3', dict(os.environ)\n    assert os.environ.get('ARENA_SWEEP_TEST_PASSED') == 'yes', dict(os.environ)\n    assert 'HOME' not in os.environ, 'nothing is inherited'\n\
         def call(rust_threads, worker_id, iteration):\n    return 0\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .env("ARENA_SWEEP_TEST_PASSED", "yes")
        .args(["--workload"])
        .arg(workload.path())
        .args([
            "--python-threads",
            "1",
            "--rust-threads",
            "1",
            "--reps",
            "1",
            "--env",
            "OMP_NUM_THREADS=3",
            "--pass-env",
            "ARENA_SWEEP_TEST_PASSED",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let plan = plan(&report_dir(out.path()));
    let env: Vec<(String, String)> =
        serde_json::from_value(plan["plan"]["env"].clone()).expect("plan.env is a list of pairs");
    assert_eq!(
        env,
        [
            ("LC_ALL", "C.UTF-8"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("OMP_NUM_THREADS", "3"),
            ("ARENA_SWEEP_TEST_PASSED", "yes"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(plan["plan"]["start"], "submit");
    // The whole environment of each profile's children.
    let child: Vec<(String, String)> =
        serde_json::from_value(plan["child_env"]["glibc-default"].clone()).unwrap();
    let names: Vec<&str> = child.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "LC_ALL",
            "PATH",
            "OMP_NUM_THREADS",
            "ARENA_SWEEP_TEST_PASSED",
            "ARENA_SWEEP_PAD"
        ]
    );
}
