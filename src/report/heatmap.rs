//! The five heatmaps of a sweep, one set per (allocator profile, binding, pattern):
//! amplification (log scale, 1x neutral), delta-gil and delta-nogil (one shared
//! scale), arena-heaps and reclaimable. Files are named
//! `<metric>--<profile>--<binding>--<pattern>.{svg,png}` (each part passed through
//! [`slug`]), so groups never overwrite each other.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::figure::{count, mib, save, slug, stars, times, STARS_LEGEND};
use super::grid::{Grid, GridCell, Scale};
use crate::aggregate::{BuildStats, CellSummary};
use crate::results::Point;

/// What a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Amplification,
    DeltaGil,
    DeltaNogil,
    ArenaHeaps,
    Reclaimable,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Amplification,
        Metric::DeltaGil,
        Metric::DeltaNogil,
        Metric::ArenaHeaps,
        Metric::Reclaimable,
    ];

    /// The file-name prefix.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::Amplification => "amplification",
            Metric::DeltaGil => "delta-gil",
            Metric::DeltaNogil => "delta-nogil",
            Metric::ArenaHeaps => "arena-heaps",
            Metric::Reclaimable => "reclaimable",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::Amplification => "Amplification: nogil delta / GIL delta",
            Metric::DeltaGil => "RSS left behind (delta), GIL build",
            Metric::DeltaNogil => "RSS left behind (delta), free-threaded build",
            Metric::ArenaHeaps => "glibc arena heaps, free-threaded build",
            Metric::Reclaimable => "Reclaimable by malloc_trim(0), free-threaded build",
        }
    }

    fn colorbar_label(self) -> &'static str {
        match self {
            Metric::Amplification => "amplification (log scale; 1x = no difference)",
            Metric::DeltaGil | Metric::DeltaNogil => "delta, MiB (GIL and nogil maps share it)",
            Metric::ArenaHeaps => "arena heaps (64 MiB reservations in smaps)",
            Metric::Reclaimable => "reclaimable, MiB (final - after trim)",
        }
    }

    fn legend(self, floor_kib: f64) -> String {
        match self {
            Metric::Amplification => format!(
                "median nogil delta / max(median GIL delta, floor {} MiB); second line: risk level and [95% bootstrap CI]",
                floor_kib / 1024.0
            ),
            Metric::DeltaGil | Metric::DeltaNogil => {
                "median final RSS - baseline RSS; second line: [min, max] over the repetitions".into()
            }
            Metric::ArenaHeaps => {
                "median arena heaps at the final snapshot (nogil); second line: the GIL build's".into()
            }
            Metric::Reclaimable => {
                "median final RSS - RSS after malloc_trim(0) (nogil); second line: the GIL build's".into()
            }
        }
    }

    /// (colour value, printed value, second line) of a cell, or None without a value.
    fn cell(self, c: &CellSummary) -> Option<(f64, String, String)> {
        let range =
            |b: &BuildStats| format!("[{}, {}]", mib(b.delta_kib.min), mib(b.delta_kib.max));
        match self {
            Metric::Amplification => {
                let a = c.amplification?;
                let risk = c.risk.map(|r| r.to_string()).unwrap_or_default();
                let ci = c
                    .amplification_ci
                    .map(|ci| {
                        format!(
                            " [{}, {}]",
                            times(ci.lo).trim_end_matches('x'),
                            times(ci.hi).trim_end_matches('x')
                        )
                    })
                    .unwrap_or_default();
                Some((a, times(a), format!("{risk}{ci}")))
            }
            Metric::DeltaGil => {
                let g = c.gil.as_ref()?;
                Some((
                    g.delta_kib.median / 1024.0,
                    mib(g.delta_kib.median),
                    range(g),
                ))
            }
            Metric::DeltaNogil => {
                let n = c.nogil.as_ref()?;
                Some((
                    n.delta_kib.median / 1024.0,
                    mib(n.delta_kib.median),
                    range(n),
                ))
            }
            Metric::ArenaHeaps => {
                let n = c.nogil.as_ref()?;
                let g = c
                    .gil
                    .as_ref()
                    .map_or("-".to_string(), |g| count(g.arena_heaps.median));
                Some((
                    n.arena_heaps.median,
                    count(n.arena_heaps.median),
                    format!("GIL {g}"),
                ))
            }
            Metric::Reclaimable => {
                let n = c.nogil.as_ref()?;
                let g = c
                    .gil
                    .as_ref()
                    .map_or("-".to_string(), |g| mib(g.reclaimable_kib.median));
                Some((
                    n.reclaimable_kib.median / 1024.0,
                    mib(n.reclaimable_kib.median),
                    format!("GIL {g}"),
                ))
            }
        }
    }
}

/// The cells that share one set of heatmaps.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    pub profile: String,
    pub binding: String,
    pub pattern: String,
}

impl Group {
    pub fn of(p: &Point) -> Group {
        Group {
            profile: p.profile.clone(),
            binding: p.binding.clone(),
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
            slug(&self.binding),
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
}

/// The smallest two-sided Mann-Whitney p-value possible with n runs per build
/// (exact test, no ties): 2 / C(2n, n).
pub fn smallest_p(n: u32) -> f64 {
    let n = f64::from(n);
    let mut c = 1.0;
    for i in 1..=(n as u64) {
        c = c * (n + i as f64) / i as f64;
    }
    (2.0 / c).min(1.0)
}

/// The legend lines shared by every heatmap of a sweep.
pub fn common_legend(reps: u32) -> Vec<String> {
    let mut v = vec![STARS_LEGEND.to_string()];
    let p = smallest_p(reps);
    if p >= 0.05 {
        v.push(format!(
            "with {reps} rep(s) per build no cell can reach q < 0.05 (the smallest possible p is {p:.3}); use --reps 5 or more"
        ));
    }
    v.push("red corner: some runs of the cell failed; hatched FAILED: a build has no successful run; hatched grey: not run".into());
    v
}

fn axis(plan: &[u32], seen: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = plan.iter().copied().chain(seen).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The heatmap of one metric for one group.
pub fn grid(summaries: &[CellSummary], group: &Group, metric: Metric, ctx: &Context) -> Grid {
    let mine: Vec<&CellSummary> = summaries
        .iter()
        .filter(|c| group.contains(&c.point))
        .collect();
    let xs = axis(
        &ctx.python_threads,
        mine.iter().map(|c| c.point.python_threads),
    );
    let ys = axis(&ctx.rust_threads, mine.iter().map(|c| c.point.rust_threads));
    let mut cells = BTreeMap::new();
    let mut values = Vec::new();
    for c in &mine {
        let key = (c.point.python_threads, c.point.rust_threads);
        let failed = c.gil_failed + c.nogil_failed;
        let cell = match metric.cell(c) {
            Some((value, text, sub)) => {
                values.push(value);
                GridCell::Value {
                    value,
                    text,
                    marker: stars(c.p_adjusted),
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
    let scale = match metric {
        Metric::Amplification => Scale::log_ratio(values),
        // Both delta maps use one scale, so their colours compare.
        Metric::DeltaGil | Metric::DeltaNogil => Scale::sequential(mine.iter().flat_map(|c| {
            [&c.gil, &c.nogil]
                .into_iter()
                .flatten()
                .map(|b| b.delta_kib.median / 1024.0)
        })),
        _ => Scale::sequential(values),
    };
    let floor_kib = mine.first().map_or(256.0, |c| c.floor_kib);
    let mut legend = vec![metric.legend(floor_kib)];
    legend.extend(common_legend(ctx.reps));
    Grid {
        title: metric.title().to_string(),
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
    }
}

/// One written heatmap.
#[derive(Debug, Clone)]
pub struct Written {
    pub metric: Metric,
    pub group: Group,
    /// File name without extension.
    pub stem: String,
    pub svg: String,
}

/// Write every heatmap of every group into `dir`.
pub fn write_all(dir: &Path, summaries: &[CellSummary], ctx: &Context) -> Result<Vec<Written>> {
    let mut out = Vec::new();
    for group in groups(summaries) {
        for metric in Metric::ALL {
            let stem = format!("{}--{}", metric.slug(), group.file_part());
            let svg = save(&grid(summaries, &group, metric, ctx), &dir.join(&stem))?;
            out.push(Written {
                metric,
                group: group.clone(),
                stem,
                svg,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_possible_p_values() {
        // 2 / C(2n, n) = 2/6, 2/20, 2/70, 2/252; the last is scipy's p for five fully
        // separated runs per build, quoted in aggregate.rs's test.
        let want = [
            0.3333333333333333,
            0.1,
            0.02857142857142857,
            0.007936507936507936,
        ];
        for (n, w) in (2..=5).zip(want) {
            assert!((smallest_p(n) - w).abs() < 1e-15, "n={n}");
        }
        assert_eq!(smallest_p(1), 1.0);
        assert_eq!(common_legend(3).len(), 3);
        assert_eq!(common_legend(5).len(), 2);
    }
}
