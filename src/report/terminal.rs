//! The comparison printed at the end of a run: per build, the RSS figures and arena
//! heaps (median and range over repetitions), then the amplification with its floor
//! and the risk level.

use std::fmt::Write as _;

use crate::aggregate::{BuildStats, CellSummary, Summary};
use crate::risk::Thresholds;

fn mib(kib: f64) -> String {
    format!("{:.2} MiB", kib / 1024.0)
}

/// "12.10 MiB [12.00-12.20]" (no range for one run).
fn kib_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{} [{:.2}..{:.2}]", mib(s.median), s.min / 1024.0, s.max / 1024.0)
    } else {
        mib(s.median)
    }
}

fn count_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{} [{}..{}]", s.median, s.min, s.max)
    } else {
        format!("{}", s.median)
    }
}

fn secs_cell(s: &Summary) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{:.3} s [{:.3}..{:.3}]", s.median, s.min, s.max)
    } else {
        format!("{:.3} s", s.median)
    }
}

type Row = (&'static str, fn(&BuildStats) -> String);

const ROWS: &[Row] = &[
    ("baseline RSS", |b| kib_cell(&b.baseline_rss_kib)),
    ("peak RSS", |b| kib_cell(&b.peak_rss_kib)),
    ("final RSS", |b| kib_cell(&b.final_rss_kib)),
    ("delta (final - baseline)", |b| kib_cell(&b.delta_kib)),
    ("after malloc_trim(0)", |b| kib_cell(&b.after_trim_rss_kib)),
    ("reclaimable (final - trim)", |b| kib_cell(&b.reclaimable_kib)),
    ("arena heaps (smaps)", |b| count_cell(&b.arena_heaps)),
    ("arena heap RSS", |b| kib_cell(&b.heap_rss_kib)),
    ("arenas (malloc_info)", |b| count_cell(&b.arenas_reported)),
    ("peak threads", |b| count_cell(&b.peak_threads)),
    ("workload wall time", |b| secs_cell(&b.wall_s)),
];

/// The block for one point.
pub fn point_block(c: &CellSummary, thresholds: &Thresholds, reps: u32) -> String {
    let mut s = String::new();
    let p = &c.point;
    let _ = writeln!(
        s,
        "{} Python threads x {} Rust threads per call | pattern {} | binding {} | profile {}",
        p.python_threads, p.rust_threads, p.pattern, p.binding, p.profile
    );
    let _ = writeln!(s, "median over {reps} rep(s) per build, [min..max] when they differ");
    let head = |b: &Option<BuildStats>, name: &str, failed: usize| -> String {
        match b {
            Some(b) => format!(
                "{name} (CPython {}{}){}",
                b.python_version,
                if name == "nogil" { "t" } else { "" },
                if failed > 0 { format!(", {failed} failed") } else { String::new() }
            ),
            None => format!("{name}: no successful run ({failed} failed)"),
        }
    };
    let _ = writeln!(
        s,
        "  {:<28}{:<36}{}",
        "",
        head(&c.gil, "GIL", c.gil_failed),
        head(&c.nogil, "nogil", c.nogil_failed)
    );
    for (label, f) in ROWS {
        let g = c.gil.as_ref().map(f).unwrap_or_else(|| "-".into());
        let n = c.nogil.as_ref().map(f).unwrap_or_else(|| "-".into());
        let _ = writeln!(s, "  {label:<28}{g:<36}{n}");
    }
    match (c.amplification, &c.gil, &c.nogil, c.risk) {
        (Some(a), Some(g), Some(n), Some(risk)) => {
            let _ = writeln!(
                s,
                "\n  amplification  {a:.2}x = nogil delta {} / max(GIL delta {}, floor {})",
                mib(n.delta_kib.median),
                mib(g.delta_kib.median),
                mib(c.floor_kib)
            );
            let _ = writeln!(s, "  risk           {risk}  ({})", thresholds.describe());
        }
        _ => {
            let _ = writeln!(s, "\n  amplification  n/a: a build has no successful run");
        }
    }
    s
}
