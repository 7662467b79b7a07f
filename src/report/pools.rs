//! Threads a workload left running, for `summary.md`: a package's persistent pool
//! (OpenBLAS, Arrow's CPU pool, rayon's global pool, a shared onnxruntime session) is
//! still alive at the final snapshot, so its thread stacks and per-thread arenas are
//! part of the delta and stay for the life of the process; they are not a leak that
//! grows per call. The driver joins its own Python threads before that snapshot, so
//! every thread beyond the baseline's belongs to the code under test.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::results::RunRecord;

/// The "Threads alive at the final snapshot" section, or "" when no run left any.
pub fn markdown(records: &[RunRecord], esc: fn(&str) -> String) -> String {
    let mut left: BTreeMap<(String, String, u32, u32), Vec<i64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.ok()) {
        let (Some(ready), Some(done)) = (&r.phases.ready, &r.phases.done) else {
            continue;
        };
        let p = &r.cell.point;
        left.entry((
            p.pattern.clone(),
            r.cell.build.to_string(),
            p.python_threads,
            p.rust_threads,
        ))
        .or_default()
        .push(done.threads as i64 - ready.threads as i64);
    }
    left.retain(|_, v| v.iter().any(|&n| n > 0));
    if left.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "## Threads alive at the final snapshot\n\n\
         Threads beyond the baseline's still running when the final snapshot was taken \
         (the Python threads are joined before it): a persistent pool of the code under \
         test. Their stacks and arenas are in the delta and stay for the process's life.\n\n\
         | pattern | build | PxR | threads left (median) | range |\n|---|---|---|--:|---|\n",
    );
    for ((pattern, build, p, r), mut v) in left {
        v.sort_unstable();
        let median = v[v.len() / 2];
        let _ = writeln!(
            s,
            "| {} | {build} | {p}x{r} | {median} | {}..{} |",
            esc(&pattern),
            v[0],
            v[v.len() - 1]
        );
    }
    s.push('\n');
    s
}
