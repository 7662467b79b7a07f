//! The heatmap figure itself: a grid of cells (Python threads across, Rust threads
//! up), each filled by a colour scale and labelled with its value, a significance
//! marker and a second line; a colour bar with ticks; a title block and a legend.
//! `heatmap.rs` (a sweep) and `compare.rs` (two sweeps) decide what goes in it.

use std::collections::BTreeMap;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::colormap::{diverging, text_on, viridis};
use super::figure::{nice_ticks, plot_err, Figure, FONT};

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// viridis from `lo` (dark) to `hi` (light).
    Sequential { lo: f64, hi: f64 },
    /// Diverging on log10, 1 in the middle (neutral), `decades` either way to the ends.
    LogRatio { decades: f64 },
    /// Diverging, 0 in the middle, `max_abs` either way to the ends.
    Difference { max_abs: f64 },
}

impl Scale {
    /// A sequential scale over the values (widened if they are all equal).
    pub fn sequential(values: impl IntoIterator<Item = f64>) -> Scale {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return Scale::Sequential { lo: 0.0, hi: 1.0 };
        }
        // Magnitudes start at 0 unless they go below it.
        lo = lo.min(0.0);
        if hi - lo < 1e-9 {
            hi = lo + 1.0;
        }
        Scale::Sequential { lo, hi }
    }

    /// A log scale around 1 reaching the most extreme ratio (at least 2x either way).
    pub fn log_ratio(values: impl IntoIterator<Item = f64>) -> Scale {
        let decades = values
            .into_iter()
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| v.log10().abs())
            .fold(2f64.log10(), f64::max);
        Scale::LogRatio { decades }
    }

    /// A difference scale around 0 reaching the largest change (never zero-wide).
    pub fn difference(values: impl IntoIterator<Item = f64>) -> Scale {
        let max_abs = values
            .into_iter()
            .filter(|v| v.is_finite())
            .map(f64::abs)
            .fold(0.0, f64::max);
        Scale::Difference {
            max_abs: if max_abs > 0.0 { max_abs } else { 1.0 },
        }
    }

    /// Position of `v` on the colour bar, 0 (bottom) to 1 (top), clamped.
    pub fn t(&self, v: f64) -> f64 {
        let t = match *self {
            Scale::Sequential { lo, hi } => (v - lo) / (hi - lo),
            // Zero (no nogil growth at all) sits at the bottom end.
            Scale::LogRatio { .. } if v <= 0.0 => 0.0,
            Scale::LogRatio { decades } => 0.5 + v.log10() / (2.0 * decades),
            Scale::Difference { max_abs } => 0.5 + v / (2.0 * max_abs),
        };
        t.clamp(0.0, 1.0)
    }

    pub fn color(&self, v: f64) -> RGBColor {
        match self {
            Scale::Sequential { .. } => viridis(self.t(v)),
            _ => diverging(self.t(v)),
        }
    }

    /// (value, label) of the colour bar's ticks.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        match *self {
            Scale::Sequential { lo, hi } => nice_ticks(lo, hi, 5)
                .into_iter()
                .map(|v| (v, tick_label(v)))
                .collect(),
            Scale::LogRatio { decades } => {
                let all = [
                    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
                    20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
                ];
                let inside: Vec<f64> = all
                    .into_iter()
                    .filter(|v: &f64| v.log10().abs() <= decades + 1e-9)
                    .collect();
                // Past about 9 ticks keep the powers of ten only.
                let keep: Vec<f64> = if inside.len() > 9 {
                    inside
                        .into_iter()
                        .filter(|v| (v.log10() - v.log10().round()).abs() < 1e-9)
                        .collect()
                } else {
                    inside
                };
                keep.into_iter()
                    .map(|v| (v, format!("{}x", tick_label(v))))
                    .collect()
            }
            Scale::Difference { max_abs } => nice_ticks(-max_abs, max_abs, 4)
                .into_iter()
                .map(|v| {
                    let l = tick_label(v);
                    (v, if v > 0.0 { format!("+{l}") } else { l })
                })
                .collect(),
        }
    }
}

/// 2, 0.5, 0.25, 1000: no trailing zeros.
fn tick_label(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// What a cell shows.
#[derive(Debug, Clone, PartialEq)]
pub enum GridCell {
    /// A value: its colour comes from the scale.
    Value {
        value: f64,
        /// The printed value, e.g. "29.9x".
        text: String,
        /// The significance marker ("", "*", "**", "***").
        marker: &'static str,
        /// A smaller second line.
        sub: String,
        /// Some runs of the cell failed (the value comes from the others).
        some_failed: bool,
    },
    /// No value because runs failed; `sub` says how many.
    Failed { sub: String },
}

/// A whole heatmap, ready to draw.
#[derive(Debug, Clone)]
pub struct Grid {
    pub title: String,
    /// Lines under the title (profile, binding, pattern; host).
    pub subtitle: Vec<String>,
    pub xs: Vec<u32>,
    pub ys: Vec<u32>,
    /// Keyed by (x, y) = (Python threads, Rust threads); a missing key is "not run".
    pub cells: BTreeMap<(u32, u32), GridCell>,
    pub scale: Scale,
    pub colorbar_label: String,
    /// Lines under the grid explaining markers.
    pub legend: Vec<String>,
}

const CELL_W: i32 = 136;
const CELL_H: i32 = 78;
const LEFT: i32 = 112;
const TOP: i32 = 104;
const BAR_AREA: i32 = 170;
const BOTTOM_AXIS: i32 = 64;
const LEGEND_LINE: i32 = 19;
const MIN_W: i32 = 860;
const MIN_GRID_H: i32 = 240;

fn font<'a>(size: f64) -> TextStyle<'a> {
    TextStyle::from((FONT, size).into_font())
}

fn bold<'a>(size: f64) -> TextStyle<'a> {
    TextStyle::from((FONT, size, FontStyle::Bold).into_font())
}

fn at(style: TextStyle<'_>, h: HPos, v: VPos) -> TextStyle<'_> {
    style.pos(Pos::new(h, v))
}

impl Grid {
    fn grid_h(&self) -> i32 {
        (self.ys.len() as i32 * CELL_H).max(MIN_GRID_H)
    }

    /// Top-left corner of the cell grid, and each cell's height (the grid is at least
    /// MIN_GRID_H tall, so a single row gets a taller cell).
    fn origin(&self) -> (i32, i32, i32) {
        let ch = self.grid_h() / (self.ys.len().max(1) as i32);
        let extra = (self.subtitle.len() as i32 - 2).max(0) * 18;
        (LEFT, TOP + extra, ch)
    }
}

impl Figure for Grid {
    fn size(&self) -> (u32, u32) {
        let w = (LEFT + self.xs.len() as i32 * CELL_W + BAR_AREA).max(MIN_W);
        let (_, top, _) = self.origin();
        let h = top + self.grid_h() + BOTTOM_AXIS + 12 + LEGEND_LINE * self.legend.len() as i32;
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let e = plot_err;
        root.fill(&WHITE).map_err(e)?;
        let (w, _) = self.size();
        let (x0, y0, ch) = self.origin();
        let cw = CELL_W;
        let (nx, ny) = (self.xs.len() as i32, self.ys.len() as i32);
        let grid_w = nx * cw;
        let grid_h = ny * ch;

        // Title block.
        root.draw(&Text::new(
            self.title.clone(),
            (16, 14),
            at(bold(24.0), HPos::Left, VPos::Top),
        ))
        .map_err(e)?;
        for (i, line) in self.subtitle.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (16, 48 + 20 * i as i32),
                at(
                    font(15.0).color(&RGBColor(60, 60, 60)),
                    HPos::Left,
                    VPos::Top,
                ),
            ))
            .map_err(e)?;
        }

        // Cells: Rust threads grow upwards, as in the talk's risk matrix.
        for (ix, &x) in self.xs.iter().enumerate() {
            for (iy, &y) in self.ys.iter().enumerate() {
                let left = x0 + ix as i32 * cw;
                let top = y0 + (ny - 1 - iy as i32) * ch;
                let (l, t, r, b) = (left, top, left + cw, top + ch);
                let cx = left + cw / 2;
                match self.cells.get(&(x, y)) {
                    Some(GridCell::Value {
                        value,
                        text,
                        marker,
                        sub,
                        some_failed,
                    }) => {
                        let bg = self.scale.color(*value);
                        let fg = text_on(bg);
                        root.draw(&Rectangle::new([(l, t), (r, b)], bg.filled()))
                            .map_err(e)?;
                        root.draw(&Text::new(
                            format!("{text}{marker}"),
                            (cx, top + ch / 2 - 9),
                            at(bold(22.0).color(&fg), HPos::Center, VPos::Center),
                        ))
                        .map_err(e)?;
                        root.draw(&Text::new(
                            sub.clone(),
                            (cx, top + ch / 2 + 17),
                            at(font(14.0).color(&fg), HPos::Center, VPos::Center),
                        ))
                        .map_err(e)?;
                        if *some_failed {
                            triangle(root, l + 3, t + 3)?;
                        }
                    }
                    Some(GridCell::Failed { sub }) => {
                        hatch(root, (l, t, r, b), RGBColor(200, 60, 60))?;
                        // A plain band behind the words keeps them off the hatching.
                        root.draw(&Rectangle::new(
                            [(l + 6, top + ch / 2 - 24), (r - 6, top + ch / 2 + 26)],
                            WHITE.mix(0.92).filled(),
                        ))
                        .map_err(e)?;
                        root.draw(&Text::new(
                            "FAILED",
                            (cx, top + ch / 2 - 9),
                            at(
                                bold(18.0).color(&RGBColor(150, 20, 20)),
                                HPos::Center,
                                VPos::Center,
                            ),
                        ))
                        .map_err(e)?;
                        root.draw(&Text::new(
                            sub.clone(),
                            (cx, top + ch / 2 + 15),
                            at(
                                font(13.0).color(&RGBColor(90, 20, 20)),
                                HPos::Center,
                                VPos::Center,
                            ),
                        ))
                        .map_err(e)?;
                    }
                    None => {
                        hatch(root, (l, t, r, b), RGBColor(215, 215, 215))?;
                        root.draw(&Text::new(
                            "not run",
                            (cx, top + ch / 2),
                            at(
                                font(14.0).color(&RGBColor(110, 110, 110)),
                                HPos::Center,
                                VPos::Center,
                            ),
                        ))
                        .map_err(e)?;
                    }
                }
                root.draw(&Rectangle::new(
                    [(l, t), (r, b)],
                    ShapeStyle::from(&WHITE).stroke_width(2),
                ))
                .map_err(e)?;
            }
        }

        // Axes: tick labels and titles.
        for (ix, x) in self.xs.iter().enumerate() {
            root.draw(&Text::new(
                x.to_string(),
                (x0 + ix as i32 * cw + cw / 2, y0 + grid_h + 8),
                at(font(16.0), HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            "Python threads",
            (x0 + grid_w / 2, y0 + grid_h + 34),
            at(bold(16.0), HPos::Center, VPos::Top),
        ))
        .map_err(e)?;
        for (iy, y) in self.ys.iter().enumerate() {
            root.draw(&Text::new(
                y.to_string(),
                (x0 - 10, y0 + (ny - 1 - iy as i32) * ch + ch / 2),
                at(font(16.0), HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            "Rust threads per call",
            (26, y0 + grid_h / 2),
            at(bold(16.0), HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))
        .map_err(e)?;

        // Colour bar.
        let bx = x0 + grid_w + 36;
        let (bt, bb) = (y0, y0 + grid_h);
        let steps = 120;
        for i in 0..steps {
            let t0 = f64::from(i) / f64::from(steps);
            let t1 = f64::from(i + 1) / f64::from(steps);
            let ya = bb - ((bb - bt) as f64 * t1).round() as i32;
            let yb = bb - ((bb - bt) as f64 * t0).round() as i32;
            let c = match self.scale {
                Scale::Sequential { .. } => viridis((t0 + t1) / 2.0),
                _ => diverging((t0 + t1) / 2.0),
            };
            root.draw(&Rectangle::new([(bx, ya), (bx + 24, yb)], c.filled()))
                .map_err(e)?;
        }
        root.draw(&Rectangle::new(
            [(bx, bt), (bx + 24, bb)],
            ShapeStyle::from(&BLACK).stroke_width(1),
        ))
        .map_err(e)?;
        for (v, label) in self.scale.ticks() {
            let y = bb - ((bb - bt) as f64 * self.scale.t(v)).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 24, y), (bx + 30, y)], BLACK))
                .map_err(e)?;
            root.draw(&Text::new(
                label,
                (bx + 34, y),
                at(font(14.0), HPos::Left, VPos::Center),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            self.colorbar_label.clone(),
            ((w as i32 - 18).min(bx + 120), y0 + grid_h / 2),
            at(font(15.0), HPos::Center, VPos::Center).transform(FontTransform::Rotate90),
        ))
        .map_err(e)?;

        // Legend.
        let ly = y0 + grid_h + BOTTOM_AXIS + 6;
        for (i, line) in self.legend.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (16, ly + LEGEND_LINE * i as i32),
                at(
                    font(13.0).color(&RGBColor(50, 50, 50)),
                    HPos::Left,
                    VPos::Top,
                ),
            ))
            .map_err(e)?;
        }
        Ok(())
    }
}

/// Diagonal hatching over a light fill: a cell without a value.
fn hatch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
    line: RGBColor,
) -> Result<()> {
    root.draw(&Rectangle::new(
        [(l, t), (r, b)],
        RGBColor(245, 245, 245).filled(),
    ))
    .map_err(plot_err)?;
    let (w, h) = (r - l, b - t);
    let mut k = -h;
    while k < w {
        // The segment of the line x - y = k (cell coordinates) inside the cell.
        let (xa, ya) = (k.max(0), (k.max(0) - k));
        let (xb, yb) = ((k + h).min(w), (k + h).min(w) - k);
        root.draw(&PathElement::new(
            vec![(l + xa, t + h - ya), (l + xb, t + h - yb)],
            line.stroke_width(1),
        ))
        .map_err(plot_err)?;
        k += 12;
    }
    Ok(())
}

/// The "some runs failed" corner mark.
fn triangle<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, x: i32, y: i32) -> Result<()> {
    root.draw(&Polygon::new(
        vec![(x, y), (x + 16, y), (x, y + 16)],
        RGBColor(220, 30, 30).filled(),
    ))
    .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_puts_one_in_the_middle() {
        let s = Scale::log_ratio([0.5, 4.0, 29.9]);
        assert_eq!(s.t(1.0), 0.5);
        assert!(s.t(29.9) > 0.99 && s.t(0.5) < 0.5);
        // Symmetric: 1/k is as far below the middle as k is above it.
        assert!((s.t(4.0) - 0.5 - (0.5 - s.t(0.25))).abs() < 1e-12);
        assert_eq!(s.t(0.0), 0.0);
        let labels: Vec<String> = s.ticks().into_iter().map(|t| t.1).collect();
        assert!(labels.contains(&"1x".to_string()) && labels.contains(&"10x".to_string()));
        // Nothing but the values' spread: at least 2x either way.
        assert_eq!(
            Scale::log_ratio([1.1]),
            Scale::LogRatio {
                decades: 2f64.log10()
            }
        );
    }

    #[test]
    fn difference_scale_puts_zero_in_the_middle() {
        let s = Scale::difference([-3.0, 1.0]);
        assert_eq!((s.t(0.0), s.t(3.0), s.t(-3.0)), (0.5, 1.0, 0.0));
        let labels: Vec<String> = s.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["-2", "0", "+2"]);
    }

    #[test]
    fn sequential_scale_starts_at_zero() {
        assert_eq!(
            Scale::sequential([2.0, 5.0]),
            Scale::Sequential { lo: 0.0, hi: 5.0 }
        );
        assert_eq!(
            Scale::sequential([-1.0, 5.0]),
            Scale::Sequential { lo: -1.0, hi: 5.0 }
        );
        assert_eq!(
            Scale::sequential([0.0]),
            Scale::Sequential { lo: 0.0, hi: 1.0 }
        );
    }
}
