//! The arena reader's cost: reading a process with 16 arenas and 100,000 free chunks
//! (tests/progs/chunks.c: 16 threads, each leaving 6,250 free chunks between live
//! ones), live and with `freeze`, against the 50 ms budget, and how long `freeze`
//! keeps the process stopped. Included from `harness.rs`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use arena_sweep::arena::{self, ReadOptions};

const BUDGET_S: f64 = 0.050;

fn stats(v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    format!(
        "median {:.1} ms (min {:.1}, max {:.1}, {} reads)",
        super::median(v) * 1e3,
        s[0] * 1e3,
        s[s.len() - 1] * 1e3,
        v.len()
    )
}

/// Build and start chunks.c; returns the child once it is ready.
pub fn target(dir: &Path) -> std::process::Child {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs/chunks.c");
    let exe = dir.join("chunks");
    let ok = Command::new("gcc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "gcc could not build {}", src.display());
    let mut child = Command::new(&exe)
        .args(["16", "6250"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "chunks.c did not get ready");
    child
}

/// Returns the summary lines.
pub fn arena_read() -> Vec<String> {
    println!("\n== arena reader: 16 arenas, 100,000 free chunks (tests/progs/chunks.c)");
    let dir = super::tmpdir("arena-read");
    let mut child = target(&dir);
    let pid = child.id() as i32;
    let (mut live, mut frozen_read, mut stopped) = (Vec::new(), Vec::new(), Vec::new());
    let mut shape = (0, 0);
    // A warm-up read (the libc banner and the target's pages in the page cache).
    arena::read(pid, &ReadOptions::default()).unwrap();
    for round in 0..super::rounds() * 2 {
        for freeze in [round % 2 == 0, round % 2 != 0] {
            let opts = ReadOptions {
                freeze,
                ..ReadOptions::default()
            };
            let s = arena::read(pid, &opts).unwrap_or_else(|e| panic!("{e}"));
            shape = (
                s.arenas.len(),
                s.arenas
                    .iter()
                    .map(|a| a.fast_free_chunks + a.bin_free_chunks)
                    .sum::<u64>(),
            );
            if freeze {
                frozen_read.push(s.read_s);
                stopped.push(s.stopped_s.unwrap());
            } else {
                live.push(s.read_s);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        shape,
        (16, 100_000),
        "the target's shape (arenas, free chunks)"
    );
    let verdict = |v: &[f64]| {
        if super::median(v) <= BUDGET_S {
            "within"
        } else {
            "OVER"
        }
    };
    let lines = vec![
        format!(
            "arena read, live: {} ({} the 50 ms budget)",
            stats(&live),
            verdict(&live)
        ),
        format!(
            "arena read, --freeze: {}; process stopped {} ({} the 50 ms budget)",
            stats(&frozen_read),
            stats(&stopped),
            verdict(&stopped)
        ),
    ];
    for l in &lines {
        println!("  {l}");
    }
    lines
}
