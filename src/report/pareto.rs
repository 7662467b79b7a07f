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

/// A box in pixels: left, top, right, bottom (right and bottom exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub l: i32,
    pub t: i32,
    pub r: i32,
    pub b: i32,
}

impl Rect {
    /// The square of half-side `h` around `(x, y)`.
    pub fn around((x, y): (i32, i32), h: i32) -> Rect {
        Rect {
            l: x - h,
            t: y - h,
            r: x + h + 1,
            b: y + h + 1,
        }
    }

    pub fn intersects(&self, o: &Rect) -> bool {
        self.l < o.r && o.l < self.r && self.t < o.b && o.t < self.b
    }

    pub fn inside(&self, o: &Rect) -> bool {
        self.l >= o.l && self.r <= o.r && self.t >= o.t && self.b <= o.b
    }

    /// The point of the box nearest to `(x, y)`.
    fn nearest(&self, (x, y): (i32, i32)) -> (i32, i32) {
        (x.clamp(self.l, self.r - 1), y.clamp(self.t, self.b - 1))
    }
}

/// Where a label went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub rect: Rect,
    /// Moved away from its point: draw a leader line back to it.
    pub leader: bool,
}

/// A label to place: the point it names, in pixels, the radius of the marker drawn
/// there, and the label's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub at: (i32, i32),
    pub radius: i32,
    pub size: (i32, i32),
}

/// Air between a marker and its label.
const LABEL_AIR: i32 = 4;
/// How many label heights a label may move up or down before giving up.
const MAX_SHIFT: i32 = 14;

/// Place one label per anchor, in order: each takes the first candidate box that
/// stays inside `area` and meets neither an obstacle (the markers) nor a label
/// placed before it. Candidates: right of the point (above, level, below), left of
/// it, over and under it; then level boxes moved up and down by a label height at a
/// time, right and left, which get a leader line. If none is free, the first
/// candidate is kept.
pub fn place_labels(anchors: &[Anchor], obstacles: &[Rect], area: Rect) -> Vec<Placement> {
    let mut placed: Vec<Placement> = Vec::new();
    for a in anchors {
        let ((x, y), (w, h)) = (a.at, a.size);
        let g = a.radius + LABEL_AIR;
        let at = |l: i32, t: i32| Rect {
            l,
            t,
            r: l + w,
            b: t + h,
        };
        let (right, left, level) = (x + g, x - g - w, y - h / 2);
        let mut candidates = vec![
            (at(right, y - h - 2), false),
            (at(right, level), false),
            (at(right, y + 2), false),
            (at(left, y - h - 2), false),
            (at(left, level), false),
            (at(left, y + 2), false),
            (at(x - w / 2, y - g - h), false),
            (at(x - w / 2, y + g), false),
        ];
        for k in 1..=MAX_SHIFT {
            let dy = k * (h + 3);
            for (l, t) in [
                (right, level - dy),
                (right, level + dy),
                (left, level - dy),
                (left, level + dy),
            ] {
                candidates.push((at(l, t), true));
            }
        }
        let free = candidates.iter().find(|(r, _)| {
            r.inside(&area)
                && !obstacles.iter().any(|o| o.intersects(r))
                && !placed.iter().any(|p| p.rect.intersects(r))
        });
        let (rect, leader) = free.copied().unwrap_or(candidates[0]);
        placed.push(Placement { rect, leader });
    }
    placed
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
mod tests {
    use super::*;
    use crate::aggregate::summarize;
    use crate::report::figure::{register_fonts, svg_string};
    use crate::risk::tests_support::runs;
    use crate::risk::{rank_profiles, Thresholds};

    #[test]
    fn tick_labels_are_distinct_however_narrow_the_range() {
        for (lo, hi, n) in [
            (25.1, 25.4, 8),
            (0.995, 1.006, 10),
            (99.0, 101.0, 8),
            (0.0, 180.0, 8),
            (12.34, 12.36, 8),
            (0.95, 1.125, 10),
        ] {
            let ticks = axis_ticks(lo, hi, n, "x");
            assert!(ticks.len() >= 3, "{lo}..{hi}: {ticks:?}");
            let mut labels: Vec<&String> = ticks.iter().map(|t| &t.1).collect();
            labels.sort();
            labels.dedup();
            assert_eq!(labels.len(), ticks.len(), "{lo}..{hi}: {ticks:?}");
            // Each label reads back as its value.
            for (v, l) in &ticks {
                let back: f64 = l.trim_end_matches('x').parse().unwrap();
                assert!((back - v).abs() < 1e-9, "{l} for {v}");
            }
        }
        // No more decimals than the step needs.
        let t = axis_ticks(0.0, 180.0, 8, "");
        assert!(t.iter().all(|(_, l)| !l.contains('.')), "{t:?}");
    }

    /// The tick labels an SVG shows: the `<text>` elements that are numbers (y) or
    /// numbers with an x (x).
    fn svg_tick_labels(svg: &str) -> (Vec<String>, Vec<String>) {
        let texts = svg.split("<text").skip(1).filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().to_string())
        });
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for t in texts {
            if let Some(n) = t.strip_suffix('x') {
                if n.parse::<f64>().is_ok() {
                    xs.push(t);
                }
            } else if t.parse::<f64>().is_ok() {
                ys.push(t);
            }
        }
        (xs, ys)
    }

    /// Five profiles within 0.3 MiB and 2% of each other (and of their GIL points).
    fn clustered() -> Vec<ProfileRank> {
        let mut r = Vec::new();
        for (i, name) in [
            "glibc-default",
            "arena-max-2",
            "arena-max-4",
            "trim-threshold-128k",
            "mmap-threshold-128k",
        ]
        .into_iter()
        .enumerate()
        {
            let k = i as u64;
            let calls = 100.0 + i as f64 * 0.5;
            r.extend(runs(
                name,
                2,
                (25_000 + 40 * k, calls),
                (25_600 + 60 * k, calls),
            ));
        }
        rank_profiles(&summarize(&r, 256.0, &Thresholds::default()))
    }

    #[test]
    fn a_narrow_sweep_renders_distinct_tick_labels() {
        let ranks = clustered();
        let fig = Pareto {
            ranks: &ranks,
            recommended: Some("arena-max-2"),
            host: "host: test".into(),
        };
        let svg = svg_string(&fig).unwrap();
        let (xs, ys) = svg_tick_labels(&svg);
        for (axis, labels) in [("x", xs), ("y", ys)] {
            assert!(labels.len() >= 3, "{axis}: {labels:?}");
            let mut unique = labels.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                labels.len(),
                "{axis} ticks repeat: {labels:?}"
            );
        }
    }

    #[test]
    fn labels_of_clustered_points_do_not_overlap() {
        register_fonts();
        let ranks = clustered();
        let fig = Pareto {
            ranks: &ranks,
            recommended: Some("arena-max-2"),
            host: "host: test".into(),
        };
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        let (chart, labels) = fig.layout(&root).unwrap();
        assert_eq!(labels.len(), 5);
        // The points really cluster: all within a few pixels' reach of each other.
        let (xs, ys): (Vec<i32>, Vec<i32>) = labels.iter().map(|l| l.anchor).unzip();
        let spread = |v: &[i32]| v.iter().max().unwrap() - v.iter().min().unwrap();
        assert!(spread(&xs) < 150 && spread(&ys) < 60, "{xs:?} {ys:?}");
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        for (i, a) in labels.iter().enumerate() {
            let r = a.placement.rect;
            assert!(xr.contains(&r.l) && xr.contains(&(r.r - 1)), "{a:?}");
            assert!(yr.contains(&r.t) && yr.contains(&(r.b - 1)), "{a:?}");
            for b in &labels[i + 1..] {
                assert!(!r.intersects(&b.placement.rect), "{a:?}\n{b:?}");
            }
            // No label covers a free-threaded point.
            for b in &labels {
                assert!(
                    !r.intersects(&Rect::around(b.anchor, 7)),
                    "{a:?} covers {b:?}"
                );
            }
        }
        assert_eq!(labels[0].text, "arena-max-2 (recommended)");
    }

    #[test]
    fn greedy_placement_keeps_labels_apart() {
        let area = Rect {
            l: 0,
            t: 0,
            r: 600,
            b: 400,
        };
        // Eight points on top of one another, and one at the right edge.
        let mut points: Vec<(i32, i32)> = (0..8).map(|i| (300 + i, 200 - i)).collect();
        points.push((590, 50));
        let anchors: Vec<Anchor> = points
            .iter()
            .map(|&at| Anchor {
                at,
                radius: 7,
                size: (110, 15),
            })
            .collect();
        let obstacles: Vec<Rect> = points.iter().map(|&a| Rect::around(a, 8)).collect();
        let placed = place_labels(&anchors, &obstacles, area);
        for (i, p) in placed.iter().enumerate() {
            assert!(p.rect.inside(&area), "{i}: {p:?}");
            assert_eq!((p.rect.r - p.rect.l, p.rect.b - p.rect.t), (110, 15), "{i}");
            assert!(
                !obstacles.iter().any(|o| o.intersects(&p.rect)),
                "{i}: {p:?}"
            );
            for q in &placed[i + 1..] {
                assert!(!p.rect.intersects(&q.rect), "{p:?} {q:?}");
            }
        }
        // The first takes the spot beside its point; those pushed away get a leader.
        assert!(!placed[0].leader);
        assert!(placed.iter().any(|p| p.leader));
        // The label at the right edge goes left of its point.
        assert!(placed[8].rect.r <= 590);
    }
}
