//! The trade-off between memory and throughput across allocator profiles: median
//! final RSS against calls per second relative to glibc-default, free-threaded build
//! filled and labelled, GIL build hollow; the Pareto front (profiles nothing beats on
//! both) joined by a line and the recommended profile ringed. File: `pareto.{svg,png}`,
//! written when at least two profiles have a measured throughput.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::figure::{plot_err, save, Figure, FONT};
use super::timeseries::{GIL_COLOR, NOGIL_COLOR};
use crate::risk::ProfileRank;

pub struct Pareto<'a> {
    pub ranks: &'a [ProfileRank],
    pub recommended: Option<&'a str>,
    /// "host: 2 CPUs, glibc 2.36, THP madvise"
    pub host: String,
}

impl Pareto<'_> {
    /// (profile, throughput, final RSS MiB, GIL (throughput, final RSS MiB), on the front).
    #[allow(clippy::type_complexity)]
    fn points(&self) -> Vec<(&str, f64, f64, Option<(f64, f64)>, bool)> {
        self.ranks
            .iter()
            .filter_map(|r| {
                Some((
                    r.profile.as_str(),
                    r.throughput_nogil?,
                    r.final_nogil_kib? / 1024.0,
                    r.throughput_gil.zip(r.final_gil_kib.map(|k| k / 1024.0)),
                    r.pareto,
                ))
            })
            .collect()
    }

    /// Worth drawing: two or more profiles with a throughput.
    pub fn drawable(&self) -> bool {
        self.points().len() >= 2
    }
}

impl Figure for Pareto<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let e = plot_err;
        root.fill(&WHITE).map_err(e)?;
        let (head, body) = root.split_vertically(78);
        head.draw(&Text::new(
            "Memory vs throughput by allocator profile",
            (16, 12),
            TextStyle::from((FONT, 22, FontStyle::Bold).into_font()),
        ))
        .map_err(e)?;
        head.draw(&Text::new(
            format!(
                "median final RSS over the grid vs calls/s relative to glibc-default · {}",
                self.host
            ),
            (16, 44),
            TextStyle::from((FONT, 15).into_font()).color(&RGBColor(60, 60, 60)),
        ))
        .map_err(e)?;
        let pts = self.points();
        let xs = pts
            .iter()
            .flat_map(|p| [Some(p.1), p.3.map(|g| g.0)])
            .flatten();
        let ys = pts
            .iter()
            .flat_map(|p| [Some(p.2), p.3.map(|g| g.1)])
            .flatten();
        let (x0, x1) = xs.fold((1.0f64, 1.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        // More room on the right, where the labels run.
        let xpad = ((x1 - x0) * 0.12).max(0.05);
        let ypad = ((y1 - y0) * 0.12).max(1.0);
        let mut chart = ChartBuilder::on(&body)
            .margin_left(16)
            .margin_right(30)
            .margin_bottom(10)
            .x_label_area_size(40)
            .y_label_area_size(76)
            .build_cartesian_2d(
                (x0 - xpad)..(x1 + 2.5 * xpad),
                (y0 - ypad).max(0.0)..(y1 + ypad),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("calls per second relative to glibc-default (right = faster)")
            .y_desc("median final RSS (MiB, lower = better)")
            .x_label_formatter(&|v| format!("{v:.2}x"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        // The front, from fastest to leanest.
        let mut front: Vec<(f64, f64)> = pts.iter().filter(|p| p.4).map(|p| (p.1, p.2)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, NOGIL_COLOR.mix(0.5).stroke_width(2)))
            .map_err(e)?
            .label("Pareto front (free-threaded)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], NOGIL_COLOR.stroke_width(2))
            });
        // Each GIL point is tied to its profile's free-threaded point.
        for p in &pts {
            if let Some(g) = p.3 {
                chart
                    .draw_series(LineSeries::new(
                        [g, (p.1, p.2)],
                        RGBColor(170, 170, 170).stroke_width(1),
                    ))
                    .map_err(e)?;
            }
        }
        chart
            .draw_series(pts.iter().filter_map(|p| {
                p.3.map(|(x, y)| Circle::new((x, y), 6, GIL_COLOR.stroke_width(2)))
            }))
            .map_err(e)?
            .label("GIL build (grey line: same profile)")
            .legend(|(x, y)| Circle::new((x + 12, y), 6, GIL_COLOR.stroke_width(2)));
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.1, p.2), 7, NOGIL_COLOR.filled())),
            )
            .map_err(e)?
            .label("free-threaded build")
            .legend(|(x, y)| Circle::new((x + 12, y), 7, NOGIL_COLOR.filled()));
        for p in &pts {
            let rec = self.recommended == Some(p.0);
            if rec {
                chart
                    .draw_series([Circle::new((p.1, p.2), 13, BLACK.stroke_width(2))])
                    .map_err(e)?;
            }
            let label = if rec {
                format!("{} (recommended)", p.0)
            } else {
                p.0.to_string()
            };
            let style = if rec {
                TextStyle::from((FONT, 15, FontStyle::Bold).into_font())
            } else {
                TextStyle::from((FONT, 15).into_font())
            };
            chart
                .draw_series([EmptyElement::at((p.1, p.2)) + Text::new(label, (14, -20), style)])
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
}

/// Write `pareto.{svg,png}` when there is a trade-off to show; returns the SVG.
pub fn write(dir: &Path, fig: &Pareto) -> Result<Option<String>> {
    if !fig.drawable() {
        return Ok(None);
    }
    save(fig, &dir.join("pareto")).map(Some)
}
