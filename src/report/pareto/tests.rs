//! Tests of the ticks, the label placement and the rendered plot of clustered profiles.

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
