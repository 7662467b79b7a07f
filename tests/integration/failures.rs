//! Child failures are recorded as failed runs with a reason, and the sweep goes on.
//! Each case does the real thing: a real crash, a real hang killed by --timeout, a
//! real RSS blow-up, a real garbage line on the protocol pipe, a real EAGAIN from
//! thread creation under a lowered RLIMIT_NPROC.

use crate::common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const SMALL: &[&str] = &[
    "--python-threads",
    "1",
    "--rust-threads",
    "2",
    "--reps",
    "1",
    "--iterations",
    "2",
    "--seed",
    "9",
    "--no-install",
    // These tests are about failures, not the control arm.
    "--no-control",
];

fn workload(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn failures(recs: &[Value]) -> Vec<(String, String)> {
    recs.iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| {
            (
                r["failure"]["kind"].as_str().unwrap().to_string(),
                r["failure"]["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn crashes_are_recorded_with_the_signal_and_the_sweep_goes_on() {
    for mode in ["segv", "abort"] {
        let out = tempfile::tempdir().unwrap();
        let o = bin()
            .args(SMALL)
            .args([
                "--pattern",
                &format!("crash:mode={mode}"),
                "--pattern",
                "seed",
                "--out",
            ])
            .arg(out.path())
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "failed runs make the sweep exit 1:\n{stdout}\n{stderr}"
        );
        let recs = records(&report_dir(out.path()));
        assert_eq!(recs.len(), 4, "every run is recorded");
        for r in &recs {
            match r["pattern"].as_str().unwrap() {
                "seed" => assert_eq!(r["status"], "ok"),
                "crash" => {
                    assert_eq!(r["failure"]["kind"], "crashed", "{r}");
                    let (sig, name) = if mode == "segv" {
                        (11, "SIGSEGV")
                    } else {
                        (6, "SIGABRT")
                    };
                    assert_eq!(r["failure"]["signal"].as_i64(), Some(sig));
                    assert!(
                        r["failure"]["message"].as_str().unwrap().contains(name),
                        "{r}"
                    );
                    // faulthandler's report reached the record.
                    assert!(
                        r["failure"]["stderr_tail"]
                            .as_str()
                            .unwrap()
                            .contains("Fatal Python error"),
                        "{r}"
                    );
                }
                other => panic!("{other}"),
            }
        }
        assert!(
            stdout.contains("2 failed"),
            "the summary counts failures:\n{stdout}"
        );
        assert!(
            stdout.contains("fail "),
            "the summary marks failed cells:\n{stdout}"
        );
    }
}

#[test]
fn a_hanging_run_is_killed_with_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("arena-sweep-hang-{}", std::process::id());
    let w = workload(
        dir.path(),
        "hang.py",
        &format!(
            "import subprocess, sys, time\n\
             def call(rust_threads, worker_id, iteration):\n\
             \x20   subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)', '{marker}'])\n\
             \x20   time.sleep(3600)\n"
        ),
    );
    let out = dir.path().join("reports");
    let t0 = Instant::now();
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--timeout", "3s", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "the timeout bounded the sweep"
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let recs = records(&report_dir(&out));
    assert_eq!(recs.len(), 2, "both builds ran and were recorded");
    for (kind, msg) in failures(&recs) {
        assert_eq!(kind, "timeout");
        assert!(msg.contains("--timeout"), "{msg}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        processes_with(&marker).is_empty(),
        "the grandchild was killed with the group"
    );
}

#[test]
fn the_rss_guard_kills_a_run_that_grows_too_much() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "grow.py",
        "import time\n\
         HOLD = []\n\
         def call(rust_threads, worker_id, iteration):\n\
         \x20   for _ in range(40):\n\
         \x20       b = bytearray(16 << 20)\n\
         \x20       b[::4096] = b'\\x01' * len(range(0, len(b), 4096))\n\
         \x20       HOLD.append(b)\n\
         \x20       time.sleep(0.05)\n",
    );
    let out = dir.path().join("reports");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--max-rss", "200M", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let recs = records(&report_dir(&out));
    assert_eq!(recs.len(), 2);
    for (kind, msg) in failures(&recs) {
        assert_eq!(kind, "max_rss", "{msg}");
        assert!(msg.contains("above --max-rss 204800 KiB"), "{msg}");
    }
}

#[test]
fn garbage_on_the_protocol_pipe_fails_the_run_not_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "noisy.py",
        // The driver is told the message pipe's number as `msg_fd=N` on its command
        // line; the workload finds it there, as a stray library writing to it would.
        "import os, sys\n\
         FD = int(next(a for a in sys.argv if a.startswith('msg_fd='))[7:])\n\
         def call(rust_threads, worker_id, iteration):\n\
         \x20   os.write(FD, b'this is not a protocol message\\n')\n",
    );
    let out = dir.path().join("reports");
    let o = bin()
        .args(SMALL)
        .args(["--workload", &w, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let recs = records(&report_dir(&out));
    assert_eq!(recs.len(), 2, "the sweep went on to the second build");
    for (kind, msg) in failures(&recs) {
        assert_eq!(kind, "protocol");
        assert!(msg.contains("this is not a protocol message"), "{msg}");
    }
}

#[test]
fn thread_creation_failing_with_eagain_is_a_recorded_failure() {
    // RLIMIT_NPROC counts the tasks of the real uid and never applies to root or to a
    // task with CAP_SYS_RESOURCE or CAP_SYS_ADMIN. So the sweep runs as `nobody` (all
    // uids, so it can read its own child's /proc files), keeping only the ambient
    // capabilities to read root's cache of interpreters (DAC_OVERRIDE,
    // DAC_READ_SEARCH), with RLIMIT_NPROC at 40. The grid (1 x 2) passes the preflight
    // check, but the workload spawns more native threads than the grid says, as a
    // library with its own thread count would: 60 Rust threads per call do not fit.
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test sets up credentials and needs root"
    );
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        "greedy.py",
        "import arena_poc\n\
         def call(rust_threads, worker_id, iteration):\n\
         \x20   arena_poc.run_arena_test(60, \"churn\", \"size=64,count=200000\")\n",
    );
    let out = dir.path().join("reports");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("arena-sweep"));
    cmd.args(SMALL).args(["--workload", &w, "--out"]).arg(&out);
    // SAFETY: only async-signal-safe syscalls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // linux/capability.h and linux/prctl.h
            const CAP_DAC_OVERRIDE: u32 = 1;
            const CAP_DAC_READ_SEARCH: u32 = 2;
            const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
            const PR_CAP_AMBIENT_RAISE: libc::c_ulong = 2;
            #[repr(C)]
            struct Header {
                version: u32,
                pid: i32,
            }
            #[repr(C)]
            struct Data {
                effective: u32,
                permitted: u32,
                inheritable: u32,
            }
            let check = |r: libc::c_long| {
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            let keep = (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH);
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).into())?;
            let limit = libc::rlimit {
                rlim_cur: 40,
                rlim_max: 40,
            };
            check(libc::setrlimit(libc::RLIMIT_NPROC, &limit).into())?;
            check(libc::setgroups(0, std::ptr::null()).into())?;
            check(libc::setresgid(65534, 65534, 65534).into())?;
            check(libc::setresuid(65534, 65534, 65534).into())?;
            let header = Header {
                version: LINUX_CAPABILITY_VERSION_3,
                pid: 0,
            };
            let data = [
                Data {
                    effective: keep,
                    permitted: keep,
                    inheritable: keep,
                },
                Data {
                    effective: 0,
                    permitted: 0,
                    inheritable: 0,
                },
            ];
            check(libc::syscall(libc::SYS_capset, &header, data.as_ptr()))?;
            for cap in [CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH] {
                check(
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        PR_CAP_AMBIENT_RAISE,
                        cap as libc::c_ulong,
                        0,
                        0,
                    )
                    .into(),
                )?;
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(out.is_dir(), "no report folder:\n{stdout}\n{stderr}");
    let recs = records(&report_dir(&out));
    assert_eq!(recs.len(), 2, "every run is recorded; the sweep went on");
    let fails = failures(&recs);
    assert_eq!(fails.len(), 2, "{fails:?}");
    for (kind, msg) in &fails {
        assert_eq!(kind, "thread_spawn", "{msg}");
        assert!(
            msg.contains("errno 11") && msg.contains("Resource temporarily unavailable"),
            "{msg}"
        );
    }
    assert!(stdout.contains("2 failed"), "{stdout}");
}

/// Start a sweep, wait until `n` runs are recorded, send `sig`; return the report dir.
fn interrupt_after(
    n: usize,
    sig: nix::sys::signal::Signal,
    out: &Path,
) -> (std::path::PathBuf, Option<i32>, Vec<i32>) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("arena-sweep"))
        .args([
            "--python-threads",
            "1,2",
            "--rust-threads",
            "2,8",
            "--reps",
            "3",
            "--iterations",
            "20",
            "--seed",
            "4",
            "--no-install",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(300);
    let dir = loop {
        let d = std::fs::read_dir(out)
            .ok()
            .and_then(|mut it| it.find_map(|e| e.ok().map(|e| e.path()).filter(|p| p.is_dir())));
        if let Some(d) = d {
            let lines = std::fs::read_to_string(d.join("results.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines >= n {
                break d;
            }
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    };
    // The child that runs right now (arena-sweep's only child).
    let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
    let status = child.wait().unwrap();
    (dir, status.code(), children)
}

#[test]
fn sigint_and_sigterm_leave_a_valid_incomplete_folder_that_resume_completes() {
    for sig in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let out = tempfile::tempdir().unwrap();
        let (dir, code, children) = interrupt_after(2, sig, out.path());
        assert_eq!(code, Some(130), "{sig}: interrupted exit code");
        for c in children {
            let alive = std::fs::read_to_string(format!("/proc/{c}/stat")).is_ok();
            assert!(
                !alive,
                "{sig}: the run in flight (pid {c}) was killed and reaped"
            );
        }
        let raw = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
        assert!(raw.ends_with('\n'), "{sig}: no torn last line");
        let recs = records(&dir);
        assert!(
            recs.len() >= 2 && recs.len() < 24,
            "{sig}: {} runs",
            recs.len()
        );
        assert!(
            recs.iter().all(|r| r["status"] == "ok"),
            "{sig}: the interrupted run is not recorded as a result"
        );
        assert_eq!(plan(&dir)["complete"], false, "{sig}");

        let o = bin()
            .args(["run", "--resume"])
            .arg(&dir)
            .arg("--no-install")
            .output()
            .unwrap();
        assert!(o.status.success(), "{sig}: {:?}", text(&o));
        let recs = records(&dir);
        // 4 points and 2 control points, 2 builds, 3 reps.
        assert_eq!(recs.len(), 36, "{sig}: resume completed the plan");
        assert_eq!(
            recs.iter().filter(|r| r["rust_threads"] == 0).count(),
            12,
            "{sig}: the control runs are resumed like the others"
        );
        assert_eq!(plan(&dir)["complete"], true);
    }
}
