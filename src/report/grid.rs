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

use std::collections::BTreeMap;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::colormap::{calm, text_on};
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
        self.marks.values().any(|m| m.unstable.is_some())
    }
}

impl Figure for MarkedGrid {
    fn size(&self) -> (u32, u32) {
        self.grid.size_with(self.notes())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let e = plot_err;
        let g = &self.grid;
        root.fill(&WHITE).map_err(e)?;
        let (x0, y0, ch) = g.origin(self.notes());
        let cw = CELL_W;
        let (nx, ny) = (g.xs.len() as i32, g.ys.len() as i32);
        let grid_w = nx * cw;
        let grid_h = ny * ch;

        // Title block.
        root.draw(&Text::new(
            g.title.clone(),
            (16, 14),
            at(bold(24.0), HPos::Left, VPos::Top),
        ))
        .map_err(e)?;
        for (i, line) in g.subtitle.iter().enumerate() {
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
        for (ix, &x) in g.xs.iter().enumerate() {
            for (iy, &y) in g.ys.iter().enumerate() {
                let left = x0 + ix as i32 * cw;
                let top = y0 + (ny - 1 - iy as i32) * ch;
                let rect = (left, top, left + cw, top + ch);
                match g.cells.get(&(x, y)) {
                    Some(cell @ GridCell::Value { value, .. }) => {
                        let marks = self.marks.get(&(x, y)).cloned().unwrap_or_default();
                        value_cell(root, rect, cell, self.fill((x, y), *value), &marks)?;
                    }
                    Some(GridCell::Failed { sub }) => failed_cell(root, rect, sub)?,
                    None => {
                        hatch(root, rect, RGBColor(215, 215, 215))?;
                        root.draw(&Text::new(
                            "not run",
                            (left + cw / 2, top + ch / 2),
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
                    [(rect.0, rect.1), (rect.2, rect.3)],
                    ShapeStyle::from(&WHITE).stroke_width(2),
                ))
                .map_err(e)?;
            }
        }

        // Axes: tick labels and titles.
        for (ix, x) in g.xs.iter().enumerate() {
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
        for (iy, y) in g.ys.iter().enumerate() {
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

        colour_bar(root, g, (x0 + grid_w + 36, y0, y0 + grid_h))?;

        // Legend.
        let ly = y0 + grid_h + BOTTOM_AXIS + 6;
        for (i, (continued, line)) in g.legend_lines().into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (
                    16 + if continued { LEGEND_INDENT } else { 0 },
                    ly + LEGEND_LINE * i as i32,
                ),
                at(
                    font(LEGEND_SIZE).color(&RGBColor(50, 50, 50)),
                    HPos::Left,
                    VPos::Top,
                ),
            ))
            .map_err(e)?;
        }
        Ok(())
    }
}

/// A cell with a value: its fill, the value and marker, the second line, the unstable
/// line and corner, the HIGH frame and the "some runs failed" corner.
fn value_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
    cell: &GridCell,
    bg: RGBColor,
    marks: &CellMarks,
) -> Result<()> {
    let e = plot_err;
    let GridCell::Value {
        text,
        marker,
        sub,
        some_failed,
        ..
    } = cell
    else {
        return Ok(());
    };
    let fg = text_on(bg);
    let (cx, mid) = ((l + r) / 2, (t + b) / 2);
    root.draw(&Rectangle::new([(l, t), (r, b)], bg.filled()))
        .map_err(e)?;
    // Two lines centred as a block, or three with the unstable line.
    let (y_value, y_sub) = if marks.unstable.is_some() {
        (mid - 18, mid + 7)
    } else {
        (mid - 9, mid + 17)
    };
    root.draw(&Text::new(
        format!("{text}{marker}"),
        (cx, y_value),
        at(bold(22.0).color(&fg), HPos::Center, VPos::Center),
    ))
    .map_err(e)?;
    root.draw(&Text::new(
        sub.clone(),
        (cx, y_sub),
        at(font(14.0).color(&fg), HPos::Center, VPos::Center),
    ))
    .map_err(e)?;
    if let Some(note) = &marks.unstable {
        root.draw(&Text::new(
            note.clone(),
            (cx, mid + 28),
            at(bold(13.0).color(&fg), HPos::Center, VPos::Center),
        ))
        .map_err(e)?;
        // Hatched top-right corner: strokes across the corner.
        for k in [8, 15, 22] {
            root.draw(&PathElement::new(
                vec![(r - k, t + 1), (r - 1, t + k)],
                fg.stroke_width(2),
            ))
            .map_err(e)?;
        }
    }
    if marks.framed {
        // Black, lined with white so that it shows on the darkest fill.
        root.draw(&Rectangle::new(
            [(l + 3, t + 3), (r - 3, b - 3)],
            ShapeStyle::from(&BLACK).stroke_width(4),
        ))
        .map_err(e)?;
        root.draw(&Rectangle::new(
            [(l + 6, t + 6), (r - 6, b - 6)],
            ShapeStyle::from(&WHITE).stroke_width(1),
        ))
        .map_err(e)?;
    }
    if *some_failed {
        triangle(root, l + 3, t + 3)?;
    }
    Ok(())
}

/// A cell whose builds have no successful run.
fn failed_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
    sub: &str,
) -> Result<()> {
    let e = plot_err;
    let (cx, mid) = ((l + r) / 2, (t + b) / 2);
    hatch(root, (l, t, r, b), RGBColor(200, 60, 60))?;
    // A plain band behind the words keeps them off the hatching.
    root.draw(&Rectangle::new(
        [(l + 6, mid - 24), (r - 6, mid + 26)],
        WHITE.mix(0.92).filled(),
    ))
    .map_err(e)?;
    root.draw(&Text::new(
        "FAILED",
        (cx, mid - 9),
        at(
            bold(18.0).color(&RGBColor(150, 20, 20)),
            HPos::Center,
            VPos::Center,
        ),
    ))
    .map_err(e)?;
    root.draw(&Text::new(
        sub.to_string(),
        (cx, mid + 15),
        at(
            font(13.0).color(&RGBColor(90, 20, 20)),
            HPos::Center,
            VPos::Center,
        ),
    ))
    .map_err(e)?;
    Ok(())
}

/// The colour bar at x = `bx`, from `bt` (top) to `bb` (bottom): the scale's strip,
/// and for amplification its calm strip beside it, caps at the saturated ends, the
/// ticks with the thresholds drawn across, and the rotated label.
fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    g: &Grid,
    (bx, bt, bb): (i32, i32, i32),
) -> Result<()> {
    let e = plot_err;
    let amplification = matches!(g.scale, Scale::Amplification { .. });
    // (left, width, calm?) of each strip.
    let mut strips = vec![(bx, STRIP_W, false)];
    if amplification {
        strips.push((bx + STRIP_W + 3, CALM_STRIP_W, true));
    }
    let right = strips.last().map_or(bx, |s| s.0 + s.1);
    let tone = |t: f64, pale: bool| {
        let c = g.scale.color_at(t);
        if pale {
            calm(c)
        } else {
            c
        }
    };
    let steps = 120;
    for &(sx, sw, pale) in &strips {
        for i in 0..steps {
            let t0 = f64::from(i) / f64::from(steps);
            let t1 = f64::from(i + 1) / f64::from(steps);
            let ya = bb - ((bb - bt) as f64 * t1).round() as i32;
            let yb = bb - ((bb - bt) as f64 * t0).round() as i32;
            root.draw(&Rectangle::new(
                [(sx, ya), (sx + sw, yb)],
                tone((t0 + t1) / 2.0, pale).filled(),
            ))
            .map_err(e)?;
        }
        if amplification {
            // Caps: the ends stand for everything beyond them.
            for (tip, base, t) in [(bt - CAP_H, bt, 1.0), (bb + CAP_H, bb, 0.0)] {
                root.draw(&Polygon::new(
                    vec![(sx, base), (sx + sw, base), (sx + sw / 2, tip)],
                    tone(t, pale).filled(),
                ))
                .map_err(e)?;
                root.draw(&PathElement::new(
                    vec![(sx, base), (sx + sw / 2, tip), (sx + sw, base)],
                    ShapeStyle::from(&BLACK).stroke_width(1),
                ))
                .map_err(e)?;
            }
        }
        root.draw(&Rectangle::new(
            [(sx, bt), (sx + sw, bb)],
            ShapeStyle::from(&BLACK).stroke_width(1),
        ))
        .map_err(e)?;
    }
    if amplification {
        // The calm strip is for LOW cells: say so under it.
        for (sx, sw, _) in strips.iter().filter(|s| s.2) {
            root.draw(&Text::new(
                "LOW",
                (sx + sw / 2, bb + CAP_H + 4),
                at(bold(11.0), HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
        }
    }
    let label_x = right + 10;
    let ticks = g.scale.ticks();
    let widest = ticks
        .iter()
        .map(|t| text_width(&t.label, 14.0, t.threshold))
        .fold(0.0, f64::max);
    for tick in ticks {
        let y = bb - ((bb - bt) as f64 * g.scale.t(tick.value)).round() as i32;
        let (style, from) = if tick.threshold {
            (bold(14.0), bx - 5)
        } else {
            (font(14.0), right)
        };
        root.draw(&PathElement::new(
            vec![(from, y), (right + 6, y)],
            ShapeStyle::from(&BLACK).stroke_width(if tick.threshold { 2 } else { 1 }),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            tick.label,
            (label_x, y),
            at(style, HPos::Left, VPos::Center),
        ))
        .map_err(e)?;
    }
    let (w, _) = root.dim_in_pixel();
    root.draw(&Text::new(
        g.colorbar_label.clone(),
        (
            (w as i32 - 18).min(label_x + widest.ceil() as i32 + 22),
            (bt + bb) / 2,
        ),
        at(font(15.0), HPos::Center, VPos::Center).transform(FontTransform::Rotate90),
    ))
    .map_err(e)?;
    Ok(())
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
