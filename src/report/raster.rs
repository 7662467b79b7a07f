//! The PNG backend: plotters' bitmap backend with its own text rendering.
//!
//! plotters 0.3.7's `ab_glyph` renderer drops each glyph's left side bearing and
//! rounds the pen position per glyph, so letters collide or drift apart ("m advise").
//! [`Raster`] forwards everything to `BitMapBackend` except text, which it lays out
//! with ab_glyph directly: sub-pixel pen positions, kerning, each glyph placed by its
//! own bounds, anchored on the font's ascent and descent, and sized so that an em is
//! `size / 1.24` pixels, as the SVG backend writes `font-size`.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

use super::figure::{BOLD, REGULAR};

fn font(bold: bool) -> &'static FontRef<'static> {
    static FONTS: OnceLock<(FontRef<'static>, FontRef<'static>)> = OnceLock::new();
    let fonts = FONTS.get_or_init(|| {
        (
            FontRef::try_from_slice(REGULAR).expect("bundled DejaVu Sans"),
            FontRef::try_from_slice(BOLD).expect("bundled DejaVu Sans Bold"),
        )
    });
    if bold {
        &fonts.1
    } else {
        &fonts.0
    }
}

/// Glyphs positioned on a baseline at y = 0 from x = 0, and the line's metrics.
struct Line {
    glyphs: Vec<ab_glyph::Glyph>,
    width: f32,
    ascent: f32,
    descent: f32,
}

fn layout(text: &str, size: f64, bold: bool) -> Line {
    let f = font(bold);
    let px_per_em = size as f32 / 1.24;
    let scale = PxScale::from(px_per_em * f.height_unscaled() / f.units_per_em().unwrap_or(2048.0));
    let sf = f.as_scaled(scale);
    let mut x = 0.0;
    let mut prev = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = sf.glyph_id(c);
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(x, 0.0)));
        x += sf.h_advance(id);
        prev = Some(id);
    }
    Line {
        glyphs,
        width: x,
        ascent: sf.ascent(),
        descent: sf.descent(),
    }
}

/// The width in pixels of `text` on one line, as [`Raster`] draws it. Figures use it
/// to lay text out before drawing (the SVG's fonts are the viewer's, of about the
/// same width: DejaVu Sans is among the widest sans-serif faces).
pub(crate) fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    f64::from(layout(text, size, bold).width)
}

/// A bitmap backend that renders text correctly.
pub struct Raster<'a>(pub BitMapBackend<'a>);

type Err<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for Raster<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Err<'a>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Err<'a>> {
        self.0.present()
    }
    fn draw_pixel(&mut self, p: BackendCoord, c: BackendColor) -> Result<(), Err<'a>> {
        self.0.draw_pixel(p, c)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        ul: BackendCoord,
        br: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.0.draw_rect(ul, br, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), Err<'a>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), Err<'a>> {
        let line = layout(text, style.size(), matches!(style.style(), FontStyle::Bold));
        Ok((
            line.width.ceil() as u32,
            (line.ascent - line.descent).ceil() as u32,
        ))
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), Err<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let line = layout(text, style.size(), matches!(style.style(), FontStyle::Bold));
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -line.width / 2.0,
            HPos::Right => -line.width,
        };
        // Where the baseline sits below the anchor point (descent is negative).
        let baseline = match style.anchor().v_pos {
            VPos::Top => line.ascent,
            VPos::Center => (line.ascent + line.descent) / 2.0,
            VPos::Bottom => line.descent,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let f = font(matches!(style.style(), FontStyle::Bold));
        for mut g in line.glyphs {
            g.position = point(g.position.x + dx, g.position.y + baseline);
            let Some(outline) = f.outline_glyph(g) else {
                continue;
            };
            let b = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|gx, gy, coverage| {
                if coverage > 0.0 {
                    pixels.push((
                        b.min.x as i32 + gx as i32,
                        b.min.y as i32 + gy as i32,
                        coverage,
                    ));
                }
            });
            for (x, y, coverage) in pixels {
                let (x, y) = trans.transform(x, y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.0.draw_pixel((x, y), c)?;
                }
            }
        }
        Ok(())
    }
}
