//! The records a ring buffer holds, decoded: `PERF_RECORD_SAMPLE` of `kmem:rss_stat`
//! (with `sample_type` TID | TIME | RAW, in that order, as perf_event_open(2) lays
//! a sample out), `PERF_RECORD_FORK` / `_EXIT` (a thread started or ended),
//! `PERF_RECORD_LOST` / `_LOST_SAMPLES` (records the kernel dropped because the
//! buffer was full) and `PERF_RECORD_THROTTLE`. Pure: bytes in, records out.

use perf_event_open_sys::bindings as sys;

use super::tracefs::RssStat;

/// One decoded record. Times are CLOCK_MONOTONIC nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A counter of an mm changed: `bytes` is its value after the change.
    Rss {
        t_ns: u64,
        /// The process (tgid) whose thread made the change.
        pid: u32,
        mm_id: u32,
        /// Whether the changed mm was the writing thread's own.
        curr: bool,
        member: i64,
        bytes: i64,
    },
    Fork {
        t_ns: u64,
        pid: u32,
        tid: u32,
    },
    Exit {
        t_ns: u64,
        pid: u32,
        tid: u32,
    },
    /// Records the kernel could not write.
    Lost {
        n: u64,
    },
    /// The kernel throttled the event (it never does for period-1 tracepoints, but
    /// a throttled series would have gaps).
    Throttle,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Decode every whole record in `bytes` (one ring's drained contents, in order).
/// Records of other types are skipped; a truncated tail is ignored.
pub fn decode(bytes: &[u8], layout: &RssStat, out: &mut Vec<Record>) {
    let mut at = 0;
    while let (Some(kind), Some(size)) = (
        u32_at(bytes, at),
        bytes
            .get(at + 6..at + 8)
            .map(|s| u16::from_ne_bytes([s[0], s[1]]) as usize),
    ) {
        if size < 8 || at + size > bytes.len() {
            break;
        }
        if let Some(r) = decode_one(kind, &bytes[at + 8..at + size], layout) {
            out.push(r);
        }
        at += size;
    }
}

fn decode_one(kind: u32, body: &[u8], layout: &RssStat) -> Option<Record> {
    match kind {
        sys::PERF_RECORD_SAMPLE => {
            // u32 pid, u32 tid, u64 time, u32 raw size, raw bytes.
            let pid = u32_at(body, 0)?;
            let t_ns = u64_at(body, 8)?;
            let raw_len = u32_at(body, 16)? as usize;
            let raw = body.get(20..20 + raw_len)?;
            Some(Record::Rss {
                t_ns,
                pid,
                mm_id: layout.mm_id.read(raw)? as u32,
                curr: layout.curr.read(raw)? != 0,
                member: layout.member.read(raw)?,
                bytes: layout.size.read(raw)?,
            })
        }
        sys::PERF_RECORD_FORK | sys::PERF_RECORD_EXIT => {
            // u32 pid, ppid, tid, ptid; u64 time.
            let (pid, tid, t_ns) = (u32_at(body, 0)?, u32_at(body, 8)?, u64_at(body, 16)?);
            Some(if kind == sys::PERF_RECORD_FORK {
                Record::Fork { t_ns, pid, tid }
            } else {
                Record::Exit { t_ns, pid, tid }
            })
        }
        // u64 id, u64 lost.
        sys::PERF_RECORD_LOST => Some(Record::Lost {
            n: u64_at(body, 8)?,
        }),
        // u64 lost.
        sys::PERF_RECORD_LOST_SAMPLES => Some(Record::Lost {
            n: u64_at(body, 0)?,
        }),
        sys::PERF_RECORD_THROTTLE => Some(Record::Throttle),
        _ => None,
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn layout() -> RssStat {
        super::super::tracefs::parse_format(include_str!(
            "../../../tests/fixtures/tracefs/rss_stat-format-6.18.txt"
        ))
        .unwrap()
    }

    /// A sample record as the kernel writes it (raw padded so the record is 8-aligned).
    pub fn sample(pid: u32, t_ns: u64, mm_id: u32, curr: bool, member: i32, bytes: i64) -> Vec<u8> {
        let mut raw = vec![0u8; 32];
        raw[8..12].copy_from_slice(&mm_id.to_ne_bytes());
        raw[12..16].copy_from_slice(&u32::from(curr).to_ne_bytes());
        raw[16..20].copy_from_slice(&member.to_ne_bytes());
        raw[24..32].copy_from_slice(&bytes.to_ne_bytes());
        raw.extend([0u8; 4]);
        let mut body = Vec::new();
        body.extend(pid.to_ne_bytes());
        body.extend(pid.to_ne_bytes());
        body.extend(t_ns.to_ne_bytes());
        body.extend((raw.len() as u32).to_ne_bytes());
        body.extend(raw);
        record(sys::PERF_RECORD_SAMPLE, body)
    }

    pub fn task(kind: u32, pid: u32, tid: u32, t_ns: u64) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [pid, pid, tid, pid] {
            body.extend(v.to_ne_bytes());
        }
        body.extend(t_ns.to_ne_bytes());
        // sample_id_all: pid, tid, time.
        body.extend(pid.to_ne_bytes());
        body.extend(tid.to_ne_bytes());
        body.extend(t_ns.to_ne_bytes());
        record(kind, body)
    }

    fn record(kind: u32, body: Vec<u8>) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(kind.to_ne_bytes());
        r.extend(0u16.to_ne_bytes());
        r.extend(((body.len() + 8) as u16).to_ne_bytes());
        r.extend(body);
        r
    }

    #[test]
    fn samples_and_task_records_decode_in_order() {
        let mut bytes = sample(42, 1_000, 7, true, 1, 8192);
        bytes.extend(task(sys::PERF_RECORD_FORK, 42, 43, 1_500));
        bytes.extend(task(sys::PERF_RECORD_EXIT, 42, 43, 2_000));
        let mut lost = record(
            sys::PERF_RECORD_LOST,
            [9u64.to_ne_bytes(), 5u64.to_ne_bytes()].concat(),
        );
        bytes.append(&mut lost);
        // A record cut short at the end is left alone.
        bytes.extend(&sample(42, 3_000, 7, true, 1, 4096)[..20]);
        let mut out = Vec::new();
        decode(&bytes, &layout(), &mut out);
        assert_eq!(
            out,
            vec![
                Record::Rss {
                    t_ns: 1_000,
                    pid: 42,
                    mm_id: 7,
                    curr: true,
                    member: 1,
                    bytes: 8192
                },
                Record::Fork {
                    t_ns: 1_500,
                    pid: 42,
                    tid: 43
                },
                Record::Exit {
                    t_ns: 2_000,
                    pid: 42,
                    tid: 43
                },
                Record::Lost { n: 5 },
            ]
        );
    }
}
