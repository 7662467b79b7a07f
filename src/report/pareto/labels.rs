//! Where the Pareto plot's point labels go: each beside its point if a spot there is
//! free of other labels and markers, else further up or down with a leader line back
//! to it ([`place_labels`], greedy, in the order given).

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
    pub(super) fn nearest(&self, (x, y): (i32, i32)) -> (i32, i32) {
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
