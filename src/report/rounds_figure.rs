//! RSS by round at a point (`--rounds` 3 or more): the delta above the baseline after
//! each round, GIL against free-threaded, the point's runs as solid lines and its
//! control arm's (the same threads, no native call) as dashed ones; each run thin, the
//! median over runs thick. The last half of the rounds, over which the settled level
//! and the growth per round are taken, is shaded. Files:
//! `rounds--<profile>--<binding>--<pattern>--<P>x<R>.{svg,png}`, for the points the
//! time series shows.
//!
//! The data is prepared by [`RoundsFigure::of`] (pure; tests check it), the drawing
//! by the [`Figure`] impl.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::figure::{plot_err, save, Figure, FONT};
use super::heatmap::Group;
use super::timeseries::{GIL_COLOR, NOGIL_COLOR};
use crate::aggregate::rounds::last_half_start;
use crate::model::Build;
use crate::results::{Point, RunRecord};

/// One set of runs: a build, the point or its control, each run's deltas by round
/// (MiB) and their median.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    pub build: Build,
    pub control: bool,
    pub runs: Vec<Vec<f64>>,
    pub median: Vec<f64>,
}

/// The figure of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundsFigure {
    pub point: Point,
    pub rounds: usize,
    pub arms: Vec<Arm>,
    pub host: String,
}

impl RoundsFigure {
    /// The figure of `point` from the records, or None where its runs have fewer than
    /// three rounds.
    pub fn of(point: &Point, records: &[RunRecord], host: &str) -> Option<RoundsFigure> {
        let mut arms = Vec::new();
        for (control, p) in [(false, point.clone()), (true, point.control())] {
            for build in Build::BOTH {
                let runs: Vec<Vec<f64>> = records
                    .iter()
                    .filter(|r| r.ok() && r.cell.build == build && r.cell.point == p)
                    .filter_map(|r| r.metrics.as_ref())
                    .filter(|m| m.rounds.len() >= 3)
                    .map(|m| {
                        m.rounds
                            .iter()
                            .map(|x| x.delta_kib as f64 / 1024.0)
                            .collect()
                    })
                    .collect();
                let n = runs.iter().map(Vec::len).min().unwrap_or(0);
                if n < 3 {
                    continue;
                }
                let median = (0..n)
                    .map(|i| {
                        crate::stats::median(&runs.iter().map(|r| r[i]).collect::<Vec<_>>())
                            .unwrap_or(0.0)
                    })
                    .collect();
                arms.push(Arm {
                    build,
                    control,
                    runs,
                    median,
                });
            }
        }
        let rounds = arms.iter().map(|a| a.median.len()).max()?;
        arms.iter().any(|a| !a.control).then(|| RoundsFigure {
            point: point.clone(),
            rounds,
            arms,
            host: host.to_string(),
        })
    }

    fn extent(&self) -> (f64, f64) {
        let all = self.arms.iter().flat_map(|a| a.runs.iter().flatten());
        let (lo, hi) = all.fold((0.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let pad = (hi - lo).max(0.1) * 0.06;
        (lo - pad, hi + pad)
    }
}

/// Write the figure of every point the time series shows; returns (title, stem,
/// SVG) of each figure written.
pub fn write_all(
    out: &Path,
    points: &[Point],
    records: &[RunRecord],
    host: &str,
) -> Result<Vec<(String, String, String)>> {
    let mut written = Vec::new();
    for p in points {
        let Some(fig) = RoundsFigure::of(p, records, host) else {
            continue;
        };
        let stem = format!(
            "rounds--{}--{}x{}",
            Group::of(p).file_part(),
            p.python_threads,
            p.rust_threads
        );
        let svg = save(&fig, &out.join(&stem))?;
        let title = format!(
            "{}x{} · {} · {} rounds",
            p.python_threads,
            p.rust_threads,
            Group::of(p).describe(),
            fig.rounds
        );
        written.push((title, stem, svg));
    }
    Ok(written)
}

const W: u32 = 980;
const H: u32 = 560;

impl Figure for RoundsFigure {
    fn size(&self) -> (u32, u32) {
        (W, H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(84);
        let p = &self.point;
        head.draw(&Text::new(
            format!(
                "RSS by round at {} Python x {} Rust threads: does it settle?",
                p.python_threads, p.rust_threads
            ),
            (16, 10),
            TextStyle::from((FONT, 22, FontStyle::Bold).into_font()),
        ))
        .map_err(plot_err)?;
        let grey = RGBColor(60, 60, 60);
        let from = last_half_start(self.rounds) + 1;
        for (i, text) in [
            format!("{} · host: {}", Group::of(p).describe(), self.host),
            "the delta above the baseline after each round (a new pool of the same threads each round)".to_string(),
            format!(
                "shaded: rounds {from}-{}, over which the settled level and the growth per round are taken",
                self.rounds
            ),
        ]
        .into_iter()
        .enumerate()
        {
            head.draw(&Text::new(
                text,
                (16, 38 + 17 * i as i32),
                TextStyle::from((FONT, 13).into_font()).color(&grey),
            ))
            .map_err(plot_err)?;
        }
        let (plot, side) = body.split_horizontally(W - 230);
        let (lo, hi) = self.extent();
        let x_max = self.rounds as f64 + 0.5;
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..x_max, lo..hi)
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(from as f64 - 0.5, lo), (x_max, hi)],
                RGBColor(238, 238, 238).filled(),
            )))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("round")
            .y_desc("delta above baseline (MiB)")
            .x_labels(self.rounds.min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(plot_err)?;
        for arm in &self.arms {
            let color = colour(arm.build);
            let pts = |v: &[f64]| -> Vec<(f64, f64)> {
                v.iter()
                    .enumerate()
                    .map(|(i, &y)| ((i + 1) as f64, y))
                    .collect()
            };
            let thin = color.mix(0.35).stroke_width(1);
            let thick = color.stroke_width(3);
            for line in arm
                .runs
                .iter()
                .map(|r| (r, thin))
                .chain([(&arm.median, thick)])
            {
                let (dash, gap) = if line.1.stroke_width == 3 {
                    (10, 6)
                } else {
                    (6, 4)
                };
                if arm.control {
                    chart
                        .draw_series(DashedLineSeries::new(pts(line.0), dash, gap, line.1))
                        .map_err(plot_err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(pts(line.0), line.1))
                        .map_err(plot_err)?;
                }
            }
        }
        legend(&side, &self.arms)
    }
}

fn colour(build: Build) -> RGBColor {
    match build {
        Build::Gil => GIL_COLOR,
        Build::Nogil => NOGIL_COLOR,
    }
}

/// The key, beside the chart: one entry per arm drawn, then what thin and thick mean.
fn legend<DB: DrawingBackend>(side: &DrawingArea<DB, Shift>, arms: &[Arm]) -> Result<()> {
    let text = TextStyle::from((FONT, 13).into_font());
    let mut y = 40;
    for arm in arms {
        let style = colour(arm.build).stroke_width(3);
        let name = match arm.build {
            Build::Gil => "GIL",
            Build::Nogil => "nogil",
        };
        if arm.control {
            for x in [8, 22] {
                side.draw(&PathElement::new(vec![(x, y), (x + 9, y)], style))
                    .map_err(plot_err)?;
            }
        } else {
            side.draw(&PathElement::new(vec![(8, y), (38, y)], style))
                .map_err(plot_err)?;
        }
        let what = if arm.control {
            "control (no native call)"
        } else {
            "the point"
        };
        side.draw(&Text::new(
            format!("{name}: {what}"),
            (46, y - 7),
            text.clone(),
        ))
        .map_err(plot_err)?;
        y += 24;
    }
    let grey = TextStyle::from((FONT, 12).into_font()).color(&RGBColor(80, 80, 80));
    for line in [
        "solid: the point's runs",
        "dashed: its control arm",
        "thin: each run",
        "thick: the median, round by round",
    ] {
        y += 4;
        side.draw(&Text::new(line, (8, y), grey.clone()))
            .map_err(plot_err)?;
        y += 16;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Cell, Metrics};

    fn record(build: Build, rust_threads: u32, deltas: &[i64]) -> RunRecord {
        let point = Point {
            binding: crate::model::Binding::Pyo3,
            profile: "glibc-default".into(),
            pattern: "seed".into(),
            python_threads: 8,
            rust_threads,
        };
        RunRecord::for_test(Cell { build, point }, 0, Metrics::with_rounds(deltas))
    }

    #[test]
    fn the_figure_has_each_build_and_its_control_with_medians_in_mib() {
        let records = vec![
            record(Build::Gil, 50, &[1024, 2048, 2048]),
            record(Build::Gil, 50, &[1024, 3072, 4096]),
            record(Build::Nogil, 50, &[2048, 2048, 2048]),
            record(Build::Nogil, 0, &[512, 512, 1024]),
            record(Build::Gil, 0, &[512]),
        ];
        let point = records[0].cell.point.clone();
        let fig = RoundsFigure::of(&point, &records, "h").unwrap();
        assert_eq!(fig.rounds, 3);
        let arms: Vec<(Build, bool)> = fig.arms.iter().map(|a| (a.build, a.control)).collect();
        // The GIL control's one round is not a line to draw.
        assert_eq!(
            arms,
            [
                (Build::Gil, false),
                (Build::Nogil, false),
                (Build::Nogil, true)
            ]
        );
        assert_eq!(fig.arms[0].median, vec![1.0, 2.5, 3.0]);
        assert_eq!(fig.arms[2].runs, vec![vec![0.5, 0.5, 1.0]]);
        let svg = crate::report::figure::svg_string(&fig).unwrap();
        assert!(
            svg.contains("RSS by round at 8 Python x 50 Rust threads"),
            "{svg}"
        );
        assert!(svg.contains("nogil: control (no native call)"));
        // Runs of one window have no figure.
        let one = vec![record(Build::Gil, 50, &[1024])];
        assert!(RoundsFigure::of(&point, &one, "h").is_none());
    }
}
