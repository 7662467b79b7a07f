//! The exact RSS and thread count over time, rebuilt from the decoded records. Pure.
//!
//! Each `kmem:rss_stat` record carries a counter's value in bytes after the change
//! (kernel 6.2 and later: `percpu_counter_sum_positive` of `mm->rss_stat[member]`,
//! the sum over every CPU, taken as the record is written), so the RSS of every kind
//! is known at every change, and a record the kernel dropped costs nothing once the
//! same counter changes again. The records of the target's mm are told apart by
//! `mm_id` (a hash of the mm's address): it is learnt from a record its own thread
//! wrote about its own mm (`curr` 1). A thread of the target also writes records
//! about other mms (a forked child's page tables being copied); those are left out.
//! The thread count starts from the count when the events were opened, and moves by
//! one at each `PERF_RECORD_FORK` / `_EXIT` of a thread of the target.

use super::records::Record;
use super::tracefs::Members;

/// The state when the events were opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub pid: u32,
    /// CLOCK_MONOTONIC ns of the series' zero.
    pub t0_ns: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub shmem_kib: u64,
    pub threads: u32,
}

/// The state after one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// ns since the series' zero.
    pub t_ns: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub shmem_kib: u64,
    pub threads: u32,
}

impl Point {
    pub fn rss_kib(&self) -> u64 {
        self.anon_kib + self.file_kib + self.shmem_kib
    }
}

/// The rebuilt series and what went into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// The start, then one point per change of RSS or thread count, in time order.
    pub points: Vec<Point>,
    /// rss_stat records of the target's mm.
    pub rss_events: u64,
    /// rss_stat records about other mms, left out.
    pub other_mm_events: u64,
    pub thread_starts: u64,
    pub thread_exits: u64,
    /// Records the kernel dropped (a full buffer).
    pub lost: u64,
    pub throttled: u64,
}

impl Rebuilt {
    /// The state at `t_ns` since zero: the last point at or before it.
    pub fn at(&self, t_ns: u64) -> Option<&Point> {
        let i = self.points.partition_point(|p| p.t_ns <= t_ns);
        i.checked_sub(1).map(|i| &self.points[i])
    }

    /// The point of the highest RSS (the first, on a tie).
    pub fn peak(&self) -> Option<&Point> {
        self.points
            .iter()
            .reduce(|a, b| if b.rss_kib() > a.rss_kib() { b } else { a })
    }
}

/// Rebuild the series from `records` (of every ring, in any order).
pub fn rebuild(mut records: Vec<Record>, start: &Start, members: &Members) -> Rebuilt {
    let time = |r: &Record| match *r {
        Record::Rss { t_ns, .. } | Record::Fork { t_ns, .. } | Record::Exit { t_ns, .. } => t_ns,
        Record::Lost { .. } | Record::Throttle => 0,
    };
    records.sort_by_key(time);
    let mm = records.iter().find_map(|r| match *r {
        Record::Rss {
            pid, mm_id, curr, ..
        } if curr && pid == start.pid => Some(mm_id),
        _ => None,
    });
    let mut out = Rebuilt::default();
    let mut now = Point {
        t_ns: 0,
        anon_kib: start.anon_kib,
        file_kib: start.file_kib,
        shmem_kib: start.shmem_kib,
        threads: start.threads,
    };
    out.points.push(now);
    for r in records {
        let before = now;
        match r {
            Record::Rss {
                mm_id,
                member,
                bytes,
                ..
            } => {
                if Some(mm_id) != mm {
                    out.other_mm_events += 1;
                    continue;
                }
                out.rss_events += 1;
                let kib = bytes.max(0) as u64 / 1024;
                if member == members.anon {
                    now.anon_kib = kib;
                } else if member == members.file {
                    now.file_kib = kib;
                } else if member == members.shmem {
                    now.shmem_kib = kib;
                }
            }
            Record::Fork { pid, .. } if pid == start.pid => {
                out.thread_starts += 1;
                now.threads += 1;
            }
            Record::Exit { pid, .. } if pid == start.pid => {
                out.thread_exits += 1;
                now.threads = now.threads.saturating_sub(1);
            }
            Record::Fork { .. } | Record::Exit { .. } => continue,
            Record::Lost { n } => {
                out.lost += n;
                continue;
            }
            Record::Throttle => {
                out.throttled += 1;
                continue;
            }
        }
        now.t_ns = time(&r).saturating_sub(start.t0_ns);
        if (now.anon_kib, now.file_kib, now.shmem_kib, now.threads)
            != (
                before.anon_kib,
                before.file_kib,
                before.shmem_kib,
                before.threads,
            )
        {
            out.points.push(now);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Members = Members {
        file: 0,
        anon: 1,
        shmem: 3,
    };

    fn rss(t_ns: u64, mm_id: u32, curr: bool, member: i64, kib: i64) -> Record {
        Record::Rss {
            t_ns,
            pid: 10,
            mm_id,
            curr,
            member,
            bytes: kib * 1024,
        }
    }

    #[test]
    fn every_change_of_the_targets_mm_is_a_point() {
        let start = Start {
            pid: 10,
            t0_ns: 1_000,
            anon_kib: 100,
            file_kib: 50,
            shmem_kib: 0,
            threads: 1,
        };
        let records = vec![
            // Out of order across rings: sorted by time.
            rss(1_300, 7, true, 1, 108),
            rss(1_100, 7, true, 1, 104),
            // Another mm (a forked child's), written by the target's thread.
            rss(1_150, 9, false, 1, 4),
            Record::Fork {
                t_ns: 1_200,
                pid: 10,
                tid: 11,
            },
            // Swap entries are not RSS; an unchanged state adds no point.
            rss(1_250, 7, true, 2, 12),
            rss(1_400, 7, true, 0, 54),
            Record::Exit {
                t_ns: 1_500,
                pid: 10,
                tid: 11,
            },
            // Another process's thread (without inherit_thread): not counted.
            Record::Fork {
                t_ns: 1_550,
                pid: 99,
                tid: 99,
            },
            Record::Lost { n: 3 },
            rss(1_600, 7, false, 1, 96),
        ];
        let r = rebuild(records, &start, &M);
        let pts: Vec<(u64, u64, u32)> = r
            .points
            .iter()
            .map(|p| (p.t_ns, p.rss_kib(), p.threads))
            .collect();
        assert_eq!(
            pts,
            vec![
                (0, 150, 1),
                (100, 154, 1),
                (200, 154, 2),
                (300, 158, 2),
                (400, 162, 2),
                (500, 162, 1),
                (600, 150, 1),
            ]
        );
        assert_eq!((r.rss_events, r.other_mm_events, r.lost), (5, 1, 3));
        assert_eq!((r.thread_starts, r.thread_exits), (1, 1));
        assert_eq!(r.peak().unwrap().t_ns, 400);
        assert_eq!(r.at(450).unwrap().rss_kib(), 162);
        assert_eq!(r.at(10_000).unwrap().rss_kib(), 150);
    }
}
