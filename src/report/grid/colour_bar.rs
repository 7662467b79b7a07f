//! The colour bar beside a heatmap: the scale's strip (and, for amplification, its
//! calm strip for LOW cells) with caps at the saturated ends, the ticks with the
//! thresholds drawn across, and the rotated label.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{at, bold, font, Grid, Scale, CALM_STRIP_W, CAP_H, STRIP_W};
use crate::report::colormap::calm;
use crate::report::figure::plot_err;
use crate::report::raster::text_width;

/// Bands each strip is painted in.
const STEPS: i32 = 120;

/// One strip of the bar: left edge, width, and whether it shows the calm tone.
#[derive(Debug, Clone, Copy)]
struct Strip {
    x: i32,
    w: i32,
    calm: bool,
}

/// The bar's vertical extent: `top` is the scale's high end, `bottom` its low end.
#[derive(Debug, Clone, Copy)]
struct Span {
    top: i32,
    bottom: i32,
}

impl Span {
    /// The pixel row of scale position `t` (0 = bottom, 1 = top).
    fn y(self, t: f64) -> i32 {
        self.bottom - ((self.bottom - self.top) as f64 * t).round() as i32
    }
}

/// The colour bar at x = `bx`, from `bt` (top) to `bb` (bottom): the strips, the LOW
/// mark under the calm strip, the ticks and the label.
pub(super) fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    g: &Grid,
    (bx, bt, bb): (i32, i32, i32),
) -> Result<()> {
    let amplification = matches!(g.scale, Scale::Amplification { .. });
    let span = Span {
        top: bt,
        bottom: bb,
    };
    let mut strips = vec![Strip {
        x: bx,
        w: STRIP_W,
        calm: false,
    }];
    if amplification {
        strips.push(Strip {
            x: bx + STRIP_W + 3,
            w: CALM_STRIP_W,
            calm: true,
        });
    }
    let right = strips.last().map_or(bx, |s| s.x + s.w);
    for &strip in &strips {
        draw_strip(root, &g.scale, strip, span, amplification)?;
    }
    // The calm strip is for LOW cells: say so under it.
    for strip in strips.iter().filter(|s| s.calm) {
        root.draw(&Text::new(
            "LOW",
            (strip.x + strip.w / 2, bb + CAP_H + 4),
            at(bold(11.0), HPos::Center, VPos::Top),
        ))
        .map_err(plot_err)?;
    }
    let label_x = right + 10;
    let widest = draw_ticks(root, &g.scale, span, (bx, right), label_x)?;
    let (w, _) = root.dim_in_pixel();
    root.draw(&Text::new(
        g.colorbar_label.clone(),
        (
            (w as i32 - 18).min(label_x + widest.ceil() as i32 + 22),
            (bt + bb) / 2,
        ),
        at(font(15.0), HPos::Center, VPos::Center).transform(FontTransform::Rotate90),
    ))
    .map_err(plot_err)?;
    Ok(())
}

/// The colour at scale position `t`, in its calm tone on a calm strip.
fn tone(scale: &Scale, t: f64, pale: bool) -> RGBColor {
    let c = scale.color_at(t);
    if pale {
        calm(c)
    } else {
        c
    }
}

/// One strip: its colour bands, the caps (amplification: the ends stand for
/// everything beyond them) and its outline.
fn draw_strip<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scale: &Scale,
    Strip {
        x: sx,
        w: sw,
        calm: pale,
    }: Strip,
    span: Span,
    caps: bool,
) -> Result<()> {
    let e = plot_err;
    for i in 0..STEPS {
        let t0 = f64::from(i) / f64::from(STEPS);
        let t1 = f64::from(i + 1) / f64::from(STEPS);
        root.draw(&Rectangle::new(
            [(sx, span.y(t1)), (sx + sw, span.y(t0))],
            tone(scale, (t0 + t1) / 2.0, pale).filled(),
        ))
        .map_err(e)?;
    }
    if caps {
        for (tip, base, t) in [
            (span.top - CAP_H, span.top, 1.0),
            (span.bottom + CAP_H, span.bottom, 0.0),
        ] {
            root.draw(&Polygon::new(
                vec![(sx, base), (sx + sw, base), (sx + sw / 2, tip)],
                tone(scale, t, pale).filled(),
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
        [(sx, span.top), (sx + sw, span.bottom)],
        ShapeStyle::from(&BLACK).stroke_width(1),
    ))
    .map_err(e)?;
    Ok(())
}

/// The scale's ticks: a line from the strips' right edge `right` (a threshold's, bold,
/// from across the bar at `bx`) and a label at `label_x`. Returns the widest label's
/// width, which places the bar's own label beside them.
fn draw_ticks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scale: &Scale,
    span: Span,
    (bx, right): (i32, i32),
    label_x: i32,
) -> Result<f64> {
    let e = plot_err;
    let ticks = scale.ticks();
    let widest = ticks
        .iter()
        .map(|t| text_width(&t.label, 14.0, t.threshold))
        .fold(0.0, f64::max);
    for tick in ticks {
        let y = span.y(scale.t(tick.value));
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
    Ok(widest)
}
