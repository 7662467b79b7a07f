//! A successful run's [`Metrics`], from what the parent measured at each pause and
//! the counters the driver reported after the last one (defined in docs/measurement.md and docs/output.md).
//! Pure: no I/O, so the arithmetic is tested on its own.

use super::protocol::{Report, SelfView};
use crate::results::{ArenaPhases, ArenaRead, Metrics, RoundFigures, SeriesArrays};
use crate::sampler::Snapshot;

/// Everything a successful run measured.
pub struct Measured<'a> {
    /// At `ready`.
    pub baseline: Snapshot,
    /// At `done`, after the settle.
    pub done: Snapshot,
    /// At `trimmed`.
    pub trimmed: Snapshot,
    /// After each round but the last (`--rounds`).
    pub rounds: &'a [Snapshot],
    /// Recorded while the workload ran (kernel events or the sampler).
    pub series: &'a SeriesArrays,
    pub arenas: &'a ArenaPhases,
    pub report: &'a Report,
    /// The child's own account (`--verify` only).
    pub view: Option<&'a SelfView>,
}

/// The run's metrics; `rusage_maxrss_kib` is filled in once the child is reaped.
pub fn metrics(m: &Measured) -> Metrics {
    let (baseline, done, trimmed) = (m.baseline, m.done, m.trimmed);
    let at_done = m.arenas.done.as_ref().map(|a| &a.totals);
    let free_at = |a: &Option<ArenaRead>| a.as_ref().map(|a| a.totals.arena_free_bytes as i64);
    let (peak_sampled, peak_threads) = m.series.peaks();
    let (wall_s, calls) = (m.report.wall_s, m.report.calls);
    Metrics {
        baseline_rss_kib: baseline.rss_kib,
        final_rss_kib: done.rss_kib,
        delta_kib: done.rss_kib as i64 - baseline.rss_kib as i64,
        peak_rss_kib: peak_sampled.max(done.rss_kib).max(baseline.rss_kib),
        vm_hwm_kib: done.hwm_kib,
        rusage_maxrss_kib: 0,
        after_trim_rss_kib: trimmed.rss_kib,
        reclaimable_kib: done.rss_kib as i64 - trimmed.rss_kib as i64,
        arena_heaps: done.regions.arena_heaps,
        heap_rss_kib: done.regions.arena_heap_rss_kib,
        arenas_reported: m.view.map(|v| v.arenas_reported),
        peak_threads: peak_threads
            .max(done.threads as u32)
            .max(baseline.threads as u32),
        wall_s,
        calls,
        calls_per_s: if wall_s > 0.0 {
            calls as f64 / wall_s
        } else {
            0.0
        },
        requested_bytes: m.report.requested_bytes,
        store_bytes: m.report.store_bytes,
        heaps_reported: m.view.map(|v| v.heaps_reported),
        regions_delta: done.regions.delta(&baseline.regions),
        pymalloc_arena_kib: m
            .view
            .and_then(|v| v.pymalloc_arena_bytes)
            .map(|b| b / 1024),
        arenas_read: at_done.map(|t| t.arenas as u32),
        arena_free_kib: at_done.map(|t| t.arena_free_bytes / 1024),
        arena_in_use_kib: at_done.map(|t| t.in_use_bytes / 1024),
        arena_free_delta_kib: free_at(&m.arenas.done)
            .zip(free_at(&m.arenas.ready))
            .map(|(d, r)| (d - r) / 1024),
        trimmable_kib: at_done.map(|t| t.trimmable_bytes / 1024),
        top_trim_kib: at_done.map(|t| t.top_trim_bytes / 1024),
        malloc_info_agrees: m
            .view
            .zip(m.arenas.verified.as_ref())
            .map(|(v, a)| agrees_with_malloc_info(v, a)),
        rounds: rounds(m),
    }
}

/// Each round's figures above the baseline, the last round's from the `done`
/// snapshot; none for a run of one round.
fn rounds(m: &Measured) -> Vec<RoundFigures> {
    if m.rounds.is_empty() {
        return Vec::new();
    }
    let free_ready = m
        .arenas
        .ready
        .as_ref()
        .map(|a| a.totals.arena_free_bytes as i64);
    let free_done = m.arenas.done.as_ref().map(|a| a.totals.clone());
    let arena_totals = m
        .arenas
        .rounds
        .iter()
        .cloned()
        .chain(std::iter::once(free_done));
    m.rounds
        .iter()
        .chain(std::iter::once(&m.done))
        .zip(arena_totals)
        .map(|(snap, totals)| RoundFigures {
            delta_kib: snap.rss_kib as i64 - m.baseline.rss_kib as i64,
            regions_delta: snap.regions.delta(&m.baseline.regions),
            arena_free_delta_kib: totals
                .zip(free_ready)
                .map(|(t, r)| (t.arena_free_bytes as i64 - r) / 1024),
        })
        .collect()
}

/// Whether every arena's system_mem and free bytes, read from outside, equal what
/// malloc_info said at the same pause (the child's `self_view.malloc_arenas`).
pub fn agrees_with_malloc_info(view: &SelfView, read: &ArenaRead) -> bool {
    view.malloc_arenas.len() == read.arenas.len()
        && view.malloc_arenas.iter().zip(&read.arenas).all(|(m, a)| {
            m.system_current_bytes == a.system_mem_bytes && m.free_bytes == a.free_bytes
        })
}

#[cfg(test)]
mod tests {
    use super::super::protocol::MallocArena;
    use super::*;
    use crate::results::ArenaFigures;

    fn snap(rss_kib: u64, threads: u64) -> Snapshot {
        Snapshot {
            rss_kib,
            hwm_kib: rss_kib + 100,
            threads,
            ..Snapshot::default()
        }
    }

    #[test]
    fn deltas_peaks_and_rates_follow_the_definitions() {
        let series = SeriesArrays {
            t_ms: vec![1, 2],
            rss_kib: vec![30_000, 25_000],
            threads: vec![9, 3],
            ..SeriesArrays::default()
        };
        let report = Report {
            wall_s: 0.5,
            calls: 20,
            requested_bytes: 4096,
            store_bytes: 0,
            ..Report::default()
        };
        let arenas = ArenaPhases::default();
        let m = metrics(&Measured {
            baseline: snap(10_000, 1),
            done: snap(22_000, 2),
            trimmed: snap(15_000, 2),
            rounds: &[],
            series: &series,
            arenas: &arenas,
            report: &report,
            view: None,
        });
        assert_eq!(m.delta_kib, 12_000);
        assert_eq!(m.reclaimable_kib, 7_000);
        assert_eq!(
            m.peak_rss_kib, 30_000,
            "the sampled peak is above both snapshots"
        );
        assert_eq!(m.peak_threads, 9);
        assert_eq!(m.vm_hwm_kib, 22_100);
        assert_eq!(m.calls_per_s, 40.0);
        assert_eq!(m.requested_bytes, 4096);
        // Nothing read from outside, no self view: those stay unknown.
        assert_eq!(m.arenas_read, None);
        assert_eq!(m.arenas_reported, None);
        assert_eq!(m.malloc_info_agrees, None);
    }

    #[test]
    fn malloc_info_agrees_only_arena_by_arena() {
        let figures = |system_mem_bytes, free_bytes| ArenaFigures {
            system_mem_bytes,
            free_bytes,
            ..ArenaFigures::default()
        };
        let read = ArenaRead {
            arenas: vec![figures(135_168, 1_000), figures(132_000, 64)],
            totals: Default::default(),
            consistent: true,
            read_ms: 0.1,
        };
        let arena = |system_current_bytes, free_bytes| MallocArena {
            system_current_bytes,
            free_bytes,
            ..MallocArena::default()
        };
        let mut view = SelfView {
            malloc_arenas: vec![arena(135_168, 1_000), arena(132_000, 64)],
            ..SelfView::default()
        };
        assert!(agrees_with_malloc_info(&view, &read));
        view.malloc_arenas[1].free_bytes = 65;
        assert!(!agrees_with_malloc_info(&view, &read));
        view.malloc_arenas.pop();
        assert!(!agrees_with_malloc_info(&view, &read));
    }
}
