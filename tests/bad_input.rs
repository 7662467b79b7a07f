//! Bad input from issue 2's list: each gets a one-line error naming the cause and the
//! fix, exit code 2 for usage errors and 1 for run failures, and nothing is written.

mod common;

use common::*;

fn run_bad(args: &[&str]) -> (i32, String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(args)
        .arg("--out")
        .arg(out.path().join("reports"))
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    (o.status.code().unwrap_or(-1), stderr, out)
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let (gil, nogil) = pair();
    let (gil, nogil) = (
        gil.to_str().unwrap().to_string(),
        nogil.to_str().unwrap().to_string(),
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--python-gil", &gil, "--python-nogil", &gil],
            "--python-nogil",
        ),
        (
            vec!["--python-gil", &nogil, "--python-nogil", &nogil],
            "is a free-threaded (nogil) build",
        ),
        (
            vec!["--python-gil", "/etc/hostname", "--python-nogil", &nogil],
            "--python-gil",
        ),
        (
            vec!["--python-gil", "/no/such/python", "--python-nogil", &nogil],
            "does not exist",
        ),
        (vec!["--python-threads", "0"], "thread counts start at 1"),
        (
            vec!["--rust-threads", "1..=4:x1"],
            "factor must be at least 2",
        ),
        (
            vec!["--python-threads", "64", "--rust-threads", "100000"],
            "threads at once",
        ),
        (vec!["--pattern-params", "size=big"], "--pattern-params"),
        (vec!["--sample-interval", "5parsecs"], "unknown unit"),
    ];
    for (args, needle) in cases {
        let (code, stderr, out) = run_bad(&args);
        assert_eq!(code, 2, "{args:?} should be a usage error:\n{stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected `{needle}` in:\n{stderr}"
        );
        let error_lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("Error:") || l.starts_with("error:"))
            .collect();
        assert_eq!(
            error_lines.len(),
            1,
            "one error line for {args:?}:\n{stderr}"
        );
        assert_eq!(
            count_entries(&out.path().join("reports")),
            0,
            "{args:?} wrote something"
        );
    }
}

#[test]
fn an_old_python_is_refused_with_the_fix() {
    let (_, nogil) = pair();
    // The pyenv 3.11 of this machine, or any python3 older than 3.13 on PATH.
    let old = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| !p.is_empty())
        .expect("a python3 on PATH");
    let (code, stderr, _out) = run_bad(&[
        "--python-gil",
        &old,
        "--python-nogil",
        nogil.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no free-threaded build") && stderr.contains("pythons install 3.13"),
        "{stderr}"
    );
}

#[test]
fn a_failing_extension_build_is_a_run_failure_with_the_log() {
    let (gil, nogil) = pair();
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .env("ARENA_SWEEP_CACHE", cache.path())
        .env("CARGO", "/bin/false")
        .arg("--python-gil")
        .arg(&gil)
        .arg("--python-nogil")
        .arg(&nogil)
        .args([
            "--python-threads",
            "1",
            "--rust-threads",
            "1",
            "--reps",
            "1",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("building the PoC extension for CPython"),
        "{stderr}"
    );
    assert!(stderr.contains("full log:"), "{stderr}");
    assert_eq!(
        count_entries(out.path()),
        0,
        "no report folder for a run that never started"
    );
}
