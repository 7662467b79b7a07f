//! The heatmaps of a sweep, one set per (allocator profile, binding, pattern):
//! amplification, delta-gil and delta-nogil (one shared scale), arena-heaps and
//! reclaimable; with a control arm also the talk's gross amplification and a strip of
//! the interpreter's own cost by Python threads. The amplification map shows the
//! figures the risk levels judged: the native amplification (net of the control arm)
//! where the point has one, the gross one otherwise, and its title says which. Files are named `<metric>--<profile>--<binding>--<pattern>.{svg,png}`
//! (each part passed through [`slug`]), so groups never overwrite each other.
//!
//! The amplification map's colours say what its words say. Its scale is fixed by the
//! plan's risk thresholds (log, 1x neutral, saturating at the HIGH amplification and
//! at its inverse; see `scale.rs`), so one value has one colour in every report with
//! the same thresholds, and the colour bar marks the MEDIUM and HIGH thresholds. The
//! risk level also needs a large absolute nogil delta, which the ratio's colour cannot
//! show: a LOW cell is filled with the calm (pale) tone of its colour, so that a large
//! ratio of small numbers reads as the LOW its second line says, and a HIGH cell gets a
//! thick dark frame. A point whose repetitions vary widely (`CellSummary::unstable`)
//! gets a hatched corner and "~ unstable: --reps N" on the amplification and delta
//! maps, the numbers that spread is about.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::figure::{save, slug, stars};
use super::grid::{CellMarks, Grid, GridCell, MarkedGrid, Scale};
use crate::aggregate::{BuildStats, CellSummary};
use crate::model::Binding;
use crate::results::Point;
use crate::risk::{RiskLevel, Thresholds};

mod legend;
mod metric;

pub use legend::{amplification_colour_legend, common_legend, smallest_p, unstable_legend};
pub use metric::Metric;

/// The cells that share one set of heatmaps.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    pub profile: String,
    pub binding: Binding,
    pub pattern: String,
}

impl Group {
    pub fn of(p: &Point) -> Group {
        Group {
            profile: p.profile.clone(),
            binding: p.binding,
            pattern: p.pattern.clone(),
        }
    }

    pub fn contains(&self, p: &Point) -> bool {
        self.profile == p.profile && self.binding == p.binding && self.pattern == p.pattern
    }

    /// "profile glibc-default · binding pyo3 · pattern seed"
    pub fn describe(&self) -> String {
        format!(
            "profile {} · binding {} · pattern {}",
            self.profile, self.binding, self.pattern
        )
    }

    /// "glibc-default--pyo3--seed"
    pub fn file_part(&self) -> String {
        format!(
            "{}--{}--{}",
            slug(&self.profile),
            slug(self.binding.as_str()),
            slug(&self.pattern)
        )
    }
}

/// The groups present, sorted.
pub fn groups(summaries: &[CellSummary]) -> Vec<Group> {
    let mut g: Vec<Group> = summaries.iter().map(|c| Group::of(&c.point)).collect();
    g.sort();
    g.dedup();
    g
}

/// What the heatmaps say about where and how they were measured.
#[derive(Debug, Clone)]
pub struct Context {
    /// "2 CPUs, glibc 2.36, THP madvise"
    pub host: String,
    /// "CPython 3.13.5", for the subtitle.
    pub python: String,
    pub reps: u32,
    pub python_threads: Vec<u32>,
    pub rust_threads: Vec<u32>,
    /// The plan's risk thresholds: they fix the amplification colour scale.
    pub thresholds: Thresholds,
}

fn axis(plan: &[u32], seen: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = plan.iter().copied().chain(seen).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The marks of a sweep's cell on a map of `metric`.
fn marks(c: &CellSummary, metric: Metric) -> CellMarks {
    let risk = match metric {
        Metric::Amplification => c.risk,
        Metric::GrossAmplification => c.gross_risk,
        _ => None,
    };
    CellMarks {
        calm: risk == Some(RiskLevel::Low),
        framed: risk == Some(RiskLevel::High),
        unstable: c
            .unstable
            .as_ref()
            .filter(|_| metric.shows_instability())
            .map(|u| format!("~ unstable: --reps {}", u.reps_needed)),
        growing: growing_note(c).filter(|_| metric.shows_instability()),
    }
}

/// "^ grows +40 KiB/round" where a build keeps growing by the judged figures (the
/// faster build's gross growth).
fn growing_note(c: &CellSummary) -> Option<String> {
    use crate::aggregate::rounds::Growth;
    let judged = c.judged_growth();
    [&c.gil, &c.nogil]
        .iter()
        .zip(judged)
        .filter(|(_, v)| *v == Some(Growth::KeepsGrowing))
        .filter_map(|(b, _)| b.as_ref()?.rounds.as_ref().map(|r| r.growth_kib))
        .max_by(f64::total_cmp)
        .map(|g| format!("^ grows {g:+.0} KiB/round"))
}

/// The colour scale of a map: fixed by the thresholds for the amplification maps,
/// one scale for both delta maps, else the values'.
fn scale_of(metric: Metric, mine: &[&CellSummary], values: Vec<f64>, ctx: &Context) -> Scale {
    match metric {
        Metric::Amplification | Metric::GrossAmplification => Scale::amplification(
            ctx.thresholds.medium_amplification,
            ctx.thresholds.high_amplification,
        ),
        // Both delta maps use one scale, so their colours compare.
        Metric::DeltaGil | Metric::DeltaNogil => Scale::sequential(mine.iter().flat_map(|c| {
            [&c.gil, &c.nogil]
                .into_iter()
                .flatten()
                .map(|b| b.delta_kib.median / 1024.0)
        })),
        _ => Scale::sequential(values),
    }
}

/// The heatmap of one metric for one group.
pub fn grid(summaries: &[CellSummary], group: &Group, metric: Metric, ctx: &Context) -> MarkedGrid {
    let mut mine: Vec<&CellSummary> = summaries
        .iter()
        .filter(|c| group.contains(&c.point))
        .collect();
    let native = mine.iter().any(|c| c.judged == crate::model::Judge::Native);
    let xs = axis(
        &ctx.python_threads,
        mine.iter().map(|c| c.point.python_threads),
    );
    let ys = if metric == Metric::InterpreterCost {
        // One row: the control arm, at 0 Rust threads; one point per Python threads.
        mine.dedup_by_key(|c| c.point.python_threads);
        vec![0]
    } else {
        axis(&ctx.rust_threads, mine.iter().map(|c| c.point.rust_threads))
    };
    let mut cells = BTreeMap::new();
    let mut cell_marks = BTreeMap::new();
    let mut values = Vec::new();
    for c in &mine {
        let row = match metric {
            Metric::InterpreterCost => 0,
            _ => c.point.rust_threads,
        };
        let key = (c.point.python_threads, row);
        let failed = c.gil_failed + c.nogil_failed;
        let cell = match metric.cell(c) {
            Some((value, text, sub)) => {
                values.push(value);
                let m = marks(c, metric);
                if m != CellMarks::default() {
                    cell_marks.insert(key, m);
                }
                GridCell::Value {
                    value,
                    text,
                    // The stars are the Mann-Whitney test of the gross deltas: shown
                    // only on the maps of those deltas and their ratio.
                    marker: if metric.tests_gross_deltas(c) {
                        stars(c.p_adjusted)
                    } else {
                        ""
                    },
                    sub,
                    some_failed: failed > 0,
                }
            }
            None => {
                let ok = |b: &Option<BuildStats>, f: usize| {
                    let n = b.as_ref().map_or(0, |b| b.runs_ok);
                    format!("{n}/{}", n + f)
                };
                GridCell::Failed {
                    sub: format!(
                        "ok: GIL {}, nogil {}",
                        ok(&c.gil, c.gil_failed),
                        ok(&c.nogil, c.nogil_failed)
                    ),
                }
            }
        };
        cells.insert(key, cell);
    }
    let scale = scale_of(metric, &mine, values, ctx);
    let floor_kib = mine.first().map_or(256.0, |c| c.floor_kib);
    let mut legend = vec![metric.legend(floor_kib, native)];
    if matches!(metric, Metric::Amplification | Metric::GrossAmplification) {
        legend.extend(amplification_colour_legend(&ctx.thresholds));
    }
    if cell_marks.values().any(|m| m.unstable.is_some()) {
        legend.push(unstable_legend());
    }
    if cell_marks.values().any(|m| m.growing.is_some()) {
        legend.push(legend::growing_legend());
    }
    legend.extend(common_legend(ctx.reps));
    let grid = Grid {
        title: metric.title_for(native).to_string(),
        subtitle: vec![
            group.describe(),
            format!(
                "host: {} · {} GIL vs free-threaded · median of {} rep(s) per build",
                ctx.host, ctx.python, ctx.reps
            ),
        ],
        xs,
        ys,
        cells,
        scale,
        colorbar_label: metric.colorbar_label().to_string(),
        legend,
    };
    MarkedGrid {
        grid,
        marks: cell_marks,
    }
}

/// One written heatmap.
#[derive(Debug, Clone)]
pub struct Written {
    pub metric: Metric,
    /// The map's title (the amplification map's names its figures).
    pub title: String,
    pub group: Group,
    /// File name without extension.
    pub stem: String,
    pub svg: String,
}

/// Write every heatmap of every group into `dir`.
pub fn write_all(dir: &Path, summaries: &[CellSummary], ctx: &Context) -> Result<Vec<Written>> {
    let mut out = Vec::new();
    for group in groups(summaries) {
        let controlled = summaries
            .iter()
            .any(|c| group.contains(&c.point) && c.native.is_some());
        let extra: &[Metric] = if controlled {
            &Metric::WITH_CONTROL
        } else {
            &[]
        };
        for &metric in Metric::ALL.iter().chain(extra) {
            let stem = format!("{}--{}", metric.slug(), group.file_part());
            let map = grid(summaries, &group, metric, ctx);
            let svg = save(&map, &dir.join(&stem))?;
            out.push(Written {
                metric,
                title: map.grid.title.clone(),
                group: group.clone(),
                stem,
                svg,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
