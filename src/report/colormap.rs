//! Colour scales for the plots: a perceptual sequential map (viridis) for magnitudes,
//! and a diverging map (ColorBrewer RdBu, blue for less) for values with a neutral
//! middle: amplification on a log scale around 1x, and differences around 0.
//!
//! Both are tables of anchor colours interpolated linearly in sRGB. Viridis's
//! anchors are its colour at 0, 1/8, ..., 1 (the same as R's `viridisLite::viridis(9)`);
//! its lightness rises monotonically, so interpolating between them keeps it
//! perceptually ordered and readable in greyscale.

use plotters::style::RGBColor;

/// viridis at 0, 1/8, 2/8, ..., 1.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2d, 0x7b),
    (0x3b, 0x52, 0x8b),
    (0x2c, 0x72, 0x8e),
    (0x21, 0x90, 0x8c),
    (0x27, 0xad, 0x81),
    (0x5d, 0xc8, 0x63),
    (0xaa, 0xdc, 0x32),
    (0xfd, 0xe7, 0x25),
];

/// ColorBrewer RdBu (11 classes), reversed: dark blue (low) .. light grey .. dark red (high).
const DIVERGING: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xac),
    (0x43, 0x93, 0xc3),
    (0x92, 0xc5, 0xde),
    (0xd1, 0xe5, 0xf0),
    (0xf7, 0xf7, 0xf7),
    (0xfd, 0xdb, 0xc7),
    (0xf4, 0xa5, 0x82),
    (0xd6, 0x60, 0x4d),
    (0xb2, 0x18, 0x2b),
    (0x67, 0x00, 0x1f),
];

fn interpolate(table: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (table.len() - 1) as f64;
    let i = (pos.floor() as usize).min(table.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (table[i], table[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Viridis at `t` in [0, 1] (clamped).
pub fn viridis(t: f64) -> RGBColor {
    interpolate(&VIRIDIS, t)
}

/// The diverging map at `t` in [0, 1] (clamped): 0.5 is the neutral light grey.
pub fn diverging(t: f64) -> RGBColor {
    interpolate(&DIVERGING, t)
}

/// WCAG relative luminance of an sRGB colour.
pub fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// Black or white, whichever contrasts more with `background`.
pub fn text_on(background: RGBColor) -> RGBColor {
    let l = luminance(background);
    // Contrast with black is (l + 0.05) / 0.05, with white 1.05 / (l + 0.05).
    if (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) {
        RGBColor(0, 0, 0)
    } else {
        RGBColor(255, 255, 255)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        // matplotlib's viridis(0.5) is (0.127568, 0.566949, 0.550556) -> (33, 145, 140).
        let m = viridis(0.5);
        assert!(
            (i32::from(m.0) - 33).abs() <= 2 && (i32::from(m.1) - 145).abs() <= 2,
            "{m:?}"
        );
        assert_eq!(diverging(0.5), RGBColor(0xf7, 0xf7, 0xf7));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(diverging(7.0), RGBColor(0x67, 0x00, 0x1f));
    }

    #[test]
    fn viridis_gets_lighter_all_the_way() {
        let mut last = -1.0;
        for i in 0..=64 {
            let l = luminance(viridis(f64::from(i) / 64.0));
            assert!(l > last, "lightness must rise monotonically at {i}");
            last = l;
        }
    }

    #[test]
    fn text_contrasts_with_its_background() {
        assert_eq!(text_on(viridis(0.0)), RGBColor(255, 255, 255));
        assert_eq!(text_on(viridis(1.0)), RGBColor(0, 0, 0));
        assert_eq!(text_on(diverging(0.5)), RGBColor(0, 0, 0));
        assert_eq!(text_on(diverging(1.0)), RGBColor(255, 255, 255));
    }
}
