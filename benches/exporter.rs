//! The exporter's cost (`ARENA_SWEEP_BENCH_ONLY=exporter` runs only this part): the
//! time of one scrape of a process with 16 arenas and 100,000 free chunks (the arena
//! reader's target, tests/progs/chunks.c), each scrape reading it afresh; then the
//! exporter's CPU share while Prometheus-like scrapes come every 15 s (target: under
//! 1% of a core), and its RSS. ARENA_SWEEP_BENCH_EXPORTER_SECS sets the 15 s window's
//! length (default 90 s). Included from `harness.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CPU_TARGET: f64 = 0.01;
const SCRAPE_EVERY: Duration = Duration::from_secs(15);

/// `arena-sweep export --pid PID ...`, and the address it serves on.
fn start(pid: i32, min_interval: &str) -> (Child, String) {
    let mut child = Command::new(super::BIN)
        .args([
            "export",
            "--pid",
            &pid.to_string(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--min-interval", min_interval])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split("serving http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .unwrap_or_else(|| panic!("the exporter said: {line}"))
        .to_string();
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = err.read_to_string(&mut sink);
    });
    (child, addr)
}

fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}

fn value(body: &str, name: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the scrape"))
}

/// CPU seconds (user + system) of a live process, from /proc/PID/stat.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    // SAFETY: sysconf is always safe to call.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / tick
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}

/// Returns the summary lines.
pub fn exporter() -> Vec<String> {
    println!("\n== exporter: one scrape of 16 arenas and 100,000 free chunks, and its CPU at one scrape per 15 s");
    let dir = super::tmpdir("exporter");
    let mut target = super::arena_read::target(&dir);
    let pid = target.id() as i32;

    // 1. Scrape time, every scrape a fresh read (--min-interval 0).
    let (mut fast, addr) = start(pid, "0");
    scrape(&addr); // warm-up: the libc banner, the target's pages in the page cache
    let (mut walls, mut reads) = (Vec::new(), Vec::new());
    let cpu0 = cpu_s(fast.id());
    let n = super::rounds() * 4;
    for _ in 0..n {
        let t = Instant::now();
        let body = scrape(&addr);
        walls.push(t.elapsed().as_secs_f64());
        reads.push(value(&body, "arena_sweep_read_duration_seconds{"));
        assert_eq!(
            value(&body, "arena_sweep_arenas{"),
            16.0,
            "the target's arenas"
        );
    }
    let cpu_per_scrape = (cpu_s(fast.id()) - cpu0) / n as f64;
    let _ = fast.kill();
    let _ = fast.wait();
    let ms = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        format!(
            "median {:.1} ms (min {:.1}, max {:.1}, {} scrapes)",
            super::median(v) * 1e3,
            s[0] * 1e3,
            s[s.len() - 1] * 1e3,
            v.len()
        )
    };
    let first = [
        format!("exporter scrape (HTTP, fresh read): {}", ms(&walls)),
        format!("  of which the read of the process: {}", ms(&reads)),
        format!(
            "  CPU per scrape {:.1} ms: at one scrape per 15 s that is {:.3}% of a core",
            cpu_per_scrape * 1e3,
            cpu_per_scrape / SCRAPE_EVERY.as_secs_f64() * 100.0
        ),
    ];
    for l in &first {
        println!("  {l}");
    }

    // 2. A real window at one scrape per 15 s, with the default --min-interval.
    let secs: u64 = std::env::var("ARENA_SWEEP_BENCH_EXPORTER_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90);
    let (mut slow, addr) = start(pid, "5s");
    let spid = slow.id();
    let (t0, c0) = (Instant::now(), cpu_s(spid));
    let mut scrapes = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        let next = t0 + SCRAPE_EVERY * scrapes;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        scrape(&addr);
        scrapes += 1;
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_s(spid) - c0);
    let (rss, hwm) = (status_kib(spid, "VmRSS:"), status_kib(spid, "VmHWM:"));
    let _ = slow.kill();
    let _ = slow.wait();
    let _ = target.kill();
    let _ = target.wait();
    let share = cpu / wall;
    let second = [
        format!(
            "exporter CPU at one scrape per 15 s: {:.3}% of a core ({:.3} s CPU over {:.0} s, {scrapes} scrapes; {} the 1% target)",
            share * 100.0,
            cpu,
            wall,
            if share < CPU_TARGET { "within" } else { "OVER" }
        ),
        format!(
            "exporter RSS: {:.1} MiB (peak {:.1} MiB) watching 16 arenas and 100,000 free chunks",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        ),
    ];
    for l in &second {
        println!("  {l}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    first.into_iter().chain(second).collect()
}
