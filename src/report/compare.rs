//! `arena-sweep compare A B`: what changed at each point between two sweeps, e.g.
//! before and after a tunable. Points are paired by binding, pattern and thread
//! counts, and by profile when both sweeps ran the same profiles (if each ran exactly
//! one, those two are paired: glibc-default in A against arena-max-2 in B).
//!
//! For each pair: the change of the median nogil and GIL deltas, the ratio of the
//! amplifications, a Mann-Whitney test of A's nogil deltas against B's
//! (Benjamini-Hochberg-adjusted over the pairs), and the advice rule's verdict on the
//! nogil delta's change (`risk::evidence`: its bootstrap CI must exclude zero and it
//! must reach max(--min-saving-mib, --min-saving-pct of A's final RSS); otherwise
//! "no change beyond noise"). Output: a terminal table,
//! `compare.csv`, and two diff heatmaps per group: `compare-delta-nogil--...` (B - A,
//! MiB, 0 neutral) and `compare-amplification--...` (B / A, log scale, 1x neutral).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::figure::{save, slug, stars, times, STARS_LEGEND};
use super::grid::{Grid, GridCell, Scale};
use crate::aggregate::CellSummary;
use crate::model::Binding;
use crate::risk::evidence::{self, Figure, Judged, Outcome, Rule};
use crate::stats::{benjamini_hochberg, mann_whitney_u};
use crate::units::mib_short;

/// One point in both sweeps.
#[derive(Debug, Clone)]
pub struct Paired<'a> {
    pub a: &'a CellSummary,
    pub b: &'a CellSummary,
    /// B - A of the median nogil delta (KiB).
    pub nogil_change_kib: Option<f64>,
    pub gil_change_kib: Option<f64>,
    /// B's amplification / A's.
    pub amplification_ratio: Option<f64>,
    /// Mann-Whitney p of B's nogil deltas against A's, and its BH adjustment.
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
    /// The rule's verdict on the nogil delta's change (saving = A - B).
    pub judged: Option<Judged>,
}

type Key<'a> = (&'a str, Binding, &'a str, u32, u32);

/// Pair the points of two sweeps; an error says why nothing can be paired.
pub fn pair<'a>(
    a: &'a [CellSummary],
    b: &'a [CellSummary],
    rule: &Rule,
) -> Result<Vec<Paired<'a>>, String> {
    let profiles = |s: &[CellSummary]| -> BTreeSet<String> {
        s.iter().map(|c| c.point.profile.clone()).collect()
    };
    let (pa, pb) = (profiles(a), profiles(b));
    let by_profile = !(pa.len() == 1 && pb.len() == 1 && pa != pb);
    let key = |c: &'a CellSummary| -> Key<'a> {
        let p = &c.point;
        let profile = if by_profile { p.profile.as_str() } else { "" };
        (
            profile,
            p.binding,
            &p.pattern,
            p.python_threads,
            p.rust_threads,
        )
    };
    let bmap: BTreeMap<Key, &CellSummary> = b.iter().map(|c| (key(c), c)).collect();
    let mut out: Vec<Paired> = a
        .iter()
        .filter_map(|ca| {
            let cb = *bmap.get(&key(ca))?;
            let med = |c: &CellSummary, nogil: bool| {
                if nogil {
                    c.nogil.as_ref()
                } else {
                    c.gil.as_ref()
                }
                .map(|s| s.delta_kib.median)
            };
            let change = |nogil| Some(med(cb, nogil)? - med(ca, nogil)?);
            let test = ca
                .nogil
                .as_ref()
                .zip(cb.nogil.as_ref())
                .and_then(|(x, y)| mann_whitney_u(&y.deltas_kib, &x.deltas_kib));
            Some(Paired {
                a: ca,
                b: cb,
                nogil_change_kib: change(true),
                gil_change_kib: change(false),
                amplification_ratio: match (ca.amplification, cb.amplification) {
                    (Some(x), Some(y)) if x > 0.0 => Some(y / x),
                    _ => None,
                },
                p_value: test.map(|t| t.p),
                p_adjusted: None,
                judged: ca.nogil.as_ref().zip(cb.nogil.as_ref()).and_then(|(x, y)| {
                    evidence::judge_pairs(
                        &[(x, y)],
                        Figure::Delta,
                        rule,
                        crate::stats::bootstrap::seed_of(&ca.point.label()),
                    )
                }),
            })
        })
        .collect();
    if out.is_empty() {
        return Err(format!(
            "the two sweeps share no point (profiles {:?} and {:?}; points pair by binding, pattern, thread counts{})",
            pa,
            pb,
            if by_profile { " and profile" } else { "" }
        ));
    }
    let raw: Vec<f64> = out.iter().filter_map(|p| p.p_value).collect();
    if let Some(q) = benjamini_hochberg(&raw) {
        for (p, q) in out.iter_mut().filter(|p| p.p_value.is_some()).zip(q) {
            p.p_adjusted = Some(q);
        }
    }
    Ok(out)
}

fn pct(change: f64, base: f64) -> String {
    if base.abs() < 1e-9 {
        String::new()
    } else {
        format!(" ({:+.0}%)", change / base.abs() * 100.0)
    }
}

fn short(o: Outcome) -> &'static str {
    match o {
        Outcome::Saves => "less, beyond noise",
        Outcome::Costs => "more, beyond noise",
        Outcome::Noise => "noise",
        Outcome::TooSmall => "below margin",
    }
}

/// The overall verdict: "no change beyond noise", or the points that changed.
pub fn verdict(pairs: &[Paired]) -> String {
    let changed: Vec<String> = pairs
        .iter()
        .filter_map(|p| {
            let j = p.judged.as_ref()?;
            matches!(j.outcome, Outcome::Saves | Outcome::Costs).then(|| {
                format!(
                    "{}x{} {} {}",
                    p.a.point.python_threads,
                    p.a.point.rust_threads,
                    p.a.point.pattern,
                    evidence::change_text(j)
                )
            })
        })
        .collect();
    let judged = pairs.iter().filter(|p| p.judged.is_some()).count();
    if changed.is_empty() {
        format!(
            "verdict: no change beyond noise at any of the {judged} point(s) compared (the free-threaded delta; a change counts when its 95% bootstrap CI excludes zero and it reaches the margin)"
        )
    } else {
        format!(
            "verdict: {} of {judged} point(s) changed beyond noise and margin (free-threaded delta, B - A): {}",
            changed.len(),
            changed.join("; ")
        )
    }
}

/// The terminal table.
pub fn table(pairs: &[Paired]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<7} {:<30} {:<12} {:<8} {:>26} {:>22} {:>18} {:>16} {:>7}  nogil change [95% CI] (rule)",
        "PxR",
        "profile A -> B",
        "binding",
        "pattern",
        "nogil delta MiB A -> B",
        "GIL delta MiB A -> B",
        "amplif. A -> B",
        "risk A -> B",
        "q",
    );
    for p in pairs {
        let (a, b) = (&p.a.point, &p.b.point);
        let delta = |x: &CellSummary, nogil: bool| {
            if nogil {
                x.nogil.as_ref()
            } else {
                x.gil.as_ref()
            }
            .map_or("-".to_string(), |s| mib_short(s.delta_kib.median))
        };
        let nogil = format!(
            "{} -> {}{}",
            delta(p.a, true),
            delta(p.b, true),
            p.nogil_change_kib
                .zip(p.a.nogil.as_ref())
                .map_or(String::new(), |(c, s)| pct(c, s.delta_kib.median))
        );
        let amp = |x: &CellSummary| x.amplification.map_or("-".into(), times);
        let risk = |x: &CellSummary| x.risk.map_or("-".into(), |r| r.to_string());
        let profiles = if a.profile == b.profile {
            a.profile.clone()
        } else {
            format!("{} -> {}", a.profile, b.profile)
        };
        let _ = writeln!(
            s,
            "{:<7} {:<30} {:<12} {:<8} {:>26} {:>22} {:>18} {:>16} {:>7}  {}",
            format!("{}x{}", a.python_threads, a.rust_threads),
            profiles,
            a.binding,
            a.pattern,
            nogil,
            format!("{} -> {}", delta(p.a, false), delta(p.b, false)),
            format!("{} -> {}", amp(p.a), amp(p.b)),
            format!("{} -> {}", risk(p.a), risk(p.b)),
            p.p_adjusted
                .map_or("-".into(), |q| format!("{q:.3}{}", stars(Some(q)))),
            p.judged.as_ref().map_or("-".into(), |j| format!(
                "{} ({})",
                evidence::change_text(j),
                short(j.outcome)
            )),
        );
    }
    let _ = writeln!(s, "{}", verdict(pairs));
    let _ = writeln!(
        s,
        "q: Mann-Whitney U of B's nogil deltas against A's, Benjamini-Hochberg-adjusted over the {} pair(s).",
        pairs.len()
    );
    s
}

/// `compare.csv`'s columns.
const CSV_HEADER: [&str; 23] = [
    "profile_a",
    "profile_b",
    "binding",
    "pattern",
    "python_threads",
    "rust_threads",
    "nogil_delta_kib_a",
    "nogil_delta_kib_b",
    "nogil_change_kib",
    "gil_delta_kib_a",
    "gil_delta_kib_b",
    "gil_change_kib",
    "amplification_a",
    "amplification_b",
    "amplification_ratio",
    "risk_a",
    "risk_b",
    "p_value",
    "p_adjusted",
    "nogil_change_ci_lo_kib",
    "nogil_change_ci_hi_kib",
    "margin_kib",
    "outcome",
];

/// `compare.csv`.
pub fn csv(pairs: &[Paired]) -> Result<String> {
    super::csv::table(CSV_HEADER, pairs.iter().map(csv_row))
}

/// One pair's fields, in [`CSV_HEADER`]'s order.
fn csv_row(p: &Paired) -> [String; 23] {
    // Every number as it is, even one that is not finite.
    let n = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let (a, b) = (&p.a.point, &p.b.point);
    let d = |c: &CellSummary, nogil: bool| {
        if nogil {
            c.nogil.as_ref()
        } else {
            c.gil.as_ref()
        }
        .map(|s| s.delta_kib.median)
    };
    let risk = |c: &CellSummary| c.risk.map_or(String::new(), |r| r.to_string());
    [
        a.profile.clone(),
        b.profile.clone(),
        a.binding.to_string(),
        a.pattern.clone(),
        a.python_threads.to_string(),
        a.rust_threads.to_string(),
        n(d(p.a, true)),
        n(d(p.b, true)),
        n(p.nogil_change_kib),
        n(d(p.a, false)),
        n(d(p.b, false)),
        n(p.gil_change_kib),
        n(p.a.amplification),
        n(p.b.amplification),
        n(p.amplification_ratio),
        risk(p.a),
        risk(p.b),
        n(p.p_value),
        n(p.p_adjusted),
        // The change is B - A; the judged saving is A - B.
        n(p.judged.as_ref().map(|j| -j.ci.hi)),
        n(p.judged.as_ref().map(|j| -j.ci.lo)),
        n(p.judged.as_ref().map(|j| j.margin_kib)),
        p.judged
            .as_ref()
            .map_or("", |j| match j.outcome {
                Outcome::Saves => "less",
                Outcome::Costs => "more",
                Outcome::Noise => "noise",
                Outcome::TooSmall => "below_margin",
            })
            .to_string(),
    ]
}

/// What one diff heatmap shows of a pair: (value, text, line under it).
type CellFn = fn(&Paired) -> Option<(f64, String, String)>;

/// The diff heatmaps: (file prefix, title, colour-bar label, cell, log scale).
fn diff_maps() -> [(&'static str, &'static str, &'static str, CellFn, bool); 2] {
    [
        (
            "compare-delta-nogil",
            "Change of the free-threaded delta: B - A",
            "nogil delta change, MiB (0 = no change)",
            |p| {
                let c = p.nogil_change_kib?;
                let (a, b) = (p.a.nogil.as_ref()?, p.b.nogil.as_ref()?);
                let sign = if c > 0.0 { "+" } else { "" };
                Some((
                    c / 1024.0,
                    format!("{sign}{}", mib_short(c)),
                    format!(
                        "{} → {}",
                        mib_short(a.delta_kib.median),
                        mib_short(b.delta_kib.median)
                    ),
                ))
            },
            false,
        ),
        (
            "compare-amplification",
            "Change of the amplification: B / A",
            "amplification B / A (log scale; 1x = no change)",
            |p| {
                let r = p.amplification_ratio?;
                Some((
                    r,
                    times(r),
                    format!(
                        "{} → {}",
                        times(p.a.amplification?),
                        times(p.b.amplification?)
                    ),
                ))
            },
            true,
        ),
    ]
}

/// The pairs grouped by (profile A, profile B, binding, pattern), in that order.
type Groups<'p, 'a> = BTreeMap<(String, String, Binding, String), Vec<&'p Paired<'a>>>;

fn groups<'p, 'a>(pairs: &'p [Paired<'a>]) -> Groups<'p, 'a> {
    let mut groups: Groups = BTreeMap::new();
    for p in pairs {
        let (a, b) = (&p.a.point, &p.b.point);
        groups
            .entry((
                a.profile.clone(),
                b.profile.clone(),
                a.binding,
                a.pattern.clone(),
            ))
            .or_default()
            .push(p);
    }
    groups
}

/// One map's cells, keyed by (Python threads, Rust threads), and the values drawn.
fn diff_cells(ps: &[&Paired], cell: CellFn) -> (BTreeMap<(u32, u32), GridCell>, Vec<f64>) {
    let mut cells = BTreeMap::new();
    let mut values = Vec::new();
    for p in ps {
        let key = (p.a.point.python_threads, p.a.point.rust_threads);
        let c = match cell(p) {
            Some((value, text, sub)) => {
                values.push(value);
                GridCell::Value {
                    value,
                    text,
                    marker: stars(p.p_adjusted),
                    sub,
                    some_failed: p.a.gil_failed
                        + p.a.nogil_failed
                        + p.b.gil_failed
                        + p.b.nogil_failed
                        > 0,
                }
            }
            None => GridCell::Failed {
                sub: "no comparison".into(),
            },
        };
        cells.insert(key, c);
    }
    (cells, values)
}

/// The largest margin a change of the group's free-threaded delta had to reach, MiB.
fn margin_mib(ps: &[&Paired]) -> f64 {
    ps.iter()
        .filter_map(|p| p.judged.as_ref().map(|j| j.margin_kib / 1024.0))
        .fold(0.0, f64::max)
}

/// Write the diff heatmaps of every group into `dir`; returns the file names.
pub fn write_heatmaps(dir: &Path, pairs: &[Paired], host: &str) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for ((pa, pb, binding, pattern), ps) in groups(pairs) {
        let axis = |f: fn(&Paired) -> u32| {
            let s: BTreeSet<u32> = ps.iter().map(|p| f(p)).collect();
            s.into_iter().collect::<Vec<_>>()
        };
        let (xs, ys) = (
            axis(|p| p.a.point.python_threads),
            axis(|p| p.a.point.rust_threads),
        );
        let subtitle = vec![
            format!("A: profile {pa} → B: profile {pb} · binding {binding} · pattern {pattern}"),
            format!("host of B: {host}"),
        ];
        let legend = vec![
            STARS_LEGEND.replace("nogil vs GIL deltas", "B's nogil deltas vs A's"),
            "blue: B is lower than A; red: B is higher; the colour reaches its end at the largest change or the margin, whichever is larger; hatched: a build of the point has no successful run".to_string(),
        ];
        let part = format!(
            "{}-vs-{}--{}--{}",
            slug(&pa),
            slug(&pb),
            slug(binding.as_str()),
            slug(&pattern)
        );
        for (prefix, title, bar, cell, log) in diff_maps() {
            let (cells, values) = diff_cells(&ps, cell);
            let grid = Grid {
                title: title.to_string(),
                subtitle: subtitle.clone(),
                xs: xs.clone(),
                ys: ys.clone(),
                cells,
                scale: if log {
                    Scale::log_ratio(values)
                } else {
                    // At least the margin either way, so a change too small to count
                    // is drawn pale, not saturated.
                    Scale::difference(values.into_iter().chain([margin_mib(&ps)]))
                },
                colorbar_label: bar.to_string(),
                legend: if log {
                    legend[1..].to_vec()
                } else {
                    legend.clone()
                },
            };
            let stem = format!("{prefix}--{part}");
            save(&grid, &dir.join(&stem))?;
            files.push(format!("{stem}.svg"));
            files.push(format!("{stem}.png"));
        }
    }
    Ok(files)
}
