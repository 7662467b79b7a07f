//! Drawing a point's time series (the data is `TimeSeries::lines`): the RSS chart
//! above, the thread count of each build's median run below, one time axis.
//!
//! Readable at any length: the time axis is in ms up to 2 s and in seconds beyond,
//! and every axis prints as many decimals as its tick spacing needs, so ticks never
//! repeat a label (a 0.27 s run read `0 0 0 0 0 1 1` ms before).

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::{Line, TimeSeries, BUILDS};
use crate::report::figure::{plot_err, Figure, FONT};
use crate::report::heatmap::Group;

/// Decimals that tell apart ticks spread over `range` (about ten of them).
pub fn decimals(range: f64) -> usize {
    let step = range / 10.0;
    if step.is_nan() || step <= 0.0 || step >= 1.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize).min(6)
    }
}

/// The time axis's unit: (name, ms per unit).
fn time_unit(t_max_ms: f64) -> (&'static str, f64) {
    if t_max_ms >= 2000.0 {
        ("s", 1000.0)
    } else {
        ("ms", 1.0)
    }
}

/// An exact series holds each value until the next change: draw it as steps.
fn steps<T: Copy>(pts: &[(f64, T)]) -> Vec<(f64, T)> {
    let mut out = Vec::with_capacity(pts.len() * 2);
    for (i, &(t, v)) in pts.iter().enumerate() {
        if i > 0 {
            out.push((t, pts[i - 1].1));
        }
        out.push((t, v));
    }
    out
}

/// The phase labels to print and where (ms): `ready` at 0, `done` and `trimmed` at
/// the latest of the median runs' marks, merged when closer than 4% of the axis.
fn mark_labels(medians: &[&Line], t_max: f64) -> Vec<(String, f64)> {
    let latest = |f: fn(&Line) -> Option<f64>| {
        medians
            .iter()
            .filter_map(|l| f(l))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    };
    let mut out = vec![("ready".to_string(), 0.0)];
    match (latest(|l| l.done_ms), latest(|l| l.trimmed_ms)) {
        (Some(d), Some(t)) if (t - d).abs() < t_max * 0.04 => out.push(("done, trimmed".into(), t)),
        (d, t) => {
            out.extend(d.map(|d| ("done".to_string(), d)));
            out.extend(t.map(|t| ("trimmed".to_string(), t)));
        }
    }
    out
}

fn color_of(l: &Line) -> RGBColor {
    BUILDS
        .iter()
        .find(|b| b.0 == l.build)
        .map_or(BLACK, |b| b.2)
}

/// The axes' extent: (time in ms, RSS low, RSS high, threads).
fn extent(lines: &[Line]) -> (f64, f64, f64, u32) {
    let t_max = lines
        .iter()
        .flat_map(|l| {
            let last = l.rss.last().map_or(0.0, |p| p.0);
            [last, l.done_ms.unwrap_or(0.0), l.trimmed_ms.unwrap_or(0.0)]
        })
        .fold(0.0, f64::max);
    let (lo, hi) = lines
        .iter()
        .flat_map(|l| l.rss.iter().map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let threads = lines
        .iter()
        .flat_map(|l| l.threads.iter().map(|p| p.1))
        .max()
        .unwrap_or(1);
    // 2% room on the right, so the last marks are not on the frame.
    (t_max.max(1e-3) * 1.02, lo, hi, threads.max(1))
}

impl TimeSeries<'_> {
    fn draw_head<DB: DrawingBackend>(&self, head: &DrawingArea<DB, Shift>) -> Result<()> {
        let p = &self.point;
        head.draw(&Text::new(
            format!(
                "RSS over time at {} Python x {} Rust threads: GIL vs free-threaded",
                p.python_threads, p.rust_threads
            ),
            (16, 10),
            TextStyle::from((FONT, 22, FontStyle::Bold).into_font()),
        ))
        .map_err(plot_err)?;
        let grey = RGBColor(60, 60, 60);
        for (i, text) in [
            format!("{} · {}", Group::of(p).describe(), self.host),
            self.source_line(),
        ]
        .into_iter()
        .enumerate()
        {
            head.draw(&Text::new(
                text,
                (16, 40 + 20 * i as i32),
                TextStyle::from((FONT, 14).into_font()).color(&grey),
            ))
            .map_err(plot_err)?;
        }
        Ok(())
    }

    fn draw_rss<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        lines: &[Line],
        per: f64,
        t_max: f64,
        (lo, hi): (f64, f64),
    ) -> Result<()> {
        let e = plot_err;
        let pad = ((hi - lo) * 0.08).max(0.05);
        let (y0, y1) = ((lo - pad).max(0.0), hi + pad + (hi - lo) * 0.35 + 0.1);
        let (xd, yd) = (decimals(t_max / per), decimals(y1 - y0));
        let mut chart = ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max / per, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .y_desc("RSS (MiB)")
            .x_label_formatter(&|v| format!("{v:.xd$}"))
            .y_label_formatter(&|v| format!("{v:.yd$}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        for l in lines {
            let color = color_of(l);
            let pts: Vec<(f64, f64)> = l.rss.iter().map(|&(t, v)| (t / per, v)).collect();
            let pts = if l.exact { steps(&pts) } else { pts };
            let style = if l.median {
                color.stroke_width(3)
            } else {
                color.mix(0.35).stroke_width(1)
            };
            let s = chart.draw_series(LineSeries::new(pts, style)).map_err(e)?;
            if l.median {
                s.label(self.legend(l)).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
            }
        }
        // The phase marks of each build's median run: a line per build, a label per
        // phase (done and trimmed are often a few ms apart: one label then).
        let medians: Vec<&Line> = lines.iter().filter(|l| l.median).collect();
        for l in &medians {
            for at in [l.done_ms, l.trimmed_ms].into_iter().flatten() {
                let x = at / per;
                chart
                    .draw_series(LineSeries::new(
                        [(x, y0), (x, y1)],
                        color_of(l).mix(0.6).stroke_width(1),
                    ))
                    .map_err(e)?;
            }
        }
        let text = TextStyle::from((FONT, 13).into_font()).color(&RGBColor(60, 60, 60));
        let (y, x_end) = (y0 + (y1 - y0) * 0.03, t_max / per);
        for (name, x) in mark_labels(&medians, t_max) {
            let x = x / per;
            // Near the right edge the label goes left of its line.
            let (label, style) = if x > x_end * 0.8 {
                (
                    format!("{name} "),
                    text.pos(Pos::new(HPos::Right, VPos::Bottom)),
                )
            } else {
                (
                    format!(" {name}"),
                    text.pos(Pos::new(HPos::Left, VPos::Bottom)),
                )
            };
            chart
                .draw_series([Text::new(label, (x, y), style)])
                .map_err(e)?;
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

    fn legend(&self, l: &Line) -> String {
        let name = BUILDS.iter().find(|b| b.0 == l.build).map_or("", |b| b.1);
        let (runs, median) = self.build(l.build);
        let r = median.map(|i| runs[i]);
        let delta = crate::units::mib(
            r.and_then(|r| r.metrics.as_ref())
                .map_or(0, |m| m.delta_kib),
        );
        let points = r.map_or(0, |r| r.series.reduced_from.unwrap_or(r.series.len()));
        format!(
            "{name}: median rep of {} (delta {delta}, {points} points); thin: the others",
            runs.len()
        )
    }

    fn draw_threads<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        lines: &[Line],
        (unit, per): (&str, f64),
        t_max: f64,
        threads_max: u32,
    ) -> Result<()> {
        let e = plot_err;
        let xd = decimals(t_max / per);
        let x_desc = format!("time since the workload started ({unit})");
        let mut chart = ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(24)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max / per, 0u32..threads_max + 1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .y_desc("threads (median rep)")
            .x_desc(x_desc)
            .x_label_formatter(&|v| format!("{v:.xd$}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .y_labels(5)
            .draw()
            .map_err(e)?;
        for l in lines.iter().filter(|l| l.median) {
            let pts: Vec<(f64, u32)> = l.threads.iter().map(|&(t, n)| (t / per, n)).collect();
            let pts = if l.exact { steps(&pts) } else { pts };
            chart
                .draw_series(LineSeries::new(pts, color_of(l).stroke_width(2)))
                .map_err(e)?;
        }
        Ok(())
    }
}

impl Figure for TimeSeries<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(86);
        self.draw_head(&head)?;
        let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 as f64 * 0.68);
        let lines = self.lines();
        let (t_max, lo, hi, threads) = extent(&lines);
        let unit = time_unit(t_max);
        self.draw_rss(&top, &lines, unit.1, t_max, (lo, hi))?;
        self.draw_threads(&bottom, &lines, unit, t_max, threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_never_print_alike() {
        // 0.27 s in ms: ticks 0, 20, 40, ... need no decimals.
        assert_eq!(decimals(270.0), 0);
        // A 14.0-14.5 MiB axis: ticks 0.05 apart need two.
        assert_eq!(decimals(0.5), 2);
        // 0.1 s drawn in ms: ticks 10 ms apart.
        assert_eq!(decimals(100.0), 0);
        // 3 ms: ticks 0.3 ms apart need one.
        assert_eq!(decimals(3.0), 1);
        assert_eq!(decimals(0.0), 0);
        assert_eq!(time_unit(270.0), ("ms", 1.0));
        assert_eq!(time_unit(60_000.0), ("s", 1000.0));
    }

    #[test]
    fn an_exact_series_is_drawn_as_steps() {
        assert_eq!(
            steps(&[(0.0, 1), (2.0, 3), (5.0, 2)]),
            vec![(0.0, 1), (2.0, 1), (2.0, 3), (5.0, 3), (5.0, 2)]
        );
    }
}
