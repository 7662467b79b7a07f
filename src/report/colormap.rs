//! Colour scales for the plots, from the `colorous` crate (d3-scale-chromatic's
//! schemes): viridis for magnitudes, and ColorBrewer RdBu, reversed so that blue is
//! less and red is more, for values with a neutral middle: amplification on a log
//! scale around 1x, and differences around 0.
//!
//! Viridis's lightness rises monotonically, so it stays ordered in greyscale. RdBu's
//! lightness peaks at its neutral middle and falls towards both ends, so how far a
//! colour is from the neutral says how far the value is from "no difference".
//! [`calm`] fades a diverging colour towards that neutral: the heatmaps draw a cell
//! whose risk is LOW in it, so a large ratio of small numbers does not look like an
//! alarm.

use plotters::style::RGBColor;

fn rgb(c: colorous::Color) -> RGBColor {
    RGBColor(c.r, c.g, c.b)
}

/// `t` clamped to [0, 1]; NaN counts as 0.
fn unit(t: f64) -> f64 {
    if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else if t == f64::INFINITY {
        1.0
    } else {
        0.0
    }
}

/// Viridis at `t` in [0, 1] (clamped): dark purple to yellow.
pub fn viridis(t: f64) -> RGBColor {
    rgb(colorous::VIRIDIS.eval_continuous(unit(t)))
}

/// The diverging map at `t` in [0, 1] (clamped): dark blue at 0, the neutral light
/// grey at 0.5, dark red at 1.
pub fn diverging(t: f64) -> RGBColor {
    // colorous's RdBu runs from red to blue.
    rgb(colorous::RED_BLUE.eval_continuous(1.0 - unit(t)))
}

/// The diverging map's middle: "no difference".
pub fn neutral() -> RGBColor {
    diverging(0.5)
}

/// How much of a colour's distance from the neutral its calm tone keeps.
pub const CALM_STRENGTH: f64 = 0.3;

/// The calm tone of `c`: [`CALM_STRENGTH`] of the way from the neutral to `c`, mixed
/// in sRGB. The hue still says which way the value points; the paleness says that it
/// is no cause for alarm.
pub fn calm(c: RGBColor) -> RGBColor {
    let n = neutral();
    let mix = |from: u8, to: u8| {
        (f64::from(from) + (f64::from(to) - f64::from(from)) * CALM_STRENGTH).round() as u8
    };
    RGBColor(mix(n.0, c.0), mix(n.1, c.1), mix(n.2, c.2))
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

/// WCAG contrast ratio of two colours (1 to 21).
pub fn contrast(a: RGBColor, b: RGBColor) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Black or white, whichever contrasts more with `background`.
pub fn text_on(background: RGBColor) -> RGBColor {
    let (black, white) = (RGBColor(0, 0, 0), RGBColor(255, 255, 255));
    if contrast(background, black) >= contrast(background, white) {
        black
    } else {
        white
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: RGBColor, b: (u8, u8, u8), tol: i32) -> bool {
        (i32::from(a.0) - i32::from(b.0)).abs() <= tol
            && (i32::from(a.1) - i32::from(b.1)).abs() <= tol
            && (i32::from(a.2) - i32::from(b.2)).abs() <= tol
    }

    #[test]
    fn ends_and_middle() {
        // matplotlib's viridis: 0 -> #440154, 1 -> #fde725, 0.5 -> (0.127568,
        // 0.566949, 0.550556) = (33, 145, 140).
        assert!(
            close(viridis(0.0), (0x44, 0x01, 0x54), 1),
            "{:?}",
            viridis(0.0)
        );
        assert!(
            close(viridis(1.0), (0xfd, 0xe7, 0x25), 1),
            "{:?}",
            viridis(1.0)
        );
        assert!(close(viridis(0.5), (33, 145, 140), 2), "{:?}", viridis(0.5));
        // ColorBrewer RdBu's ends are #053061 (blue) and #67001f (red); its middle
        // class is #f7f7f7, which the spline through the classes passes near.
        assert!(close(diverging(0.0), (0x05, 0x30, 0x61), 1));
        assert!(close(diverging(1.0), (0x67, 0x00, 0x1f), 1));
        assert!(close(neutral(), (0xf7, 0xf7, 0xf7), 10), "{:?}", neutral());
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(diverging(7.0), diverging(1.0));
        assert_eq!(diverging(f64::INFINITY), diverging(1.0));
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
    fn diverging_is_lightest_in_the_middle_and_darkens_both_ways() {
        // Outwards from the middle, each step is darker than the one before.
        for dir in [-1.0, 1.0] {
            let mut last = f64::INFINITY;
            for i in 0..=32 {
                let l = luminance(diverging(0.5 + dir * f64::from(i) / 64.0));
                assert!(
                    l <= last + 1e-9,
                    "lightness must fall outwards at {dir} {i}"
                );
                last = l;
            }
        }
        // Blue below, red above.
        let (lo, hi) = (diverging(0.1), diverging(0.9));
        assert!(lo.2 > lo.0 && hi.0 > hi.2, "{lo:?} {hi:?}");
    }

    #[test]
    fn calm_tones_stay_near_the_neutral_and_keep_their_side() {
        let n = neutral();
        assert_eq!(calm(n), n);
        for t in [0.0, 0.2, 0.8, 1.0] {
            let (full, pale) = (diverging(t), calm(diverging(t)));
            // Closer to the neutral than the full colour, and light...
            assert!(contrast(full, n) > contrast(pale, n), "{t}");
            assert!(luminance(pale) > 0.4, "{t}: {pale:?}");
            // ...but still on its side: red stays reddish, blue bluish.
            if t > 0.5 {
                assert!(pale.0 > pale.2, "{t}: {pale:?}");
            } else {
                assert!(pale.2 > pale.0, "{t}: {pale:?}");
            }
        }
    }

    #[test]
    fn text_contrasts_with_its_background() {
        assert_eq!(text_on(viridis(0.0)), RGBColor(255, 255, 255));
        assert_eq!(text_on(viridis(1.0)), RGBColor(0, 0, 0));
        assert_eq!(text_on(neutral()), RGBColor(0, 0, 0));
        assert_eq!(text_on(diverging(1.0)), RGBColor(255, 255, 255));
        assert_eq!(text_on(diverging(0.0)), RGBColor(255, 255, 255));
        // A calm tone is light: black text, as on the neutral.
        for i in 0..=20 {
            let pale = calm(diverging(f64::from(i) / 20.0));
            assert_eq!(text_on(pale), RGBColor(0, 0, 0), "{i}: {pale:?}");
        }
    }
}
