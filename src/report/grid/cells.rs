//! The cells of a heatmap: a value cell (fill, value and marker, second line, and
//! the marks of [`CellMarks`]), a FAILED cell and a "not run" cell, each framed in
//! white.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{at, bold, font, CellMarks, Frame, GridCell, MarkedGrid, CELL_W};
use crate::report::colormap::text_on;
use crate::report::figure::plot_err;

/// Every cell of the grid, each drawn by its kind and then framed in white.
pub(super) fn draw_cells<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    mg: &MarkedGrid,
    frame: Frame,
) -> Result<()> {
    let g = &mg.grid;
    for (ix, &x) in g.xs.iter().enumerate() {
        for (iy, &y) in g.ys.iter().enumerate() {
            let (left, top) = (frame.left(ix), frame.top(iy));
            let rect = (left, top, left + CELL_W, top + frame.ch);
            match g.cells.get(&(x, y)) {
                Some(cell @ GridCell::Value { value, .. }) => {
                    let marks = mg.marks.get(&(x, y)).cloned().unwrap_or_default();
                    value_cell(root, rect, cell, mg.fill((x, y), *value), &marks)?;
                }
                Some(GridCell::Failed { sub }) => failed_cell(root, rect, sub)?,
                None => not_run_cell(root, rect)?,
            }
            root.draw(&Rectangle::new(
                [(rect.0, rect.1), (rect.2, rect.3)],
                ShapeStyle::from(&WHITE).stroke_width(2),
            ))
            .map_err(plot_err)?;
        }
    }
    Ok(())
}

/// A point of the grid that was not run: grey hatching and "not run".
fn not_run_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
) -> Result<()> {
    hatch(root, (l, t, r, b), RGBColor(215, 215, 215))?;
    root.draw(&Text::new(
        "not run",
        (l + (r - l) / 2, t + (b - t) / 2),
        at(
            font(14.0).color(&RGBColor(110, 110, 110)),
            HPos::Center,
            VPos::Center,
        ),
    ))
    .map_err(plot_err)?;
    Ok(())
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
    let note = marks.note();
    let (y_value, y_sub) = if note.is_some() {
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
    if let Some(note) = note {
        root.draw(&Text::new(
            note,
            (cx, mid + 28),
            at(bold(13.0).color(&fg), HPos::Center, VPos::Center),
        ))
        .map_err(e)?;
    }
    if marks.growing.is_some() {
        // A filled triangle pointing up in the top-left corner.
        root.draw(&Polygon::new(
            vec![(l + 4, t + 18), (l + 20, t + 18), (l + 12, t + 4)],
            fg.filled(),
        ))
        .map_err(e)?;
    }
    if marks.unstable.is_some() {
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
