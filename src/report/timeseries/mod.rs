//! RSS over time at chosen points, GIL against free-threaded: every repetition as a
//! thin line, the median repetition (by delta) as a thick one, the phase marks
//! (`ready` at 0, `done`, `trimmed`) of each build's median run, and the thread count
//! below. Files: `timeseries--<profile>--<binding>--<pattern>--<P>x<R>.{svg,png}`.
//!
//! The default point is the one with the highest amplification in the sweep;
//! `--timeseries-cell PxR` picks others (one plot per profile, binding and pattern
//! that ran that point).
//!
//! What is drawn is prepared here ([`TimeSeries::lines`], pure, so tests check the
//! figure's data); the drawing is `draw.rs`. An exact event series can have hundreds
//! of thousands of points: each run is reduced for drawing only (each bucket's first,
//! lowest, highest and last point, `crate::results::series::reduce`), never for a
//! figure's numbers. Where no run of a point has a series of two points or more, no
//! figure is drawn: [`write_all`] returns a note saying why, which the report shows
//! in the figure's place.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::RGBColor;

use super::figure::save;
use super::heatmap::Group;
use crate::aggregate::CellSummary;
use crate::model::Build;
use crate::results::series::reduce;
use crate::results::{Point, RunRecord};

/// Okabe-Ito blue and vermillion: distinct for every common colour-vision deficiency.
pub const GIL_COLOR: RGBColor = RGBColor(0, 114, 178);
pub const NOGIL_COLOR: RGBColor = RGBColor(213, 94, 0);

pub use crate::grid::parse_cell;

/// Refuse a `--timeseries-cell` that is not a point of the plan's grid.
pub fn check_cells(chosen: &[(u32, u32)], python: &[u32], rust: &[u32]) -> Result<(), String> {
    let list = |v: &[u32]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    match chosen
        .iter()
        .find(|(p, r)| !python.contains(p) || !rust.contains(r))
    {
        Some((p, r)) => Err(format!(
            "--timeseries-cell {p}x{r}: not a point of the grid (Python threads {}; Rust threads {})",
            list(python),
            list(rust)
        )),
        None => Ok(()),
    }
}

/// The points to plot: those matching `chosen` (every group that ran them), or else
/// the single point with the highest amplification.
pub fn points(summaries: &[CellSummary], chosen: &[(u32, u32)]) -> Vec<Point> {
    if chosen.is_empty() {
        return summaries
            .iter()
            .filter(|c| c.amplification.is_some())
            .max_by(|a, b| {
                a.amplification
                    .unwrap_or(0.0)
                    .total_cmp(&b.amplification.unwrap_or(0.0))
                    // On a tie, the earlier point in the sorted grid.
                    .then(b.point.cmp(&a.point))
            })
            .map(|c| vec![c.point.clone()])
            .unwrap_or_default();
    }
    summaries
        .iter()
        .filter(|c| chosen.contains(&(c.point.python_threads, c.point.rust_threads)))
        .map(|c| c.point.clone())
        .collect()
}

mod draw;

/// Points per run drawn at most (the thin lines and the thick one alike).
const DRAWN_POINTS: usize = 1_600;

/// One point's plot.
pub struct TimeSeries<'a> {
    pub point: Point,
    /// The point's runs, both builds (failed runs are left out).
    pub runs: Vec<&'a RunRecord>,
    /// "host: 2 CPUs, glibc 2.36, THP madvise"
    pub host: String,
}

/// One run as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub build: Build,
    pub run_id: String,
    /// Each build's median run (by delta) is drawn thick, with its phase marks.
    pub median: bool,
    /// Whether the series is the kernel's exact one: drawn as steps (each value
    /// holds until the next change), where the sampler's ticks are joined by lines.
    pub exact: bool,
    /// (ms, MiB), reduced for drawing.
    pub rss: Vec<(f64, f64)>,
    /// (ms, threads), reduced for drawing.
    pub threads: Vec<(f64, u32)>,
    pub done_ms: Option<f64>,
    pub trimmed_ms: Option<f64>,
}

/// A series worth drawing has two points or more.
fn drawable(r: &RunRecord) -> bool {
    r.ok() && r.series.len() >= 2
}

impl TimeSeries<'_> {
    /// A build's runs with a series, and the index of the median one by delta.
    fn build(&self, build: Build) -> (Vec<&RunRecord>, Option<usize>) {
        let mut mine: Vec<&RunRecord> = self
            .runs
            .iter()
            .copied()
            .filter(|r| r.cell.build == build && drawable(r))
            .collect();
        mine.sort_by_key(|r| (r.metrics.as_ref().map_or(0, |m| m.delta_kib), r.rep));
        let median = (!mine.is_empty()).then(|| (mine.len() - 1) / 2);
        (mine, median)
    }

    /// Every run as drawn: the thin ones first, each build's median last (on top).
    pub fn lines(&self) -> Vec<Line> {
        let mut out = Vec::new();
        for (build, _, _) in BUILDS {
            let (runs, median) = self.build(build);
            for (i, r) in runs.iter().enumerate() {
                out.push(line(r, Some(i) == median));
            }
        }
        out.sort_by_key(|l| l.median);
        out
    }

    /// Why there is nothing to draw, or None when there is.
    pub fn nothing_to_draw(&self) -> Option<String> {
        if self.runs.iter().any(|r| drawable(r)) {
            return None;
        }
        let p = &self.point;
        let at = format!(
            "{}x{} ({})",
            p.python_threads,
            p.rust_threads,
            Group::of(p).describe()
        );
        let ok: Vec<&&RunRecord> = self.runs.iter().filter(|r| r.ok()).collect();
        if ok.is_empty() {
            return Some(format!(
                "No RSS-over-time figure at {at}: no run of this point succeeded."
            ));
        }
        let sources = sources(ok.iter().map(|r| **r));
        Some(format!(
            "No RSS-over-time figure at {at}: no run has a series of two points or more (series source: {sources}). \
             The sampler takes its first sample as the workload starts and one every --sample-interval: a run shorter than the interval has one."
        ))
    }

    /// The line under the title: where the series came from.
    fn source_line(&self) -> String {
        let runs: Vec<&RunRecord> = BUILDS.iter().flat_map(|b| self.build(b.0).0).collect();
        let mut s = format!("series source: {}", sources(runs.iter().copied()));
        let counts: Vec<u64> = runs
            .iter()
            .filter_map(|r| r.series.events.map(|e| e.rss_events))
            .collect();
        if let Some(median) =
            crate::stats::median(&counts.iter().map(|&c| c as f64).collect::<Vec<_>>())
        {
            let lost: u64 = runs
                .iter()
                .filter_map(|r| r.series.events.map(|e| e.lost))
                .sum();
            s += &format!(" · {median:.0} rss_stat records per run (median), {lost} lost");
        }
        s
    }
}

/// "kernel events", or each source with its count of runs when they differ.
pub fn sources<'a>(runs: impl Iterator<Item = &'a RunRecord>) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in runs {
        match counts.iter_mut().find(|(s, _)| *s == r.series_source) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.series_source.clone(), 1)),
        }
    }
    match counts.as_slice() {
        [] => "none".into(),
        [(s, _)] => s.clone(),
        _ => counts
            .iter()
            .map(|(s, n)| format!("{s} in {n} run(s)"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn line(r: &RunRecord, median: bool) -> Line {
    let t = r.series.times_ms();
    let rss: Vec<(f64, u64)> = t
        .iter()
        .copied()
        .zip(r.series.rss_kib.iter().copied())
        .collect();
    let rss = reduce(&rss, DRAWN_POINTS)
        .into_iter()
        .map(|(t, k)| (t, k as f64 / 1024.0))
        .collect();
    let threads: Vec<(f64, u64)> = t
        .iter()
        .copied()
        .zip(r.series.threads.iter().map(|&n| u64::from(n)))
        .collect();
    let threads = reduce(&threads, DRAWN_POINTS)
        .into_iter()
        .map(|(t, n)| (t, n as u32))
        .collect();
    Line {
        build: r.cell.build,
        run_id: r.run_id.clone(),
        median,
        exact: r.series.events.is_some(),
        rss,
        threads,
        done_ms: r.series.marks.done_ms,
        trimmed_ms: r.series.marks.trimmed_ms,
    }
}

/// The two builds as plotted: build, legend name, colour.
const BUILDS: [(Build, &str, RGBColor); 2] = [
    (Build::Gil, "GIL", GIL_COLOR),
    (Build::Nogil, "free-threaded", NOGIL_COLOR),
];

/// One written plot, or the note that stands in its place.
#[derive(Debug, Clone)]
pub struct Written {
    pub point: Point,
    pub stem: String,
    /// The SVG text; empty when nothing was drawn.
    pub svg: String,
    /// Why nothing was drawn.
    pub note: Option<String>,
}

/// Plot each point in `points` from `records` into `dir`.
pub fn write_all(
    dir: &Path,
    points: &[Point],
    records: &[RunRecord],
    host: &str,
) -> Result<Vec<Written>> {
    let mut out = Vec::new();
    for point in points {
        let runs: Vec<&RunRecord> = records.iter().filter(|r| &r.cell.point == point).collect();
        let stem = format!(
            "timeseries--{}--{}x{}",
            Group::of(point).file_part(),
            point.python_threads,
            point.rust_threads
        );
        let fig = TimeSeries {
            point: point.clone(),
            runs,
            host: format!("host: {host}"),
        };
        let note = fig.nothing_to_draw();
        let svg = match note {
            Some(_) => String::new(),
            None => save(&fig, &dir.join(&stem))?,
        };
        out.push(Written {
            point: point.clone(),
            stem,
            svg,
            note,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Binding, Cell, EventCounts, Marks, Metrics, SeriesArrays};

    /// A run with an exact series of `n` changes over `ms` milliseconds.
    fn run(build: Build, rep: u32, n: u64, ms: f64) -> RunRecord {
        let cell = Cell {
            build,
            point: Point {
                binding: Binding::Pyo3,
                profile: "glibc-default".into(),
                pattern: "seed".into(),
                python_threads: 8,
                rust_threads: 50,
            },
        };
        let mut r = RunRecord::for_test(cell, rep, Metrics::default());
        r.series = SeriesArrays {
            t_us: (0..n)
                .map(|i| (i as f64 * ms * 1e3 / n as f64) as u64)
                .collect(),
            rss_kib: (0..n).map(|i| 14_000 + (i * 7919) % 2048).collect(),
            threads: (0..n).map(|i| 1 + (i % 60) as u32).collect(),
            marks: Marks {
                done_ms: Some(ms * 0.97),
                trimmed_ms: Some(ms * 0.98),
            },
            events: Some(EventCounts::default()),
            ..SeriesArrays::default()
        };
        r.series_source = "kernel events".into();
        r
    }

    #[test]
    fn a_short_and_a_long_run_draw_alike_and_long_ones_are_reduced_for_drawing() {
        for (ms, unit) in [(100.0, "(ms)"), (60_000.0, "(s)")] {
            let recs = [
                run(Build::Gil, 0, 200_000, ms),
                run(Build::Nogil, 0, 150, ms),
            ];
            let fig = TimeSeries {
                point: recs[0].cell.point.clone(),
                runs: recs.iter().collect(),
                host: "host: test".into(),
            };
            assert_eq!(fig.nothing_to_draw(), None);
            let lines = fig.lines();
            assert_eq!(lines.len(), 2);
            let long = lines.iter().find(|l| l.build == Build::Gil).unwrap();
            assert!(long.rss.len() <= DRAWN_POINTS && long.rss.len() > DRAWN_POINTS / 2);
            let max = |l: &Line| l.rss.iter().map(|p| p.1).fold(0.0, f64::max);
            assert_eq!(
                max(long),
                (14_000 + 2047) as f64 / 1024.0,
                "the peak is drawn"
            );
            let svg = super::super::figure::svg_string(&fig).unwrap();
            assert!(
                svg.contains(&format!("time since the workload started {unit}")),
                "{ms} ms"
            );
            assert!(svg.contains("series source: kernel events"));
        }
    }

    #[test]
    fn a_point_whose_runs_have_one_sample_each_is_not_drawn() {
        let mut r = run(Build::Gil, 0, 1, 100.0);
        r.series_source = "sampler (the default)".into();
        let fig = TimeSeries {
            point: r.cell.point.clone(),
            runs: vec![&r],
            host: String::new(),
        };
        let why = fig.nothing_to_draw().unwrap();
        assert!(
            why.contains("series source: sampler (the default)"),
            "{why}"
        );
        assert!(fig.lines().is_empty());
    }

    #[test]
    fn cells_parse_as_p_x_r() {
        assert_eq!(parse_cell("8x50"), Ok((8, 50)));
        assert_eq!(parse_cell(" 4X16 "), Ok((4, 16)));
        for bad in ["8", "8x", "x50", "0x4", "8x-1", "8*50", ""] {
            assert!(parse_cell(bad).is_err(), "{bad}");
        }
    }
}
