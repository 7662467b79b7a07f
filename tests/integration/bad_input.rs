//! Bad input from issue 2's list: each gets a one-line error naming the cause and the
//! fix, exit code 2 for usage errors and 1 for run failures, and nothing is written.

use crate::common;

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
        // Sizes no process can get are refused while the plan is built, not by a
        // panicking thread in a child.
        (
            vec!["--pattern", "seed:size=18446744073709551615"],
            "--pattern seed:size=18446744073709551615: pattern `seed` would ask for a block of 18446744073709551615 bytes, more than can be allocated",
        ),
        (
            vec!["--pattern", "churn:size=1099511627776,count=1"],
            "cannot be allocated on this host",
        ),
        (
            vec![
                "--python-threads",
                "1,2",
                "--rust-threads",
                "2,4",
                "--timeseries-cell",
                "9x9",
            ],
            "--timeseries-cell 9x9: not a point of the grid (Python threads 1,2; Rust threads 2,4)",
        ),
        (
            vec!["--python-gil", "/bin/ls", "--python-nogil", &nogil],
            "/bin/ls is not a working Python interpreter: it did not run the Python probe (exit code 2)",
        ),
        (vec!["--env", "OMP_NUM_THREADS"], "--env OMP_NUM_THREADS: give NAME=VALUE"),
        (
            vec!["--env", "GLIBC_TUNABLES=glibc.malloc.arena_max=1"],
            "give glibc tunables with --tunable",
        ),
        (
            vec!["--pass-env", "ARENA_SWEEP_SURELY_UNSET"],
            "--pass-env ARENA_SWEEP_SURELY_UNSET: ARENA_SWEEP_SURELY_UNSET is not set",
        ),
        (vec!["--start", "later"], "invalid value 'later' for '--start"),
        (vec!["--min-saving-mib=-1"], "`-1` is not a number >= 0"),
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
        assert!(
            !stderr.contains("sysconfig"),
            "{args:?}: the probe's source was echoed:\n{stderr}"
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

/// Every kind of malformed input, with the exact error it gets. Run from the repo root
/// with a fresh cache: nothing may be written to the cache or the output folder, and no
/// run may start (the output folder stays absent).
#[test]
fn the_catalogue_of_bad_input_and_its_exact_errors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let f = "tests/fixtures/bad-input";
    let abs = |p: &str| root.join(p).display().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        // Matrix files.
        (vec!["--matrix".into(), format!("{f}/matrix-bad-grid.toml")], format!("Error: {f}/matrix-bad-grid.toml:2: python_threads: `1..8`: ranges are written with `..=`, as in 1..=8")),
        (vec!["--matrix".into(), format!("{f}/matrix-bad-type.toml")], format!("Error: {f}/matrix-bad-type.toml:2: invalid type: string \"three\", expected i64")),
        (vec!["--matrix".into(), "nosuchmatrix".into()], "Error: unknown matrix `nosuchmatrix` (looked in matrices; found: default, field-survey, quick, talk-8x50, tunables)".into()),
        // Tunables profiles.
        (vec!["--tunables".into(), format!("{f}/arena-max-9.toml")], format!("Error: {f}/arena-max-9.toml:5: glibc.malloc.arena_max = -1: values must not be negative")),
        (vec!["--tunable".into(), "glibc.malloc.arena_maxx=2".into()], "Error: --tunable `glibc.malloc.arena_maxx=2`: unknown tunable `glibc.malloc.arena_maxx` (not in `/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --list-tunables`); did you mean glibc.malloc.arena_max?".into()),
        // Flags.
        (vec!["--shard".into(), "3/3".into()], "Error: --shard 3/3: K=3 is not below N=3; shards are numbered 0..N-1 (with Slurm, use --array=0-2)".into()),
        (vec!["--floor-mib".into(), "0".into()], "Error: --floor-mib 0: the floor must be a positive number of MiB".into()),
        (vec!["--max-rss".into(), "0M".into()], "error: invalid value '0M' for '--max-rss <SIZE>': `0M` is below 1 KiB".into()),
        (vec!["--pattern".into(), "fragment:keep_every=0".into()], "Error: --pattern fragment:keep_every=0: pattern parameter `keep_every` must be at least 1".into()),
        (vec!["--workload-params".into(), "a=1".into()], "Error: --workload-params needs --workload".into()),
        // Workload files (checked with the real interpreter before anything runs).
        (vec!["--workload".into(), format!("{f}/syntax-error.py")], format!("Error: {}:1: expected ':'", abs(&format!("{f}/syntax-error.py")))),
        (vec!["--workload".into(), format!("{f}/no-call.py")], format!("Error: {}: defines no top-level function call(rust_threads, worker_id, iteration)", abs(&format!("{f}/no-call.py")))),
        (vec!["--workload".into(), format!("{f}/call-one-arg.py")], format!("Error: {}:1: call() must take 3 arguments (rust_threads, worker_id, iteration), it takes 1", abs(&format!("{f}/call-one-arg.py")))),
        (vec!["--workload".into(), format!("{f}/bad-requires.py")], format!("Error: {}:1: `--extra-index-url=http://example.invalid/simple` looks like a pip option; give a package name such as blake3==1.0.8", abs(&format!("{f}/bad-requires.py")))),
        (vec!["--workload".into(), "README.md".into()], "Error: --workload README.md: a workload is a Python file ending in .py".into()),
        // Report folders.
        (vec!["run".into(), "--resume".into(), "tests/fixtures".into()], "Error: --resume: tests/fixtures is not a report folder: cannot read tests/fixtures/plan.json: No such file or directory (os error 2)".into()),
    ];
    let (gil, nogil) = pair();
    for (args, expected) in cases {
        let cache = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let reports = out.path().join("reports");
        let o = bin()
            .current_dir(root)
            .env("ARENA_SWEEP_CACHE", cache.path())
            .args(&args)
            .arg("--python-gil")
            .arg(&gil)
            .arg("--python-nogil")
            .arg(&nogil)
            .arg("--out")
            .arg(&reports)
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}:\n{stderr}");
        let first = stderr.lines().next().unwrap_or("");
        assert_eq!(first, expected, "{args:?}");
        assert!(!reports.exists(), "{args:?}: the output folder was created");
        assert_eq!(
            count_entries(cache.path()),
            0,
            "{args:?}: something was written to the cache"
        );
    }
}
