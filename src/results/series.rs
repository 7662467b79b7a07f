//! A run's RSS and thread count over time as stored in `results.jsonl`, from either
//! source: the kernel's `kmem:rss_stat` events (every change, times in µs, RSS by
//! kind) or the sampler (a tick every `--sample-interval`, times in ms).
//!
//! The sampler's series keeps `t_ms`, as every earlier build wrote it; the event
//! series writes `t_us` instead (and leaves `t_ms` empty), so a build from before the
//! events reads such a line as a run without a series rather than misreading it.
//! The figures that come from the series (peak, time to peak, the RSS at `done`) are
//! taken from the whole series before it is stored; only a series of more than
//! [`MAX_STORED`] points is stored reduced (each bucket's first, lowest, highest and
//! last point, so every peak and trough is kept), and says so in `reduced_from`.

use serde::{Deserialize, Serialize};

use crate::sampler::events::rebuild::{Point, Rebuilt};
use crate::sampler::series::Sample;

/// More points than this are stored reduced.
pub const MAX_STORED: usize = 20_000;

/// The time series as parallel arrays (compact in JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesArrays {
    /// Milliseconds since the workload started (the sampler's series).
    pub t_ms: Vec<u32>,
    /// Microseconds since the workload started (the event series).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub t_us: Vec<u64>,
    pub rss_kib: Vec<u64>,
    pub threads: Vec<u32>,
    /// RSS by kind (the event series only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_anon_kib: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_file_kib: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_shmem_kib: Vec<u64>,
    /// When the parent took the `done` and `trimmed` snapshots, in ms on the
    /// series' clock (the workload starts at 0).
    #[serde(default, skip_serializing_if = "Marks::is_empty")]
    pub marks: Marks,
    /// When the RSS was highest, in ms (the first time, on a tie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_t_ms: Option<f64>,
    /// The series' state at the `done` snapshot (the event series only), to compare
    /// with the snapshot's own /proc reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_done: Option<AtDone>,
    /// What went into the event series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventCounts>,
    /// The number of points before the series was reduced for storing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduced_from: Option<usize>,
}

/// The source of a line written before there was a choice.
pub fn sampler() -> String {
    "sampler".into()
}

/// Phase marks, in ms since the workload started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Marks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trimmed_ms: Option<f64>,
}

impl Marks {
    fn is_empty(&self) -> bool {
        self.done_ms.is_none() && self.trimmed_ms.is_none()
    }
}

/// The rebuilt state at the `done` snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtDone {
    pub rss_kib: u64,
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub rss_shmem_kib: u64,
    pub threads: u32,
}

/// Counts of what the event series was rebuilt from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// rss_stat records of the child's mm.
    pub rss_events: u64,
    /// rss_stat records the child's threads wrote about other mms (left out).
    pub other_mm_events: u64,
    pub thread_starts: u64,
    pub thread_exits: u64,
    /// Records the kernel dropped because a buffer was full.
    pub lost: u64,
    /// Times the parent woke during the run to drain a buffer filled to half.
    pub wakeups: u32,
    pub ring_kib_per_cpu: u64,
}

impl From<&[Sample]> for SeriesArrays {
    fn from(s: &[Sample]) -> Self {
        let peak = s
            .iter()
            .reduce(|a, b| if b.rss_kib > a.rss_kib { b } else { a });
        SeriesArrays {
            t_ms: s.iter().map(|x| x.t_ms).collect(),
            rss_kib: s.iter().map(|x| x.rss_kib).collect(),
            threads: s.iter().map(|x| x.threads).collect(),
            peak_t_ms: peak.map(|p| f64::from(p.t_ms)),
            ..SeriesArrays::default()
        }
    }
}

impl SeriesArrays {
    /// The event series, with its state at `done_ms`.
    pub fn from_events(r: &Rebuilt, counts: EventCounts, marks: Marks) -> SeriesArrays {
        let at_done = marks
            .done_ms
            .and_then(|ms| r.at((ms * 1e6) as u64))
            .map(|p| AtDone {
                rss_kib: p.rss_kib(),
                rss_anon_kib: p.anon_kib,
                rss_file_kib: p.file_kib,
                rss_shmem_kib: p.shmem_kib,
                threads: p.threads,
            });
        let stored = reduce(&r.points, MAX_STORED);
        SeriesArrays {
            t_ms: Vec::new(),
            t_us: stored.iter().map(|p| p.t_ns / 1000).collect(),
            rss_kib: stored.iter().map(Point::rss_kib).collect(),
            threads: stored.iter().map(|p| p.threads).collect(),
            rss_anon_kib: stored.iter().map(|p| p.anon_kib).collect(),
            rss_file_kib: stored.iter().map(|p| p.file_kib).collect(),
            rss_shmem_kib: stored.iter().map(|p| p.shmem_kib).collect(),
            marks,
            peak_t_ms: r.peak().map(|p| p.t_ns as f64 / 1e6),
            at_done,
            events: Some(counts),
            reduced_from: (stored.len() < r.points.len()).then_some(r.points.len()),
        }
    }

    /// The points' times in ms, whichever source wrote them.
    pub fn times_ms(&self) -> Vec<f64> {
        if self.t_us.is_empty() {
            self.t_ms.iter().map(|&t| f64::from(t)).collect()
        } else {
            self.t_us.iter().map(|&t| t as f64 / 1e3).collect()
        }
    }

    pub fn len(&self) -> usize {
        self.rss_kib.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rss_kib.is_empty()
    }

    /// The highest RSS and thread count in the series.
    pub fn peaks(&self) -> (u64, u32) {
        (
            self.rss_kib.iter().copied().max().unwrap_or(0),
            self.threads.iter().copied().max().unwrap_or(0),
        )
    }
}

/// At most about `max` points: the first, lowest, highest and last point of each of
/// `max / 4` equal runs of points (in time order), so no extreme is lost. The whole
/// series when it is no longer.
pub fn reduce<T: Copy + RssOf>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let buckets = max / 4;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max);
    for chunk in points.chunks(size) {
        let lo = (0..chunk.len())
            .min_by_key(|&i| chunk[i].rss())
            .unwrap_or(0);
        let hi = (0..chunk.len())
            .max_by_key(|&i| chunk[i].rss())
            .unwrap_or(0);
        let mut idx = vec![0, lo, hi, chunk.len() - 1];
        idx.sort_unstable();
        idx.dedup();
        out.extend(idx.into_iter().map(|i| chunk[i]));
    }
    out
}

/// The value [`reduce`] keeps the extremes of.
pub trait RssOf {
    fn rss(&self) -> u64;
}

impl RssOf for Point {
    fn rss(&self) -> u64 {
        self.rss_kib()
    }
}

impl RssOf for (f64, u64) {
    fn rss(&self) -> u64 {
        self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reduced_series_keeps_every_extreme_and_its_ends() {
        let pts: Vec<(f64, u64)> = (0..10_000)
            .map(|i| {
                (
                    i as f64,
                    1000 + (i % 97) as u64 + if i == 7_777 { 5000 } else { 0 },
                )
            })
            .collect();
        let r = reduce(&pts, 400);
        assert!(r.len() <= 400, "{}", r.len());
        assert_eq!(r.first(), pts.first());
        assert_eq!(r.last(), pts.last());
        assert!(r.contains(&(7_777.0, 1000 + (7_777 % 97) + 5000)));
        assert_eq!(r.iter().map(|p| p.1).min(), Some(1000));
        assert!(r.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
        assert_eq!(reduce(&pts[..300], 400).len(), 300);
    }

    #[test]
    fn a_sampler_series_written_before_the_events_reads_as_before() {
        let line = r#"{"t_ms":[0,100,200],"rss_kib":[10,30,20],"threads":[1,9,2]}"#;
        let s: SeriesArrays = serde_json::from_str(line).unwrap();
        assert_eq!(s.times_ms(), vec![0.0, 100.0, 200.0]);
        assert_eq!(s.peaks(), (30, 9));
        assert_eq!(s.events, None);
        assert_eq!(serde_json::to_string(&s).unwrap(), line);
    }
}
