//! The run's time series, from whichever source can be had: the kernel's
//! `kmem:rss_stat` events (`crate::sampler::events`: exact, and the parent sleeps
//! through the window) or, where they cannot be had, the sampler
//! (`crate::sampler::series`, a tick every `--sample-interval`). The source and the
//! reason for a fallback go into the record (`series_source`).
//!
//! The series starts at the `ready` pause, right before the parent lets the workload
//! go, and the event series runs on through the `done` pause (where its buffers are
//! drained) to the `trimmed` snapshot, so it shows what the trim returned; the
//! sampler stops at `done`, as it always has.
//!
//! `ARENA_SWEEP_SERIES` chooses: `events` (the kernel's events where they can be had,
//! else the sampler, saying why), `sampler`, or `off` (no series at all: the floor the
//! benchmark compares against). Unset, a sweep uses the sampler: the events are
//! written by the child's own threads inside their page faults and thread starts
//! (the tracepoint sums the per-CPU RSS counter under its lock at every change), and
//! with them on, the fidelity guard read the talk's cell 2-11% low in every row
//! (two batches of 80 runs per driver and row, p <= 0.02 in each row; 2026-12-07,
//! docs/measurement.md), where the sampler at 100 ms read it within 1.2% (p > 0.5).

use std::time::{Duration, Instant};

use crate::results::{EventCounts, Marks, SeriesArrays};
use crate::sampler::events::{self, EventSeries};
use crate::sampler::series::{Sample, Series};

/// The environment variable that picks the source.
pub const CHOICE: &str = "ARENA_SWEEP_SERIES";

enum Source {
    Events(EventSeries),
    Sampler {
        series: Option<Series>,
        t0: Instant,
        samples: Vec<Sample>,
    },
    Off {
        t0: Instant,
    },
}

/// A series being recorded for one run.
pub struct Recording {
    source: Source,
    /// `series_source` in the record.
    label: String,
    marks: Marks,
}

impl Recording {
    /// Start at the `ready` pause.
    pub fn start(pid: i32, interval: Duration) -> anyhow::Result<Recording> {
        let choice = std::env::var(CHOICE).unwrap_or_default();
        let why = match choice.as_str() {
            "off" => {
                return Ok(Recording {
                    source: Source::Off { t0: Instant::now() },
                    label: format!("none ({CHOICE}=off)"),
                    marks: Marks::default(),
                })
            }
            "events" => match EventSeries::start(pid) {
                Ok(series) => {
                    return Ok(Recording {
                        source: Source::Events(series),
                        label: events::SOURCE.into(),
                        marks: Marks::default(),
                    })
                }
                Err(why) => why,
            },
            "sampler" => format!("{CHOICE}=sampler"),
            _ => format!("the default; {CHOICE}=events records the kernel's rss_stat events, which slow the child's page faults"),
        };
        let t0 = Instant::now();
        Ok(Recording {
            source: Source::Sampler {
                series: Some(Series::start(pid, interval)?),
                t0,
                samples: Vec::new(),
            },
            label: format!("sampler ({why})"),
            marks: Marks::default(),
        })
    }

    /// What `series_source` says.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn elapsed_ms(&self) -> f64 {
        match &self.source {
            Source::Events(e) => e.elapsed_ms(),
            Source::Sampler { t0, .. } | Source::Off { t0 } => t0.elapsed().as_secs_f64() * 1e3,
        }
    }

    /// At the `done` pause, before its snapshot: drain the event buffers (or stop the
    /// sampler), and mark the time.
    pub fn done(&mut self) {
        match &mut self.source {
            Source::Events(e) => e.checkpoint(),
            Source::Sampler {
                series, samples, ..
            } => {
                if let Some(s) = series.take() {
                    *samples = s.stop();
                }
            }
            Source::Off { .. } => {}
        }
        self.marks.done_ms = Some(self.elapsed_ms());
    }

    /// At the `trimmed` pause, before its snapshot.
    pub fn trimmed(&mut self) {
        self.marks.trimmed_ms = Some(self.elapsed_ms());
    }

    /// Stop, and the series as the record keeps it.
    pub fn finish(self) -> SeriesArrays {
        match self.source {
            Source::Events(e) => {
                let f = e.stop();
                let r = &f.rebuilt;
                let counts = EventCounts {
                    rss_events: r.rss_events,
                    other_mm_events: r.other_mm_events,
                    thread_starts: r.thread_starts,
                    thread_exits: r.thread_exits,
                    lost: r.lost,
                    wakeups: f.wakeups,
                    ring_kib_per_cpu: f.ring_pages_per_cpu as u64
                        * crate::sampler::series::page_kib(),
                };
                SeriesArrays::from_events(r, counts, self.marks)
            }
            Source::Sampler {
                series, samples, ..
            } => {
                let samples = match series {
                    Some(s) => s.stop(),
                    None => samples,
                };
                SeriesArrays {
                    marks: self.marks,
                    ..SeriesArrays::from(&samples[..])
                }
            }
            Source::Off { .. } => SeriesArrays {
                marks: self.marks,
                ..SeriesArrays::default()
            },
        }
    }
}
