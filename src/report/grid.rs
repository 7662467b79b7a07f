//! The heatmap figure itself: a grid of cells (Python threads across, Rust threads
//! up), each filled by a colour scale ([`Scale`], in `scale.rs`) and labelled with its
//! value, a significance marker and a second line; a colour bar with ticks; a title
//! block and a legend. `heatmap.rs` (a sweep) and `compare.rs` (two sweeps) decide
//! what goes in it.
//!
//! A sweep's heatmaps also mark cells ([`CellMarks`], drawn by [`MarkedGrid`]): a
//! LOW-risk amplification in the calm tone of its colour, a HIGH one with a thick
//! frame, and a point whose repetitions do not pin it down with a hatched corner and
//! a line saying how many repetitions would.
//!
//! This file lays the figure out and draws its title, axes and legend; the cells are
//! drawn by `grid/cells.rs` and the colour bar by `grid/colour_bar.rs`.

mod cells;
mod colour_bar;

use std::collections::BTreeMap;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::colormap::calm;
use super::figure::{plot_err, Figure, FONT};
use super::raster::text_width;
pub use super::scale::{Scale, Tick};

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

/// What a value cell says beyond its number and its scale colour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellMarks {
    /// Filled with the calm tone of its colour ([`calm`]): an amplification whose
    /// risk is LOW.
    pub calm: bool,
    /// A thick dark frame: an amplification whose risk is HIGH.
    pub framed: bool,
    /// A hatched top-right corner and this line under the others, e.g.
    /// "~ unstable: --reps 40".
    pub unstable: Option<String>,
    /// A filled triangle in the top-left corner and this line under the others, e.g.
    /// "^ grows +40 KiB/round": a build keeps growing round after round.
    pub growing: Option<String>,
}

impl CellMarks {
    /// The third line of the cell: the unstable note, the growth note, or both.
    pub fn note(&self) -> Option<String> {
        match (&self.unstable, &self.growing) {
            (Some(u), Some(g)) => Some(format!("{}, {g}", u.replace(": --reps", " reps"))),
            (Some(u), None) => Some(u.clone()),
            (None, Some(g)) => Some(g.clone()),
            (None, None) => None,
        }
    }
}

/// A [`Grid`] with marks on some of its value cells, keyed like its cells.
#[derive(Debug, Clone)]
pub struct MarkedGrid {
    pub grid: Grid,
    pub marks: BTreeMap<(u32, u32), CellMarks>,
}

impl MarkedGrid {
    /// The fill of the value cell at `key`: the scale's colour, or its calm tone.
    pub fn fill(&self, key: (u32, u32), value: f64) -> RGBColor {
        let full = self.grid.scale.color(value);
        if self.marks.get(&key).is_some_and(|m| m.calm) {
            calm(full)
        } else {
            full
        }
    }
}

const CELL_W: i32 = 144;
/// Row height for two lines per cell, and for three (a cell with an unstable line).
const CELL_H: i32 = 78;
const CELL_H_NOTE: i32 = 96;
const LEFT: i32 = 112;
const TOP: i32 = 104;
const BAR_AREA: i32 = 210;
const BOTTOM_AXIS: i32 = 64;
const LEGEND_LINE: i32 = 19;
const LEGEND_SIZE: f64 = 13.0;
/// Indent of a legend line's continuation.
const LEGEND_INDENT: i32 = 14;
const MIN_W: i32 = 860;
const MIN_GRID_H: i32 = 240;
/// Colour bar strips: the scale, and beside it (amplification) its calm tone.
const STRIP_W: i32 = 24;
const CALM_STRIP_W: i32 = 16;
/// Height of the triangles that cap a saturating bar.
const CAP_H: i32 = 10;

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
    fn row_h(notes: bool) -> i32 {
        if notes {
            CELL_H_NOTE
        } else {
            CELL_H
        }
    }

    fn grid_h(&self, notes: bool) -> i32 {
        (self.ys.len() as i32 * Self::row_h(notes)).max(MIN_GRID_H)
    }

    /// Top-left corner of the cell grid, and each cell's height (the grid is at least
    /// MIN_GRID_H tall, so a single row gets a taller cell).
    fn origin(&self, notes: bool) -> (i32, i32, i32) {
        let ch = self.grid_h(notes) / (self.ys.len().max(1) as i32);
        let extra = (self.subtitle.len() as i32 - 2).max(0) * 18;
        (LEFT, TOP + extra, ch)
    }

    fn width(&self) -> i32 {
        (LEFT + self.xs.len() as i32 * CELL_W + BAR_AREA).max(MIN_W)
    }

    /// The legend wrapped at spaces to the figure's width: (continuation?, text).
    fn legend_lines(&self) -> Vec<(bool, String)> {
        let room = f64::from(self.width() - 32 - LEGEND_INDENT);
        let mut out = Vec::new();
        for line in &self.legend {
            let mut current = String::new();
            let mut continued = false;
            for word in line.split(' ') {
                let longer = if current.is_empty() {
                    word.to_string()
                } else {
                    format!("{current} {word}")
                };
                if !current.is_empty() && text_width(&longer, LEGEND_SIZE, false) > room {
                    out.push((continued, std::mem::replace(&mut current, word.to_string())));
                    continued = true;
                } else {
                    current = longer;
                }
            }
            out.push((continued, current));
        }
        out
    }

    fn size_with(&self, notes: bool) -> (u32, u32) {
        let (_, top, _) = self.origin(notes);
        let lines = self.legend_lines().len() as i32;
        let h = top + self.grid_h(notes) + BOTTOM_AXIS + 12 + LEGEND_LINE * lines;
        (self.width() as u32, h as u32)
    }
}

impl Figure for Grid {
    fn size(&self) -> (u32, u32) {
        self.size_with(false)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        MarkedGrid {
            grid: self.clone(),
            marks: BTreeMap::new(),
        }
        .draw(root)
    }
}

impl MarkedGrid {
    fn notes(&self) -> bool {
        self.marks.values().any(|m| m.note().is_some())
    }
}

impl Figure for MarkedGrid {
    fn size(&self) -> (u32, u32) {
        self.grid.size_with(self.notes())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let g = &self.grid;
        root.fill(&WHITE).map_err(plot_err)?;
        let (x0, y0, ch) = g.origin(self.notes());
        let frame = Frame {
            x0,
            y0,
            ch,
            ny: g.ys.len() as i32,
            w: g.xs.len() as i32 * CELL_W,
        };
        g.draw_title(root)?;
        cells::draw_cells(root, self, frame)?;
        g.draw_axes(root, frame)?;
        colour_bar::colour_bar(root, g, (x0 + frame.w + 36, y0, y0 + frame.h()))?;
        g.draw_legend(root, y0 + frame.h() + BOTTOM_AXIS + 6)
    }
}

/// Where the cell grid sits in the figure, in pixels.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Left edge of the grid.
    x0: i32,
    /// Top edge of the grid.
    y0: i32,
    /// Height of a cell (width is [`CELL_W`]).
    ch: i32,
    /// Number of rows.
    ny: i32,
    /// Width of the grid.
    w: i32,
}

impl Frame {
    /// Height of the grid.
    fn h(&self) -> i32 {
        self.ny * self.ch
    }

    /// Left edge of column `ix`.
    fn left(&self, ix: usize) -> i32 {
        self.x0 + ix as i32 * CELL_W
    }

    /// Top edge of row `iy`: Rust threads grow upwards, as in the talk's risk matrix.
    fn top(&self, iy: usize) -> i32 {
        self.y0 + (self.ny - 1 - iy as i32) * self.ch
    }
}

impl Grid {
    /// The title block: the title and the subtitle lines under it.
    fn draw_title<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let e = plot_err;
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
        Ok(())
    }

    /// The axes: each column's and row's tick label, and the two axis titles.
    fn draw_axes<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        frame: Frame,
    ) -> Result<()> {
        let e = plot_err;
        let (y0, ch) = (frame.y0, frame.ch);
        for (ix, x) in self.xs.iter().enumerate() {
            root.draw(&Text::new(
                x.to_string(),
                (frame.left(ix) + CELL_W / 2, y0 + frame.h() + 8),
                at(font(16.0), HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            "Python threads",
            (frame.x0 + frame.w / 2, y0 + frame.h() + 34),
            at(bold(16.0), HPos::Center, VPos::Top),
        ))
        .map_err(e)?;
        for (iy, y) in self.ys.iter().enumerate() {
            root.draw(&Text::new(
                y.to_string(),
                (frame.x0 - 10, frame.top(iy) + ch / 2),
                at(font(16.0), HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
        }
        root.draw(&Text::new(
            "Rust threads per call",
            (26, y0 + frame.h() / 2),
            at(bold(16.0), HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))
        .map_err(e)?;
        Ok(())
    }

    /// The legend lines under the axes, from `top` down.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        top: i32,
    ) -> Result<()> {
        for (i, (continued, line)) in self.legend_lines().into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (
                    16 + if continued { LEGEND_INDENT } else { 0 },
                    top + LEGEND_LINE * i as i32,
                ),
                at(
                    font(LEGEND_SIZE).color(&RGBColor(50, 50, 50)),
                    HPos::Left,
                    VPos::Top,
                ),
            ))
            .map_err(plot_err)?;
        }
        Ok(())
    }
}
