//! arena-sweep's benchmark: `cargo bench --bench harness`.
//!
//! It measures, in one run, how close the tool comes to the physical floor and how
//! much its measuring disturbs the workload, alternating A and B and printing each
//! ratio with the noise of its rounds:
//! 1. harness overhead: a sweep of K short runs against the floor, the minimal
//!    talk-style driver (`tests/fidelity/talk_driver.py`: interpreter start, import,
//!    the same call) run K times back to back; per run and end to end;
//! 2. sampler cost at 1 kHz (CPU of one core, for each way of reading /proc, next to
//!    the machine's bare 1 kHz wake-up cost) and its disturbance of a workload;
//! 3. against psrecord (PyPI): CPU cost at the same interval, and the peak each finds
//!    against the kernel's VmHWM;
//! 4. repeatability: the CV of delta over 5 reps of a deterministic cell, and the reps
//!    needed for an amplification confidence interval within +-20%;
//! 5. scale: the full default matrix's wall time, how it grows with cells and threads,
//!    and the parent's own CPU and memory at 10, 100 and 1000 Rust threads per call.
//!
//! Environment: ARENA_SWEEP_BENCH_ROUNDS (default 5) for the A/B rounds;
//! ARENA_SWEEP_BENCH_SKIP_DEFAULT=1 skips the full default matrix (about 2 minutes);
//! ARENA_SWEEP_BENCH_ONLY=overhead runs only the first part (a few minutes);
//! ARENA_SWEEP_BENCH_ONLY=control only the control arm's share of a sweep's run time;
//! ARENA_SWEEP_BENCH_ONLY=exporter only the exporter's cost (about 2 minutes, no
//! interpreter needed).
//! ARENA_SWEEP_BENCH_ONLY=events only the cost of the kernel's rss_stat series
//! (part 6, `events.rs`: per record in the child, and the parent's CPU per run).
//! It provisions the interpreter pair and the extension builds first (cached), and
//! psrecord into a virtual environment of its own.

mod arena_read;
mod events;
mod exporter;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_arena-sweep");

fn rounds() -> usize {
    std::env::var("ARENA_SWEEP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(2)
}

fn median(v: &[f64]) -> f64 {
    arena_sweep::stats::median(v).unwrap_or(f64::NAN)
}

fn cv(v: &[f64]) -> f64 {
    arena_sweep::stats::cv(v).unwrap_or(0.0)
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("arena-sweep-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run arena-sweep; returns (wall seconds, report folder).
fn sweep(args: &[&str], out: &Path) -> (f64, PathBuf) {
    let _ = std::fs::remove_dir_all(out);
    let t = Instant::now();
    let o = Command::new(BIN)
        .args(args)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(
        o.status.success() || o.status.code() == Some(1),
        "arena-sweep {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .unwrap();
    (wall, dir)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// CPU seconds (user + system) of a finished child, from wait4.
fn run_measured(cmd: &mut Command) -> (f64, f64) {
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut u) };
    std::mem::forget(child);
    let s = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t.elapsed().as_secs_f64(), s(u.ru_utime) + s(u.ru_stime))
}

/// `rounds()` rounds of A and B in ABBA order (which goes first alternates, so drift
/// does not favour one side); returns the A values, the B values and A/B per round.
fn abba(mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut va, mut vb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds() {
        let (wa, wb) = if round % 2 == 0 {
            let wa = a();
            (wa, b())
        } else {
            let wb = b();
            (a(), wb)
        };
        va.push(wa);
        vb.push(wb);
        ratios.push(wa / wb);
    }
    (va, vb, ratios)
}

fn header(title: &str) {
    println!("\n== {title}");
}

// ------------------------------------------------------------------ 1. overhead

fn harness_overhead() -> String {
    header("1. harness overhead: K short runs, arena-sweep (A) vs the minimal talk-style driver (B, the floor)");
    let out = tmpdir("overhead");
    let k_reps = 20; // x 2 builds = 40 runs
                     // 1x1 with the run defaults (10 calls, 5 ms apart), as a user's shortest sweep.
    let args = [
        "--python-threads",
        "1",
        "--rust-threads",
        "1",
        "--rounds",
        "1",
        "--reps",
        "20",
        "--seed",
        "1",
        "--no-install",
    ];
    // Warm-up, and the interpreters and extension builds B uses.
    let (_, dir) = sweep(&args, &out);
    let plan = read_json(&dir.join("plan.json"));
    let prov = &plan["provenance"];
    let talk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/talk_driver.py");
    let mut configs = Vec::new();
    for interp in prov["interpreters"].as_array().unwrap() {
        let suffix = interp["ext_suffix"].as_str().unwrap();
        let ext = prov["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["variant"] == "glibc" && e["file"].as_str().unwrap().ends_with(suffix))
            .unwrap();
        configs.push((
            interp["path"].as_str().unwrap().to_string(),
            ext["dir"].as_str().unwrap().to_string(),
        ));
    }
    // The floor: interpreter start, import, the same call, exit; nothing else.
    let floor = || {
        let t = Instant::now();
        for i in 0..2 * k_reps {
            let (python, ext) = &configs[i % 2];
            let o = Command::new(python)
                .arg(&talk)
                .args([ext.as_str(), "1", "1", "10", "5", "seed", ""])
                .env_clear()
                .env("LC_ALL", "C.UTF-8")
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        t.elapsed().as_secs_f64()
    };
    // A's runs alone: from the first run's start to the last run's end, as the
    // parent saw them (spawn to reap, the pauses and snapshots, the record written).
    let mut spans = Vec::new();
    let mut whole = || {
        let (wall, dir) = sweep(&args, &out);
        let recs = records(&dir);
        let start = recs
            .iter()
            .map(|r| r["started_unix_s"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let end = recs
            .iter()
            .map(|r| r["started_unix_s"].as_f64().unwrap() + r["process_wall_s"].as_f64().unwrap())
            .fold(0.0, f64::max);
        spans.push(end - start);
        wall
    };
    let (a, b, ratios) = abba(&mut whole, floor);
    let per_run: Vec<f64> = spans.iter().zip(&b).map(|(s, f)| s / f).collect();
    let r_run = median(&per_run);
    let r_all = median(&ratios);
    println!(
        "  K = {} runs of 1x1; A median {:.3} s end to end (CV {:.1}%), of which the runs {:.3} s; B median {:.3} s (CV {:.1}%)",
        2 * k_reps,
        median(&a),
        100.0 * cv(&a),
        median(&spans),
        median(&b),
        100.0 * cv(&b)
    );
    println!(
        "  per-run ratio A's runs / B per round: {}",
        per_run
            .iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  => per-run cost of the harness {r_run:.3}x the minimal driver (target <= 1.05x); {:.1} ms per run above the floor",
        1e3 * (median(&spans) - median(&b)) / (2 * k_reps) as f64
    );
    println!(
        "  => end to end, with start-up, provisioning checks and the report: {r_all:.3}x ({:.2} s fixed cost)",
        median(&a) - median(&spans)
    );
    let _ = std::fs::remove_dir_all(&out);
    format!(
        "harness overhead (40 short runs, against the minimal talk-style driver): {r_run:.3}x per run (target <= 1.05x), {r_all:.3}x end to end"
    )
}

// ------------------------------------------------------------------ 2. sampler

/// A process that just sleeps, to sample.
fn sleeper(secs: f64) -> std::process::Child {
    Command::new("python3")
        .args(["-c", &format!("import time; time.sleep({secs})")])
        .spawn()
        .unwrap()
}

/// CPU share of one core that `arena-sweep sample` spends at `interval`.
fn sample_cost(method: &str, interval: &str, secs: f64) -> f64 {
    let mut target = sleeper(secs + 1.0);
    std::thread::sleep(Duration::from_millis(100));
    let (wall, cpu) = run_measured(Command::new(BIN).args([
        "sample",
        &target.id().to_string(),
        "--interval",
        interval,
        "--duration",
        &format!("{secs}s"),
        "--method",
        method,
    ]));
    let _ = target.kill();
    let _ = target.wait();
    cpu / wall
}

/// What 1000 wake-ups a second cost on this machine with no work at all.
fn wakeup_floor(secs: f64) -> f64 {
    let cpu = || {
        // SAFETY: getrusage fills the struct we pass.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        let s = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        s(u.ru_utime) + s(u.ru_stime)
    };
    std::thread::spawn(move || {
        let (c0, t0) = (cpu(), Instant::now());
        let ticks = (secs * 1000.0) as u32;
        for i in 1..=ticks {
            let next = Duration::from_millis(i as u64);
            let now = t0.elapsed();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        (cpu() - c0) / t0.elapsed().as_secs_f64()
    })
    .join()
    .unwrap()
}

const CPU_WORKLOAD: &str = "import time\nt=time.perf_counter()\nx=0\nfor i in range(15_000_000):\n    x += i*i % 7\nblocks=[bytearray(4096) for _ in range(50000)]\nprint(time.perf_counter()-t)\n";

fn sampler() -> Vec<String> {
    header("2. sampler cost at 1 kHz, and how much it disturbs the workload");
    let mut summary = Vec::new();
    let floor: Vec<f64> = (0..rounds()).map(|_| wakeup_floor(1.0)).collect();
    println!(
        "  bare 1 kHz wake-ups on this machine (no work): {:.2}% of a core (CV {:.0}%)",
        100.0 * median(&floor),
        100.0 * cv(&floor)
    );
    let mut pread = 0.0;
    for method in ["pread", "reopen", "status"] {
        let v: Vec<f64> = (0..rounds())
            .map(|_| sample_cost(method, "1ms", 2.0))
            .collect();
        println!(
            "  method {method:<7} {:.2}% of a core (CV {:.0}%)",
            100.0 * median(&v),
            100.0 * cv(&v)
        );
        if method == "pread" {
            pread = median(&v);
        }
    }
    println!("  => sampler at 1 kHz: {:.2}% of a core (target <= 1%); of that, {:.2}% is the machine's wake-up floor", 100.0 * pread, 100.0 * median(&floor));
    summary.push(format!("sampler CPU at 1 kHz: {:.2}% of a core (target <= 1%; bare wake-ups alone cost {:.2}% here)", 100.0 * pread, 100.0 * median(&floor)));

    // Disturbance: a CPU-bound Python workload, alone (B) and sampled at 1 kHz (A).
    let script = tmpdir("disturb").join("work.py");
    std::fs::write(&script, CPU_WORKLOAD).unwrap();
    let workload = |sampled: bool| -> f64 {
        let child = Command::new("python3")
            .arg(&script)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let sampler = sampled.then(|| {
            Command::new(BIN)
                .args([
                    "sample",
                    &child.id().to_string(),
                    "--interval",
                    "1ms",
                    "--duration",
                    "60s",
                ])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        });
        let out = child.wait_with_output().unwrap();
        if let Some(mut s) = sampler {
            let _ = s.wait();
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let (a, b, ratios) = abba(|| workload(true), || workload(false));
    let r = median(&ratios);
    println!(
        "  workload wall, sampled (A) {:.3} s (CV {:.1}%) vs alone (B) {:.3} s (CV {:.1}%)",
        median(&a),
        100.0 * cv(&a),
        median(&b),
        100.0 * cv(&b)
    );
    println!(
        "  => disturbance {:+.2}% of the workload's wall time (target <= 2%)",
        100.0 * (r - 1.0)
    );
    summary.push(format!(
        "sampling disturbs the workload by {:+.2}% (target <= 2%)",
        100.0 * (r - 1.0)
    ));
    summary
}

// ------------------------------------------------------------------ 3. psrecord

fn psrecord_python() -> Option<PathBuf> {
    let venv = arena_sweep::paths::cache_dir()
        .ok()?
        .join("bench")
        .join("psrecord-venv");
    let py = venv.join("bin").join("python");
    if !py.exists() {
        println!("  installing psrecord into {} ...", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .ok()?
            .success()
            && Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "psrecord==1.4",
                    "psutil",
                ])
                .status()
                .ok()?
                .success();
        if !ok {
            return None;
        }
    }
    Some(py)
}

const SPIKE: &str = "import time\ntime.sleep(0.5)\nb = bytearray(200 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\ntime.sleep(0.05)\ndel b\ntime.sleep(3)\n";

fn psrecord() -> Vec<String> {
    header("3. against psrecord: CPU at the same interval, and peak found vs VmHWM");
    let Some(py) = psrecord_python() else {
        println!("  psrecord could not be installed; skipped");
        return vec!["psrecord: could not be installed".into()];
    };
    let dir = tmpdir("psrecord");
    let spike = dir.join("spike.py");
    std::fs::write(&spike, SPIKE).unwrap();
    let mut ratios = Vec::new();
    let (mut ours_cpu, mut theirs_cpu) = (Vec::new(), Vec::new());
    let (mut ours_acc, mut theirs_acc) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        // Ours.
        let mut target = Command::new("python3").arg(&spike).spawn().unwrap();
        let pid = target.id().to_string();
        let t = Instant::now();
        let o = Command::new(BIN)
            .args(["sample", &pid, "--interval", "1ms", "--duration", "2s"])
            .output()
            .unwrap();
        let ours_wall = t.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let num_after = |s: &str, key: &str| -> f64 {
            s.split(key)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|x| x.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let peak = num_after(&text, "peak RSS ");
        let hwm = num_after(&text, "VmHWM ");
        let cpu = num_after(&text, "sampler cost: ");
        let _ = target.kill();
        let _ = target.wait();
        ours_cpu.push(cpu / ours_wall.max(1e-9));
        ours_acc.push(peak / hwm);
        // psrecord.
        let mut target = Command::new("python3").arg(&spike).spawn().unwrap();
        let log = dir.join(format!("psrecord-{round}.txt"));
        let (wall, cpu) = run_measured(
            Command::new(&py)
                .args([
                    "-m",
                    "psrecord",
                    &target.id().to_string(),
                    "--interval",
                    "0.001",
                    "--duration",
                    "2",
                    "--log",
                ])
                .arg(&log),
        );
        let hwm: f64 = std::fs::read_to_string(format!("/proc/{}/status", target.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(f64::NAN);
        let _ = target.kill();
        let _ = target.wait();
        // psrecord's log: "Elapsed time   CPU (%)   Real (MB)   Virtual (MB)".
        let peak_mb = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
            .fold(0.0, f64::max);
        theirs_cpu.push(cpu / wall);
        theirs_acc.push(peak_mb * 1024.0 / hwm);
        ratios.push(ours_cpu.last().unwrap() / theirs_cpu.last().unwrap());
    }
    let r = median(&ratios);
    println!(
        "  CPU of one core at 1 ms: arena-sweep {:.2}% (CV {:.0}%), psrecord {:.1}% (CV {:.0}%)",
        100.0 * median(&ours_cpu),
        100.0 * cv(&ours_cpu),
        100.0 * median(&theirs_cpu),
        100.0 * cv(&theirs_cpu)
    );
    println!("  => arena-sweep costs {r:.3}x psrecord's CPU (target <= 0.1x)");
    println!(
        "  peak found / VmHWM for a 50 ms 200 MiB spike: arena-sweep {:.3}, psrecord {:.3}",
        median(&ours_acc),
        median(&theirs_acc)
    );
    vec![
        format!("CPU vs psrecord at 1 ms: {r:.3}x (target <= 0.1x)"),
        format!(
            "peak found / VmHWM: arena-sweep {:.3}, psrecord {:.3}",
            median(&ours_acc),
            median(&theirs_acc)
        ),
    ]
}

// ------------------------------------------------------------------ 4. repeatability

fn repeatability() -> Vec<String> {
    header("4. repeatability");
    let out = tmpdir("repeat");
    let mut summary = Vec::new();
    // A deterministic cell: one Python thread, 2 Rust threads, fixed sizes; and, for
    // context, a cell whose threads interleave on shared arenas.
    for (p, r, label) in [("1", "2", "deterministic"), ("2", "4", "interleaved")] {
        let (_, dir) = sweep(
            &[
                "--python-threads",
                p,
                "--rust-threads",
                r,
                "--pattern",
                "fragment",
                "--rounds",
                "1",
                "--reps",
                "5",
                "--seed",
                "2",
                "--no-install",
            ],
            &out,
        );
        for build in ["gil", "nogil"] {
            let d: Vec<f64> = records(&dir)
                .iter()
                .filter(|x| x["build"] == build)
                .map(|x| x["metrics"]["delta_kib"].as_f64().unwrap())
                .collect();
            println!(
                "  fragment {p}x{r} ({label}), {build}: delta over 5 reps {d:?} KiB, CV {:.2}%",
                100.0 * cv(&d)
            );
            if label == "deterministic" {
                summary.push(format!(
                    "CV of delta, 5 reps, fragment {p}x{r} {build}: {:.2}% (target <= 5%)",
                    100.0 * cv(&d)
                ));
            }
        }
    }
    println!("  (target <= 5% for a deterministic pattern)");
    // Reps for an amplification CI within +-20%, at the headline cell: from 12 reps,
    // draw 40 random subsets of n per build, bootstrap each, and take the 90th
    // percentile of the relative half-widths. (A bootstrap of 2 values is degenerate,
    // so n starts at 3.)
    let max_reps = 12;
    let (_, dir) = sweep(
        &[
            "--python-threads",
            "8",
            "--rust-threads",
            "50",
            "--rounds",
            "1",
            "--reps",
            &max_reps.to_string(),
            "--seed",
            "3",
            "--no-install",
        ],
        &out,
    );
    let recs = records(&dir);
    let deltas = |build: &str| -> Vec<f64> {
        recs.iter()
            .filter(|r| r["build"] == build)
            .map(|r| r["metrics"]["delta_kib"].as_f64().unwrap())
            .collect()
    };
    let (g, n) = (deltas("gil"), deltas("nogil"));
    let floor = arena_sweep::risk::DEFAULT_FLOOR_MIB * 1024.0;
    let full = arena_sweep::risk::amplification(median(&n), median(&g), floor);
    println!("  8x50 seed, {max_reps} reps: amplification {full:.2}x; GIL deltas {g:?}; nogil deltas {n:?}");
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut subset = |v: &[f64], k: usize| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        idx[..k].iter().map(|&i| v[i]).collect()
    };
    let mut needed = None;
    for reps in 3..=max_reps {
        let mut widths: Vec<f64> = (0..40)
            .filter_map(|i| {
                let (gs, ns) = (subset(&g, reps), subset(&n, reps));
                let amp = arena_sweep::risk::amplification(median(&ns), median(&gs), floor);
                let ci =
                    arena_sweep::stats::bootstrap_amplification_ci(&ns, &gs, floor, 0.95, 2000, i)?;
                Some((ci.hi - ci.lo) / 2.0 / amp.max(1e-9))
            })
            .collect();
        widths.sort_by(f64::total_cmp);
        let p90 = widths[(widths.len() * 9) / 10 - 1];
        println!(
            "  {reps:>2} reps: 95% CI half-width, median +-{:.0}%, 90th percentile +-{:.0}%",
            100.0 * median(&widths),
            100.0 * p90
        );
        if needed.is_none() && p90 <= 0.20 {
            needed = Some(reps);
        }
    }
    match needed {
        Some(r) => println!(
            "  => {r} reps give an amplification CI within +-20% (9 times in 10) at this cell"
        ),
        None => println!("  => {max_reps} reps are not enough for +-20% at this cell"),
    }
    summary.push(format!(
        "reps for an amplification CI within +-20% (8x50, 9 in 10 subsets): {}",
        needed.map_or(format!("> {max_reps}"), |r| r.to_string())
    ));
    let _ = std::fs::remove_dir_all(&out);
    summary
}

// ------------------------------------------------------------------ 5. scale

fn scale() -> Vec<String> {
    header("5. scale");
    let out = tmpdir("scale");
    let mut summary = Vec::new();
    if std::env::var("ARENA_SWEEP_BENCH_SKIP_DEFAULT").as_deref() != Ok("1") {
        let (wall, dir) = sweep(
            &["run", "--matrix", "default", "--seed", "4", "--no-install"],
            &out,
        );
        let recs = records(&dir);
        println!(
            "  full default matrix: {} runs in {:.0} s ({:.2} s per run)",
            recs.len(),
            wall,
            wall / recs.len() as f64
        );
        let mut by_r: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
        let mut by_p: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
        for r in &recs {
            by_r.entry(r["rust_threads"].as_u64().unwrap())
                .or_default()
                .push(r["process_wall_s"].as_f64().unwrap());
            by_p.entry(r["python_threads"].as_u64().unwrap())
                .or_default()
                .push(r["process_wall_s"].as_f64().unwrap());
        }
        println!(
            "  median run wall by Rust threads: {}",
            by_r.iter()
                .map(|(k, v)| format!("{k}:{:.2}s", median(v)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!(
            "  median run wall by Python threads: {}",
            by_p.iter()
                .map(|(k, v)| format!("{k}:{:.2}s", median(v)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        summary.push(format!(
            "full default matrix: {} runs in {:.0} s",
            recs.len(),
            wall
        ));
    }
    // Growth with cells: the same short cell repeated, 8 and 64 runs.
    for reps in [4, 32] {
        let (wall, dir) = sweep(
            &[
                "--python-threads",
                "1",
                "--rust-threads",
                "2",
                "--rounds",
                "1",
                "--reps",
                &reps.to_string(),
                "--iterations",
                "2",
                "--no-install",
            ],
            &out,
        );
        let n = records(&dir).len();
        println!(
            "  {n:>3} short runs: {wall:.2} s ({:.1} ms per run)",
            1e3 * wall / n as f64
        );
    }
    // The parent's own CPU and memory as the Rust threads per call grow.
    for rt in [10, 100, 1000] {
        let (wall, dir) = sweep(
            &[
                "--python-threads",
                "1",
                "--rust-threads",
                &rt.to_string(),
                "--rounds",
                "1",
                "--reps",
                "1",
                "--iterations",
                "5",
                "--no-install",
            ],
            &out,
        );
        let h = &read_json(&dir.join("plan.json"))["harness"];
        let cpu = h["user_s"].as_f64().unwrap() + h["sys_s"].as_f64().unwrap();
        let peak_threads: Vec<u64> = records(&dir)
            .iter()
            .map(|r| r["metrics"]["peak_threads"].as_u64().unwrap_or(0))
            .collect();
        println!(
            "  {rt:>4} Rust threads per call: parent CPU {:.3} s of {wall:.2} s wall ({:.1}%), parent max RSS {} KiB; children peaked at {:?} threads",
            cpu,
            100.0 * cpu / wall,
            h["max_rss_kib"],
            peak_threads
        );
        summary.push(format!(
            "parent at {rt} Rust threads: {:.3} s CPU, {} KiB max RSS",
            cpu, h["max_rss_kib"]
        ));
    }
    let _ = std::fs::remove_dir_all(&out);
    summary
}

/// The control arm's share of a sweep's run time: the headline cell and a 3 x 3
/// grid, each run once with its control arm; the share is the control runs' child
/// wall time over every run's (from results.jsonl), beside the sweep's wall time.
fn control_share() -> Vec<String> {
    header("control arm: its share of a sweep's run time");
    let mut out = Vec::new();
    for (name, args) in [
        (
            "the headline cell (8x50, 3 reps)",
            vec!["--python-threads", "8", "--rust-threads", "50"],
        ),
        (
            "a 3x3 grid (1,4,8 x 4,16,50, 3 reps)",
            vec!["--python-threads", "1,4,8", "--rust-threads", "4,16,50"],
        ),
    ] {
        let mut all = args.clone();
        all.extend([
            "--rounds",
            "1",
            "--reps",
            "3",
            "--seed",
            "3",
            "--no-install",
        ]);
        let (wall, dir) = sweep(&all, &tmpdir("control-share"));
        let recs = records(&dir);
        let time = |control: bool| -> f64 {
            recs.iter()
                .filter(|r| (r["rust_threads"] == 0) == control)
                .filter_map(|r| r["process_wall_s"].as_f64())
                .sum()
        };
        let (c, g) = (time(true), time(false));
        let runs = recs.iter().filter(|r| r["rust_threads"] == 0).count();
        let line = format!(
            "control arm, {name}: {runs} of {} runs, {:.1}% of the children's wall time ({c:.2} s of {:.2} s); sweep wall {wall:.1} s",
            recs.len(),
            100.0 * c / (c + g),
            c + g
        );
        println!("  {line}");
        out.push(line);
    }
    out
}

fn main() {
    // `cargo bench` passes --bench; accept and ignore harness flags.
    let started = Instant::now();
    let host = arena_sweep::provenance::Host::collect();
    println!(
        "arena-sweep benchmark: {} ({}), {}; {} A/B rounds",
        host.cpu_model,
        host.kernel,
        host.short(),
        rounds()
    );
    // Load at the start, as a hint of how noisy the machine is.
    println!(
        "load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if std::env::var("ARENA_SWEEP_BENCH_ONLY").as_deref() == Ok("exporter") {
        let lines = exporter::exporter();
        println!("\n== summary (ARENA_SWEEP_BENCH_ONLY=exporter)");
        for l in lines {
            println!("  {l}");
        }
        return;
    }
    // Provision first, so no measured sweep builds anything.
    let ok = Command::new(BIN)
        .args(["pythons", "install", "3.13"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "provisioning the interpreter pair failed");
    let (_, _) = sweep(
        &[
            "--python-threads",
            "1",
            "--rust-threads",
            "1",
            "--rounds",
            "1",
            "--reps",
            "1",
            "--tunables",
            "glibc-default,jemalloc",
            "--no-install",
        ],
        &tmpdir("warmup"),
    );
    if std::env::var("ARENA_SWEEP_BENCH_ONLY").as_deref() == Ok("events") {
        let lines = events::events();
        println!("\n== summary (ARENA_SWEEP_BENCH_ONLY=events)");
        for l in lines {
            println!("  {l}");
        }
        return;
    }
    if std::env::var("ARENA_SWEEP_BENCH_ONLY").as_deref() == Ok("control") {
        let lines = control_share();
        println!("\n== summary (ARENA_SWEEP_BENCH_ONLY=control)");
        for l in lines {
            println!("  {l}");
        }
        return;
    }
    let mut summary = vec![harness_overhead()];
    if std::env::var("ARENA_SWEEP_BENCH_ONLY").as_deref() == Ok("overhead") {
        println!(
            "\n== summary (ARENA_SWEEP_BENCH_ONLY=overhead)\n  {}",
            summary[0]
        );
        return;
    }
    summary.extend(sampler());
    summary.extend(psrecord());
    summary.extend(repeatability());
    summary.extend(scale());
    summary.extend(control_share());
    summary.extend(arena_read::arena_read());
    summary.extend(exporter::exporter());
    summary.extend(events::events());
    println!(
        "\n== summary ({:.0} s in all; load average at the end: {})",
        started.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for s in summary {
        println!("  {s}");
    }
}
