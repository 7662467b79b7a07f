//! What every plot shares: the bundled font, the [`Figure`] trait each plot implements
//! once for both backends, saving a figure as `<stem>.svg` and `<stem>.png`, file-name
//! slugs, and number formatting.
//!
//! The font is DejaVu Sans (`assets/fonts/`, licence beside it), compiled into the
//! binary and registered with plotters' `ab_glyph` renderer as "sans-serif", so PNGs
//! render the same on a fresh machine with no fonts installed. SVGs keep their text as
//! `<text>` elements (font-family sans-serif), which browsers render with their own
//! sans-serif and which tests can search.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// The family name every plot asks for.
pub const FONT: &str = "sans-serif";

pub(crate) static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(crate) static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Register the bundled fonts (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled in; a failure is a build defect.
        let ok = register_font(FONT, FontStyle::Normal, REGULAR).is_ok()
            && register_font(FONT, FontStyle::Bold, BOLD).is_ok();
        assert!(ok, "the bundled DejaVu Sans font could not be loaded");
    });
}

/// A plot drawn the same way on the SVG and the bitmap backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Turn a plotters error into an anyhow error.
pub fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Render `fig` as SVG text.
pub fn svg_string(fig: &impl Figure) -> Result<String> {
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        fig.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Write `<stem>.svg` and `<stem>.png`; returns the SVG text (for inlining in HTML).
pub fn save(fig: &impl Figure, stem: &Path) -> Result<String> {
    let svg = svg_string(fig)?;
    let svg_path = with_ext(stem, "svg");
    std::fs::write(&svg_path, &svg)
        .map_err(|e| anyhow!("cannot write {}: {e}", svg_path.display()))?;
    let png_path = with_ext(stem, "png");
    {
        let root =
            super::raster::Raster(BitMapBackend::new(&png_path, fig.size())).into_drawing_area();
        fig.draw(&root)?;
        root.present()
            .map_err(|e| anyhow!("cannot write {}: {e:?}", png_path.display()))?;
    }
    Ok(svg)
}

pub fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A name part safe in a file name and a URL: ASCII letters, digits, `.`, `_`, `-`
/// and `@` are kept, anything else becomes `_` (a `workload:path/x.py` pattern gives
/// `workload_path_x.py`).
pub fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match out.trim_start_matches('.') {
        "" => "_".to_string(),
        t => t.to_string(),
    }
}

/// An amplification: 0.82x, 7.1x, 29.9x, 151x.
pub fn times(a: f64) -> String {
    if a >= 100.0 {
        format!("{a:.0}x")
    } else if a >= 1.0 {
        format!("{a:.1}x")
    } else {
        format!("{a:.2}x")
    }
}

/// The significance marker of a BH-adjusted p-value: `***` < 0.001, `**` < 0.01,
/// `*` < 0.05, nothing otherwise.
pub fn stars(p_adjusted: Option<f64>) -> &'static str {
    match p_adjusted {
        Some(p) if p < 0.001 => "***",
        Some(p) if p < 0.01 => "**",
        Some(p) if p < 0.05 => "*",
        _ => "",
    }
}

/// The legend line for [`stars`].
pub const STARS_LEGEND: &str =
    "* q < 0.05, ** q < 0.01, *** q < 0.001: Mann-Whitney U of nogil vs GIL deltas, Benjamini-Hochberg-adjusted over the grid";

/// Nice tick values covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `n` of them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || n == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        // Round away float noise (3 x 0.1 = 0.30000000000000004) and -0.0.
        .map(|i| (i as f64 * step * 1e9).round() / 1e9 + 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("glibc-default"), "glibc-default");
        assert_eq!(slug("glibc-default@64cpus"), "glibc-default@64cpus");
        assert_eq!(slug("workload:dir/x y.py"), "workload_dir_x_y.py");
        assert_eq!(slug("../../etc"), "_.._etc");
        assert_eq!(slug(""), "_");
    }

    #[test]
    fn number_formats() {
        assert_eq!(times(29.94), "29.9x");
        assert_eq!(times(0.8234), "0.82x");
        assert_eq!(times(151.2), "151x");
        assert_eq!(stars(Some(0.0079)), "**");
        assert_eq!(stars(Some(0.04)), "*");
        assert_eq!(stars(Some(0.0009)), "***");
        assert_eq!((stars(Some(0.05)), stars(None)), ("", ""));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(0.13, 0.61, 4), vec![0.2, 0.4, 0.6]);
        assert_eq!(nice_ticks(0.0, 0.35, 4), vec![0.0, 0.1, 0.2, 0.3]);
        assert_eq!(nice_ticks(-3.0, 3.0, 3), vec![-2.0, 0.0, 2.0]);
    }
}
