//! RSS over time at chosen points, GIL against free-threaded: every repetition as a
//! thin line, the median repetition (by delta) as a thick one, and the thread count
//! below. Files: `timeseries--<profile>--<binding>--<pattern>--<P>x<R>.{svg,png}`.
//!
//! The default point is the one with the highest amplification in the sweep;
//! `--timeseries-cell PxR` picks others (one plot per profile, binding and pattern
//! that ran that point).

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::figure::{plot_err, save, Figure, FONT};
use super::heatmap::Group;
use crate::aggregate::CellSummary;
use crate::model::Build;
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

/// One point's plot.
pub struct TimeSeries<'a> {
    pub point: Point,
    /// The point's runs, both builds (failed runs are left out).
    pub runs: Vec<&'a RunRecord>,
    /// "host: 2 CPUs, glibc 2.36, THP madvise"
    pub host: String,
}

impl TimeSeries<'_> {
    /// A build's runs, and the index of the median one by delta.
    fn build(&self, build: Build) -> (Vec<&RunRecord>, Option<usize>) {
        let mut mine: Vec<&RunRecord> = self
            .runs
            .iter()
            .copied()
            .filter(|r| r.cell.build == build && r.ok() && !r.series.t_ms.is_empty())
            .collect();
        mine.sort_by_key(|r| (r.metrics.as_ref().map_or(0, |m| m.delta_kib), r.rep));
        let median = (!mine.is_empty()).then(|| (mine.len() - 1) / 2);
        (mine, median)
    }
}

/// The two builds as plotted: build, legend name, colour.
const BUILDS: [(Build, &str, RGBColor); 2] = [
    (Build::Gil, "GIL", GIL_COLOR),
    (Build::Nogil, "free-threaded", NOGIL_COLOR),
];

/// A run's RSS samples, in MiB.
fn rss_mib(r: &RunRecord) -> Vec<f64> {
    r.series
        .rss_kib
        .iter()
        .map(|&k| k as f64 / 1024.0)
        .collect()
}

/// A run's sample times, in ms, as the charts' x values.
fn times_ms(r: &RunRecord) -> impl Iterator<Item = f64> + '_ {
    r.series.t_ms.iter().map(|&t| f64::from(t))
}

/// The RSS axis's range over `runs`, with headroom above the lines for the legend.
fn rss_range(runs: &[&RunRecord]) -> (f64, f64) {
    let (lo, hi) = runs
        .iter()
        .flat_map(|r| rss_mib(r))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() {
        let pad = ((hi - lo) * 0.08).max(0.5);
        ((lo - pad).max(0.0), hi + pad + (hi - lo) * 0.3)
    } else {
        (0.0, 1.0)
    }
}

impl TimeSeries<'_> {
    /// The title and the line under it (group and host).
    fn draw_head<DB: DrawingBackend>(&self, head: &DrawingArea<DB, Shift>) -> Result<()> {
        let p = &self.point;
        head.draw(&Text::new(
            format!(
                "RSS over time at {} Python x {} Rust threads: GIL vs free-threaded",
                p.python_threads, p.rust_threads
            ),
            (16, 12),
            TextStyle::from((FONT, 22, FontStyle::Bold).into_font()),
        ))
        .map_err(plot_err)?;
        head.draw(&Text::new(
            format!("{} · {}", Group::of(p).describe(), self.host),
            (16, 44),
            TextStyle::from((FONT, 15).into_font()).color(&RGBColor(60, 60, 60)),
        ))
        .map_err(plot_err)?;
        Ok(())
    }

    /// The upper chart: every run's RSS, thin, and each build's median run, thick and
    /// in the legend.
    fn draw_rss<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        t_max: f64,
        (lo, hi): (f64, f64),
    ) -> Result<()> {
        let e = plot_err;
        let mut chart = ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, lo..hi)
            .map_err(e)?;
        chart
            .configure_mesh()
            .y_desc("RSS (MiB)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        for (build, name, color) in BUILDS {
            let (runs, median) = self.build(build);
            for (i, r) in runs.iter().enumerate() {
                let pts: Vec<(f64, f64)> = times_ms(r).zip(rss_mib(r)).collect();
                let is_median = Some(i) == median;
                let style = if is_median {
                    color.stroke_width(3)
                } else {
                    color.mix(0.35).stroke_width(1)
                };
                let s = chart.draw_series(LineSeries::new(pts, style)).map_err(e)?;
                if is_median {
                    let delta = r.metrics.as_ref().map_or(0, |m| m.delta_kib) as f64 / 1024.0;
                    s.label(format!(
                        "{name}: median rep of {} (delta {delta:.2} MiB); thin: the others",
                        runs.len()
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                    });
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 14))
            .draw()
            .map_err(e)?;
        Ok(())
    }

    /// The lower chart: the thread count of each build's median run, up to
    /// `threads_max`.
    fn draw_threads<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        t_max: f64,
        threads_max: u32,
    ) -> Result<()> {
        let e = plot_err;
        let mut chart = ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(24)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0u32..threads_max + 1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .y_desc("threads (median rep)")
            .x_desc("time since the workload started (ms)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .y_labels(5)
            .draw()
            .map_err(e)?;
        for (build, _, color) in BUILDS {
            let (runs, median) = self.build(build);
            if let Some(r) = median.map(|i| runs[i]) {
                let pts = times_ms(r).zip(r.series.threads.iter().copied());
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}

impl Figure for TimeSeries<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 680)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(78);
        self.draw_head(&head)?;
        let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 as f64 * 0.68);
        let all: Vec<&RunRecord> = BUILDS.iter().flat_map(|b| self.build(b.0).0).collect();
        let t_max = all
            .iter()
            .filter_map(|r| r.series.t_ms.last().copied())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        self.draw_rss(&top, t_max, rss_range(&all))?;
        let threads_max = all
            .iter()
            .flat_map(|r| r.series.threads.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        self.draw_threads(&bottom, t_max, threads_max)
    }
}

/// One written plot.
#[derive(Debug, Clone)]
pub struct Written {
    pub point: Point,
    pub stem: String,
    pub svg: String,
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
        let svg = save(&fig, &dir.join(&stem))?;
        out.push(Written {
            point: point.clone(),
            stem,
            svg,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_parse_as_p_x_r() {
        assert_eq!(parse_cell("8x50"), Ok((8, 50)));
        assert_eq!(parse_cell(" 4X16 "), Ok((4, 16)));
        for bad in ["8", "8x", "x50", "0x4", "8x-1", "8*50", ""] {
            assert!(parse_cell(bad).is_err(), "{bad}");
        }
    }
}
