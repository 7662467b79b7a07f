//! Part 6 of the benchmark (`ARENA_SWEEP_BENCH_ONLY=events` runs it alone): what the
//! kernel's `kmem:rss_stat` series costs.
//!
//! The records are written by the child's own threads, inside their page faults and
//! thread starts, so their cost lands in the child's workload time. The talk's cell
//! (8 x 50, seed, 3 reps per build) runs with the events (`ARENA_SWEEP_SERIES=events`,
//! A) and with no series at all (`off`, B), rounds alternating; the cost per record is the
//! difference of the median workload wall times (the driver's own `wall_s`) over the
//! median number of records per run. The parent's CPU per run (arena-sweep's own
//! getrusage, written to plan.json as `harness`, over the runs) is shown for the
//! events, the sampler at its default 100 ms and no series.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{header, median, read_json, records, rounds, tmpdir, BIN};

/// One sweep of the talk's cell with `ARENA_SWEEP_SERIES` set to `choice`: (workload
/// wall per run, records per run, parent CPU s per run).
fn talk_cell(choice: &str, out: &Path) -> (Vec<f64>, Vec<f64>, f64) {
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--python-threads",
        "8",
        "--rust-threads",
        "50",
        "--rounds",
        "1",
        "--reps",
        "3",
        "--no-install",
        "--out",
    ])
    .arg(out)
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    cmd.env("ARENA_SWEEP_SERIES", choice);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .unwrap();
    let recs = records(&dir);
    let wall: Vec<f64> = recs
        .iter()
        .map(|r| r["metrics"]["wall_s"].as_f64().unwrap())
        .collect();
    let events: Vec<f64> = recs
        .iter()
        .map(|r| {
            let e = &r["series"]["events"];
            let n = |k: &str| e[k].as_f64().unwrap_or(0.0);
            n("rss_events") + n("other_mm_events") + n("thread_starts") + n("thread_exits")
        })
        .collect();
    let h: Value = read_json(&dir.join("plan.json"))["harness"].clone();
    let cpu = h["user_s"].as_f64().unwrap() + h["sys_s"].as_f64().unwrap();
    (wall, events, cpu / recs.len() as f64)
}

pub fn events() -> Vec<String> {
    header("6. the kernel's rss_stat events: cost per record in the child, and the parent's CPU per run");
    let out = tmpdir("events");
    let (mut wall_on, mut wall_off, mut per_run) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_on, mut cpu_off, mut cpu_sampler) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds() {
        let order: [&str; 3] = if round % 2 == 0 {
            ["events", "off", "sampler"]
        } else {
            ["sampler", "off", "events"]
        };
        for choice in order {
            let (wall, ev, cpu) = talk_cell(choice, &out);
            match choice {
                "events" => {
                    wall_on.extend(wall);
                    per_run.extend(ev);
                    cpu_on.push(cpu);
                }
                "off" => {
                    wall_off.extend(wall);
                    cpu_off.push(cpu);
                }
                _ => cpu_sampler.push(cpu),
            }
        }
        println!(
            "  round {}: workload wall median {:.1} ms with events, {:.1} ms without; {:.0} records per run",
            round + 1,
            median(&wall_on) * 1e3,
            median(&wall_off) * 1e3,
            median(&per_run)
        );
    }
    let (on, off, n) = (median(&wall_on), median(&wall_off), median(&per_run));
    let per_event_us = (on - off) / n * 1e6;
    let lines = vec![
        format!(
            "events: {n:.0} records per run of the talk's cell (median); workload {:.1} ms with them vs {:.1} ms without ({} runs each): {per_event_us:+.2} µs per record in the child",
            on * 1e3,
            off * 1e3,
            wall_on.len()
        ),
        format!(
            "parent CPU per run: {:.1} ms with the events, {:.1} ms with the sampler every 100 ms, {:.1} ms with no series",
            median(&cpu_on) * 1e3,
            median(&cpu_sampler) * 1e3,
            median(&cpu_off) * 1e3
        ),
    ];
    for l in &lines {
        println!("  {l}");
    }
    let _ = std::fs::remove_dir_all(&out);
    lines
}
