//! What a heatmap shows: each metric's name, title, file name and, for one grid
//! cell, its colour value, the figure printed in it and the second line under it.

use super::super::figure::times;
use crate::aggregate::{BuildStats, CellSummary};
use crate::units::{count, mib_short};

/// What a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Amplification,
    DeltaGil,
    DeltaNogil,
    ArenaHeaps,
    Reclaimable,
    /// The talk's gross ratio, drawn beside the native one when there is a control arm.
    GrossAmplification,
    /// Control nogil delta - control GIL delta by Python threads: one row, at 0 Rust
    /// threads (the control arm calls nothing native).
    InterpreterCost,
}

impl Metric {
    /// The maps of every group.
    pub const ALL: [Metric; 5] = [
        Metric::Amplification,
        Metric::DeltaGil,
        Metric::DeltaNogil,
        Metric::ArenaHeaps,
        Metric::Reclaimable,
    ];

    /// The maps drawn only for a group with a control arm.
    pub const WITH_CONTROL: [Metric; 2] = [Metric::GrossAmplification, Metric::InterpreterCost];

    /// The file-name prefix.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::Amplification => "amplification",
            Metric::DeltaGil => "delta-gil",
            Metric::DeltaNogil => "delta-nogil",
            Metric::ArenaHeaps => "arena-heaps",
            Metric::Reclaimable => "reclaimable",
            Metric::GrossAmplification => "amplification-gross",
            Metric::InterpreterCost => "interpreter-cost",
        }
    }

    /// The title; the amplification map's names the figures it shows (`native`: the
    /// points were judged net of their control arm).
    pub fn title_for(self, native: bool) -> &'static str {
        match self {
            Metric::Amplification if native => "Native amplification: net nogil / net GIL delta",
            _ => self.title(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::Amplification => "Amplification: nogil delta / GIL delta",
            Metric::GrossAmplification => "The talk's gross ratio: nogil delta / GIL delta",
            Metric::InterpreterCost => "Interpreter's own cost: control nogil - control GIL delta",
            Metric::DeltaGil => "RSS left behind (delta), GIL build",
            Metric::DeltaNogil => "RSS left behind (delta), free-threaded build",
            Metric::ArenaHeaps => "glibc arena heaps, free-threaded build",
            Metric::Reclaimable => "Reclaimable by malloc_trim(0), free-threaded build",
        }
    }

    pub(super) fn colorbar_label(self) -> &'static str {
        match self {
            Metric::Amplification | Metric::GrossAmplification => "amplification (log; 1x = same)",
            Metric::InterpreterCost => "MiB, no native call",
            Metric::DeltaGil | Metric::DeltaNogil => "delta, MiB (one scale, both builds)",
            Metric::ArenaHeaps => "arena heaps (64 MiB each)",
            Metric::Reclaimable => "reclaimable, MiB (final - trimmed)",
        }
    }

    /// Whether the cell shows the gross deltas or their ratio, which the Mann-Whitney
    /// q (the stars) tests.
    pub(super) fn tests_gross_deltas(self, c: &CellSummary) -> bool {
        match self {
            Metric::DeltaGil | Metric::DeltaNogil | Metric::GrossAmplification => true,
            Metric::Amplification => c.judged == crate::model::Judge::Gross,
            _ => false,
        }
    }

    /// Whether the metric shows the numbers that [`CellSummary::unstable`] is about.
    pub(super) fn shows_instability(self) -> bool {
        matches!(
            self,
            Metric::Amplification | Metric::DeltaGil | Metric::DeltaNogil
        )
    }

    pub(super) fn legend(self, floor_kib: f64, native: bool) -> String {
        match self {
            Metric::Amplification if native => format!(
                "median net nogil delta / max(median net GIL delta, floor {} MiB); net = delta - the control arm's delta (same Python threads, no native call); second line: native risk level and [95% bootstrap CI]",
                floor_kib / 1024.0
            ),
            Metric::InterpreterCost => {
                "what the same Python threads leave with no native call: median control delta, nogil - GIL; second line: each build's control delta".into()
            }
            Metric::Amplification | Metric::GrossAmplification => format!(
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
    pub(super) fn cell(self, c: &CellSummary) -> Option<(f64, String, String)> {
        let range = |b: &BuildStats| {
            format!(
                "[{}, {}]",
                mib_short(b.delta_kib.min),
                mib_short(b.delta_kib.max)
            )
        };
        match self {
            Metric::Amplification | Metric::GrossAmplification => {
                let (a, ci, risk) = if self == Metric::Amplification {
                    let (a, ci) = c.judged_amplification()?;
                    (a, ci, c.risk)
                } else {
                    (c.amplification?, c.amplification_ci, c.gross_risk)
                };
                let risk = risk.map(|r| r.to_string()).unwrap_or_default();
                let ci = ci
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
                    mib_short(g.delta_kib.median),
                    range(g),
                ))
            }
            Metric::DeltaNogil => {
                let n = c.nogil.as_ref()?;
                Some((
                    n.delta_kib.median / 1024.0,
                    mib_short(n.delta_kib.median),
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
                    .map_or("-".to_string(), |g| mib_short(g.reclaimable_kib.median));
                Some((
                    n.reclaimable_kib.median / 1024.0,
                    mib_short(n.reclaimable_kib.median),
                    format!("GIL {g}"),
                ))
            }
            Metric::InterpreterCost => {
                let own = c.native.as_ref()?.interpreter_cost_kib?;
                let control = |b| {
                    c.control(b)
                        .map_or("-".to_string(), |s| mib_short(s.delta_kib.median))
                };
                Some((
                    own / 1024.0,
                    mib_short(own),
                    format!(
                        "GIL {} · nogil {}",
                        control(crate::model::Build::Gil),
                        control(crate::model::Build::Nogil)
                    ),
                ))
            }
        }
    }
}
