//! The trade-off between memory and throughput across allocator profiles: median
//! final RSS against calls per second relative to glibc-default, free-threaded build
//! filled and labelled, GIL build hollow; the Pareto front (profiles nothing beats on
//! both) joined by a line and the recommended profile ringed. File: `pareto.{svg,png}`,
//! written when at least two profiles have a measured throughput.
//!
//! Profiles often cluster (several land within a few MiB and a few percent), so:
//! - the axes' ticks are round values whose labels carry as many decimals as their
//!   step needs ([`axis_ticks`]), so no two ticks read the same;
//! - the point labels are placed greedily ([`place_labels`]): beside the point if a
//!   spot there is free of other labels and markers, else further up or down with a
//!   leader line back to it;
//! - the legend sits under the plot, where it cannot cover a point.
//!
//! The label placement itself is in `pareto/labels.rs`.

mod labels;

pub use labels::{place_labels, Anchor, Placement, Rect};

use std::path::Path;

use anyhow::Result;
use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::figure::{nice_ticks, plot_err, save, Figure, FONT};
use super::raster::text_width;
use super::timeseries::{GIL_COLOR, NOGIL_COLOR};
use crate::risk::ProfileRank;

pub struct Pareto<'a> {
    pub ranks: &'a [ProfileRank],
    pub recommended: Option<&'a str>,
    /// "host: 2 CPUs, glibc 2.36, THP madvise"
    pub host: String,
}

/// Round ticks covering [lo, hi] (about `n`, steps of 1, 2 or 5 x 10^k), each labelled
/// with as many decimals as the step has, then `suffix`: distinct values give
/// distinct labels, however narrow the range.
pub fn axis_ticks(lo: f64, hi: f64, n: usize, suffix: &str) -> Vec<(f64, String)> {
    let ticks = nice_ticks(lo, hi, n);
    let step = match ticks.as_slice() {
        [a, b, ..] => b - a,
        _ => (hi - lo).abs(),
    };
    let decimals = if step > 0.0 && step.is_finite() {
        // 0.5 -> 1, 0.2 -> 1, 0.05 -> 2, 5 -> 0; the 1e-9 absorbs float noise.
        (-(step.log10() + 1e-9).floor()).clamp(0.0, 9.0) as usize
    } else {
        0
    };
    ticks
        .into_iter()
        .map(|v| (v, format!("{v:.decimals$}{suffix}")))
        .collect()
}

/// A linear axis with the ticks of [`axis_ticks`] and their labels. (plotters' own
/// f64 axis picks its ticks, and a formatter cannot know their step.)
pub struct TickedAxis {
    linear: RangedCoordf64,
    ticks: Vec<(f64, String)>,
}

impl TickedAxis {
    fn new(lo: f64, hi: f64, n: usize, suffix: &str) -> TickedAxis {
        TickedAxis {
            linear: (lo..hi).into(),
            ticks: axis_ticks(lo, hi, n, suffix),
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    /// The ticks as bold lines and labels; no light lines.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

impl ValueFormatter<f64> for TickedAxis {
    fn format_ext(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.0 - value).abs() < 1e-9)
            .map_or_else(String::new, |t| t.1.clone())
    }
}

type Coords = Cartesian2d<TickedAxis, TickedAxis>;

/// A point's label, laid out.
#[derive(Debug, Clone)]
pub struct Label {
    pub text: String,
    pub bold: bool,
    /// The point, in pixels.
    pub anchor: (i32, i32),
    pub placement: Placement,
}

const LABEL_SIZE: f64 = 15.0;
const HEAD_H: u32 = 78;
const LEGEND_H: u32 = 34;

/// A profile's point: (profile, throughput, final RSS MiB, GIL (throughput, final
/// RSS MiB), on the front).
type ProfilePoint<'a> = (&'a str, f64, f64, Option<(f64, f64)>, bool);

impl Pareto<'_> {
    fn points(&self) -> Vec<ProfilePoint<'_>> {
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

    /// The axes' ranges: every point (and 1x) with some room, more on the right.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
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
        let (y0, y1) = if y0.is_finite() { (y0, y1) } else { (0.0, 1.0) };
        let xpad = ((x1 - x0) * 0.12).max(0.05);
        let ypad = ((y1 - y0) * 0.12).max(1.0);
        (
            (x0 - xpad, x1 + 2.5 * xpad),
            ((y0 - ypad).max(0.0), y1 + ypad),
        )
    }

    /// The chart (axes fixed, nothing drawn yet) and the labels of the free-threaded
    /// points, placed clear of each other and of every marker.
    pub fn layout<'b, DB: DrawingBackend>(
        &self,
        root: &'b DrawingArea<DB, Shift>,
    ) -> Result<(ChartContext<'b, DB, Coords>, Vec<Label>)> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let chart = ChartBuilder::on(root)
            .margin_top(HEAD_H)
            .margin_left(16)
            .margin_right(30)
            .margin_bottom(LEGEND_H + 4)
            .x_label_area_size(40)
            .y_label_area_size(76)
            .build_cartesian_2d(
                TickedAxis::new(x0, x1, 10, "x"),
                TickedAxis::new(y0, y1, 10, ""),
            )
            .map_err(plot_err)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let area = Rect {
            l: xr.start + 2,
            t: yr.start + 2,
            r: xr.end - 2,
            b: yr.end - 2,
        };
        let pts = self.points();
        let px = |p: (f64, f64)| chart.backend_coord(&p);
        // Every marker is an obstacle: free-threaded dots, GIL rings, the
        // recommended profile's ring.
        let mut obstacles = Vec::new();
        for p in &pts {
            let rec = self.recommended == Some(p.0);
            obstacles.push(Rect::around(px((p.1, p.2)), if rec { 14 } else { 8 }));
            if let Some(g) = p.3 {
                obstacles.push(Rect::around(px(g), 7));
            }
        }
        // The recommended profile first, then the front, then the rest by name.
        let mut order: Vec<usize> = (0..pts.len()).collect();
        order.sort_by_key(|&i| (self.recommended != Some(pts[i].0), !pts[i].4, pts[i].0));
        let texts: Vec<(String, bool)> = order
            .iter()
            .map(|&i| {
                let rec = self.recommended == Some(pts[i].0);
                let text = if rec {
                    format!("{} (recommended)", pts[i].0)
                } else {
                    pts[i].0.to_string()
                };
                (text, rec)
            })
            .collect();
        let anchors: Vec<Anchor> = order
            .iter()
            .zip(&texts)
            .map(|(&i, (text, rec))| Anchor {
                at: px((pts[i].1, pts[i].2)),
                radius: if *rec { 13 } else { 7 },
                size: (
                    text_width(text, LABEL_SIZE, *rec).ceil() as i32 + 2,
                    LABEL_SIZE as i32,
                ),
            })
            .collect();
        let placements = place_labels(&anchors, &obstacles, area);
        let labels = texts
            .into_iter()
            .zip(anchors.iter().map(|a| a.at))
            .zip(placements)
            .map(|(((text, bold), anchor), placement)| Label {
                text,
                bold,
                anchor,
                placement,
            })
            .collect();
        Ok((chart, labels))
    }
}

fn font<'a>(size: f64, bold: bool) -> TextStyle<'a> {
    if bold {
        TextStyle::from((FONT, size, FontStyle::Bold).into_font())
    } else {
        TextStyle::from((FONT, size).into_font())
    }
}

impl Figure for Pareto<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 640 + LEGEND_H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let e = plot_err;
        root.fill(&WHITE).map_err(e)?;
        root.draw(&Text::new(
            "Memory vs throughput by allocator profile",
            (16, 12),
            font(22.0, true),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            format!(
                "median final RSS over the grid vs calls/s relative to glibc-default · {}",
                self.host
            ),
            (16, 44),
            font(15.0, false).color(&RGBColor(60, 60, 60)),
        ))
        .map_err(e)?;
        let (mut chart, labels) = self.layout(root)?;
        chart
            .configure_mesh()
            .x_desc("calls per second relative to glibc-default (right = faster)")
            .y_desc("median final RSS (MiB, lower = better)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(e)?;
        let pts = self.points();
        // The front, from fastest to leanest.
        let mut front: Vec<(f64, f64)> = pts.iter().filter(|p| p.4).map(|p| (p.1, p.2)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, NOGIL_COLOR.mix(0.5).stroke_width(2)))
            .map_err(e)?;
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
            .map_err(e)?;
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.1, p.2), 7, NOGIL_COLOR.filled())),
            )
            .map_err(e)?;
        if let Some(p) = pts.iter().find(|p| self.recommended == Some(p.0)) {
            chart
                .draw_series([Circle::new((p.1, p.2), 13, BLACK.stroke_width(2))])
                .map_err(e)?;
        }
        for l in &labels {
            let r = l.placement.rect;
            if l.placement.leader {
                root.draw(&PathElement::new(
                    vec![l.anchor, r.nearest(l.anchor)],
                    RGBColor(120, 120, 120).stroke_width(1),
                ))
                .map_err(e)?;
            }
            root.draw(&Text::new(
                l.text.clone(),
                (r.l + 1, (r.t + r.b) / 2),
                font(LABEL_SIZE, l.bold).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
        }
        legend(
            root,
            self.size().1 as i32 - LEGEND_H as i32 + 6,
            self.recommended.is_some(),
        )
    }
}

/// The legend, one row under the plot (the ring only when a profile wears it).
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    y: i32,
    recommended: bool,
) -> Result<()> {
    let e = plot_err;
    let y = y + 10;
    let mut x = 96;
    let items = [
        "Pareto front (free-threaded)",
        "free-threaded build",
        "GIL build (grey line: same profile)",
        "recommended",
    ];
    let shown = if recommended { 4 } else { 3 };
    for (i, text) in items.iter().take(shown).enumerate() {
        match i {
            0 => root
                .draw(&PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    NOGIL_COLOR.mix(0.5).stroke_width(2),
                ))
                .map_err(e)?,
            1 => root
                .draw(&Circle::new((x + 12, y), 7, NOGIL_COLOR.filled()))
                .map_err(e)?,
            2 => root
                .draw(&Circle::new((x + 12, y), 6, GIL_COLOR.stroke_width(2)))
                .map_err(e)?,
            _ => root
                .draw(&Circle::new((x + 12, y), 10, BLACK.stroke_width(2)))
                .map_err(e)?,
        }
        root.draw(&Text::new(
            *text,
            (x + 32, y),
            font(14.0, false).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(e)?;
        x += 32 + text_width(text, 14.0, false).ceil() as i32 + 28;
    }
    Ok(())
}

/// Write `pareto.{svg,png}` when there is a trade-off to show; returns the SVG.
pub fn write(dir: &Path, fig: &Pareto) -> Result<Option<String>> {
    if !fig.drawable() {
        return Ok(None);
    }
    save(fig, &dir.join("pareto")).map(Some)
}

#[cfg(test)]
mod tests;
