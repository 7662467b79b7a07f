//! A workload's packages are the same in both builds, or refused before any run.
//!
//! Real packages from the package index (each test installs into arena-sweep's cache
//! once; later runs reuse it): `scipy` unpinned resolves, on its own, to a release
//! with no cp313t wheel for the GIL build (1.18.1, on 2026-12-07) and to an older one
//! for the free-threaded build; arena-sweep resolves once for the free-threaded build
//! and pins the GIL build to the same versions, dependencies (numpy) included, and
//! plan.json records both sets. `orjson` has no cp313t wheel at all: refused, naming
//! the package, version and ABI, with no report folder made. With the index
//! unreachable and no cached environment, a clear error; with the cache filled, the
//! same run installs nothing.

use crate::common;

use std::path::Path;

use common::*;

const SMALL: &[&str] = &[
    "--python-threads",
    "1",
    "--rust-threads",
    "2",
    "--reps",
    "1",
    "--iterations",
    "1",
    "--no-install",
];

fn workload(dir: &Path, name: &str, requires: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("\"\"\"A test workload.\"\"\"\n# requires: {requires}\n{body}\n\ndef call(rust_threads, worker_id, iteration):\n    return 0\n"),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn an_unpinned_dependency_gets_the_same_versions_in_both_builds() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), "kdtree.py", "scipy", "import scipy.spatial");
    let out = dir.path().join("out");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let plan = plan(&report_dir(&out));
    let installed = &plan["plan"]["workload"]["installed"];
    let (gil, nogil) = (&installed["gil"], &installed["nogil"]);
    assert!(
        nogil["scipy"].is_string() && nogil["numpy"].is_string(),
        "the free-threaded set holds scipy and its dependency numpy: {installed}"
    );
    assert_eq!(gil, nogil, "both builds hold the same versions");
    // The GIL build alone would not have: what its pip picks for `scipy` unpinned.
    let (gil_python, _) = pair();
    let venv = dir.path().join("venv");
    let ok = std::process::Command::new(&gil_python)
        .args(["-I", "-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success());
    let alone = std::process::Command::new(venv.join("bin/python"))
        .args([
            "-I",
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--only-binary=:all:",
            "--quiet",
            "--report",
            "-",
            "scipy",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap_or_else(|e| {
        panic!(
            "pip's report: {e}: {}",
            String::from_utf8_lossy(&alone.stderr)
        )
    });
    let newest = report["install"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "scipy")
        .and_then(|i| i["metadata"]["version"].as_str())
        .unwrap_or_else(|| panic!("pip would not install scipy: {report}"))
        .to_string();
    assert_ne!(
        nogil["scipy"].as_str().unwrap(),
        newest,
        "the GIL build alone resolves scipy to {newest} too: its newest release has a cp313t \
         wheel now, so this test no longer shows the two builds resolving differently; pick \
         another package whose newest release has none"
    );
    // The header line and the report say what was installed.
    let line = format!("scipy {}", nogil["scipy"].as_str().unwrap());
    assert!(stdout.contains(&line), "{stdout}");
    let summary = std::fs::read_to_string(report_dir(&out).join("summary.md")).unwrap();
    assert!(
        summary.contains("Workload packages: ")
            && summary.contains("(the same in both builds)")
            && summary.contains(&line),
        "{summary}"
    );

    // The second run installs nothing, even with the index unreachable.
    let out2 = dir.path().join("out2");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(&out2)
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("Installing"), "{stdout}");
}

#[test]
fn a_requirement_with_no_wheel_for_the_free_threaded_abi_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), "json.py", "orjson==3.11.5", "import orjson");
    let out = dir.path().join("out");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{w}:2: orjson==3.11.5 has no wheel for cp313t"))
            && stderr.contains("never builds a package from its source distribution"),
        "{stderr}"
    );
    assert_eq!(count_entries(&out), 0, "nothing ran: no report folder");
}

#[test]
fn offline_with_no_cached_environment_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A requirement set no run has used (`!=` a version that does not exist), so no
    // cached environment exists for it.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let w = workload(
        dir.path(),
        "offline.py",
        &format!("blake3==1.0.8, xxhash!=0.0.{nanos}"),
        "import blake3",
    );
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(dir.path().join("out"))
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the package index cannot be reached (offline?)")
            && stderr.contains("run once with network access"),
        "{stderr}"
    );
    assert_eq!(count_entries(&dir.path().join("out")), 0, "nothing ran");
}

#[test]
fn a_resume_must_install_the_recorded_versions_and_old_folders_still_resume() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), "hash.py", "blake3==1.0.8", "import blake3");
    let out = dir.path().join("out");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let folder = report_dir(&out);
    let resume = || {
        bin()
            .args(["run", "--no-install", "--resume"])
            .arg(&folder)
            .output()
            .unwrap()
    };
    let o = resume();
    assert!(
        o.status.success(),
        "the same versions resume: {:?}",
        text(&o)
    );

    let path = folder.join("plan.json");
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        plan["plan"]["workload"]["installed"]["gil"]["blake3"],
        "1.0.8"
    );
    // Runs recorded with another version cannot be continued with this one.
    plan["plan"]["workload"]["installed"]["gil"]["blake3"] = "1.0.7".into();
    std::fs::write(&path, plan.to_string()).unwrap();
    let o = resume();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the plan has changed") && stderr.contains("1.0.7"),
        "{stderr}"
    );
    // A folder written before the versions were recorded still resumes.
    plan["plan"]["workload"]
        .as_object_mut()
        .unwrap()
        .remove("installed");
    std::fs::write(&path, plan.to_string()).unwrap();
    let o = resume();
    assert!(o.status.success(), "an old folder resumes: {:?}", text(&o));
}
