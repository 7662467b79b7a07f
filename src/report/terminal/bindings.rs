//! One point compared across bindings (`--binding` given several times): GIL held,
//! GIL released and free-threaded side by side, one row per build and binding, with
//! the amplification against the GIL build holding the GIL, and where each delta went.

use std::fmt::Write as _;

use super::mib_signed;
use crate::aggregate::{BuildStats, CellSummary};
use crate::results::Binding;
use crate::units::{count, mib};

/// A row of the tables: build ("gil" or "nogil"), binding, its figures.
type Row<'a> = (&'static str, Binding, &'a BuildStats);

/// Whether the GIL is held while the Rust code runs, per binding (GIL builds); a
/// workload's code decides, so it is not known.
fn gil_during_call(binding: Binding) -> &'static str {
    match binding {
        Binding::Workload => "?",
        b if b.holds_gil() => "held",
        _ => "released",
    }
}

/// One point compared across bindings: GIL held, GIL released and free-threaded
/// side by side, one row per build and binding.
pub fn bindings_block(points: &[&CellSummary], reps: u32) -> String {
    let mut s = String::new();
    let Some(first) = points.first() else {
        return s;
    };
    let p = &first.point;
    let _ = writeln!(
        s,
        "{} Python threads x {} Rust threads per call | pattern {} | profile {}",
        p.python_threads, p.rust_threads, p.pattern, p.profile
    );
    let _ = writeln!(s, "median over {reps} rep(s); amplification is against the GIL build with the GIL held (pyo3)");
    let held = held_delta(points);
    let rows = rows(points);
    figures_table(&mut s, &rows, held, first.floor_kib);
    regions_table(&mut s, &rows);
    s
}

/// The reference delta: the GIL build holding the GIL through the call (pyo3, else
/// ctypes-pydll), as in the talk.
fn held_delta(points: &[&CellSummary]) -> Option<f64> {
    points
        .iter()
        .find(|c| c.point.binding == Binding::Pyo3)
        .or_else(|| {
            points
                .iter()
                .find(|c| c.point.binding == Binding::CtypesPydll)
        })
        .and_then(|c| c.gil.as_ref())
        .map(|b| b.delta_kib.median)
}

/// The rows in the order a reader compares them: GIL builds, then free-threaded;
/// within each, bindings holding the GIL before those releasing it.
fn rows<'a>(points: &[&'a CellSummary]) -> Vec<Row<'a>> {
    let rank = |b: Binding| match b {
        Binding::Workload => (true, usize::MAX),
        b => (!b.holds_gil(), b as usize),
    };
    let mut points: Vec<&CellSummary> = points.to_vec();
    points.sort_by_key(|c| rank(c.point.binding));
    let mut rows: Vec<Row> = Vec::new();
    for c in &points {
        if let Some(b) = &c.gil {
            rows.push(("gil", c.point.binding, b));
        }
    }
    for c in &points {
        if let Some(b) = &c.nogil {
            rows.push(("nogil", c.point.binding, b));
        }
    }
    rows
}

/// The main table: each row's RSS figures, arena heaps, threads and amplification
/// against the reference delta `held` (with the point's `floor`).
fn figures_table(s: &mut String, rows: &[Row], held: Option<f64>, floor: f64) {
    let _ = writeln!(
        s,
        "  {:<6}{:<14}{:<14}{:>12}{:>12}{:>12}{:>12}{:>7}{:>11}{:>9}{:>10}",
        "build",
        "binding",
        "GIL in call",
        "delta",
        "peak",
        "after trim",
        "reclaim.",
        "heaps",
        "heap RSS",
        "threads",
        "amplif."
    );
    for (build, binding, b) in rows {
        let during = if *build == "nogil" {
            "no GIL"
        } else {
            gil_during_call(*binding)
        };
        let amp = held.map_or("-".to_string(), |h| {
            format!(
                "{:.2}x",
                crate::risk::amplification(b.delta_kib.median, h, floor)
            )
        });
        let _ = writeln!(
            s,
            "  {:<6}{:<14}{:<14}{:>12}{:>12}{:>12}{:>12}{:>7}{:>11}{:>9}{:>10}",
            build,
            binding,
            during,
            mib(b.delta_kib.median),
            mib(b.peak_rss_kib.median),
            mib(b.after_trim_rss_kib.median),
            mib(b.reclaimable_kib.median),
            count(b.arena_heaps.median),
            mib(b.heap_rss_kib.median),
            count(b.peak_threads.median),
            amp
        );
    }
}

/// Where each row's delta went, per smaps region.
fn regions_table(s: &mut String, rows: &[Row]) {
    let _ = writeln!(
        s,
        "\n  where the delta went (median change per smaps region)"
    );
    let _ = writeln!(
        s,
        "  {:<6}{:<14}{:>13}{:>13}{:>13}{:>13}{:>13}{:>13}",
        "build", "binding", "arena heaps", "[heap]", "stacks", "mimalloc", "file", "other anon"
    );
    for (build, binding, b) in rows {
        let r = &b.regions_delta_kib;
        let _ = writeln!(
            s,
            "  {:<6}{:<14}{:>13}{:>13}{:>13}{:>13}{:>13}{:>13}",
            build,
            binding,
            mib_signed(r.arena_heaps),
            mib_signed(r.main_heap),
            mib_signed(r.stacks),
            mib_signed(r.python_alloc),
            mib_signed(r.file),
            mib_signed(r.anon_other)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_show_gil_held_before_gil_released_against_pyo3() {
        let one = crate::risk::tests_support::sweep()
            .into_iter()
            .find(|c| c.point.profile == "arena-max-2")
            .unwrap();
        let mut points = Vec::new();
        // Given in no useful order; one is a workload, whose GIL use is not known.
        for (binding, grow) in [
            (Binding::CtypesCdll, 4.0),
            (Binding::Pyo3Detach, 3.0),
            (Binding::Workload, 5.0),
            (Binding::CtypesPydll, 2.0),
            (Binding::Pyo3, 1.0),
        ] {
            let mut c = one.clone();
            c.point.binding = binding;
            if let Some(g) = c.gil.as_mut() {
                g.delta_kib.median *= grow;
            }
            points.push(c);
        }
        let refs: Vec<&CellSummary> = points.iter().collect();
        let text = bindings_block(&refs, 2);
        let gil_rows: Vec<(&str, &str, &str)> = text
            .lines()
            .take_while(|l| !l.contains("where the delta went"))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                match (w.next(), w.next(), w.next()) {
                    (Some("gil"), Some(b), Some(d)) => Some((b, d, w.last().unwrap())),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(
            gil_rows
                .iter()
                .map(|(b, d, _)| (*b, *d))
                .collect::<Vec<_>>(),
            [
                ("pyo3", "held"),
                ("ctypes-pydll", "held"),
                ("pyo3-detach", "released"),
                ("ctypes-cdll", "released"),
                ("workload", "?"),
            ],
            "{text}"
        );
        // Amplification is against the GIL build with pyo3.
        assert_eq!(gil_rows[0].2, "1.00x", "{text}");
        assert_eq!(gil_rows[2].2, "3.00x", "{text}");
    }
}
