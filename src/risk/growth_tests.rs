//! The advice and growth (`--rounds`): a profile whose free-threaded build keeps
//! growing where glibc-default's settles is not deployable, whatever it saves.

use super::evidence::{deployable, grows_where_default_settles};
use crate::aggregate::summarize;
use crate::model::{Binding, Build};
use crate::results::{Cell, Metrics, Point, RunRecord};
use crate::risk::Thresholds;

/// Three runs per build of one point of `profile`, 20 rounds each: the GIL build
/// flat, the free-threaded one growing `nogil_growth` KiB per round.
fn runs(profile: &str, nogil_growth: i64) -> Vec<RunRecord> {
    let mut v = Vec::new();
    for rep in 0..3u32 {
        for (build, growth) in [(Build::Gil, 0), (Build::Nogil, nogil_growth)] {
            let deltas: Vec<i64> = (0..20)
                .map(|k| 1000 + growth * k + i64::from(rep) * 4 + (k % 2))
                .collect();
            let last = *deltas.last().unwrap();
            let cell = Cell {
                build,
                point: Point {
                    binding: Binding::Pyo3,
                    profile: profile.into(),
                    pattern: "seed".into(),
                    python_threads: 8,
                    rust_threads: 50,
                },
            };
            v.push(RunRecord::for_test(
                cell,
                rep,
                Metrics {
                    baseline_rss_kib: 10_000,
                    final_rss_kib: (10_000 + last) as u64,
                    ..Metrics::with_rounds(&deltas)
                },
            ));
        }
    }
    v
}

fn profile(name: &str) -> crate::tunables::Profile {
    let mut p = crate::tunables::Profile::glibc_default();
    p.name = name.into();
    p
}

#[test]
fn a_profile_that_keeps_growing_where_the_default_settles_is_not_deployable() {
    let mut records = runs("glibc-default", 0);
    records.extend(runs("arena-max-2", 20));
    records.extend(runs("arena-max-4", 0));
    let s = summarize(&records, 256.0, &Thresholds::default());
    assert_eq!(grows_where_default_settles(&s), vec!["arena-max-2"]);
    let names: Vec<String> = deployable(
        &[
            profile("glibc-default"),
            profile("arena-max-2"),
            profile("arena-max-4"),
        ],
        &s,
    )
    .into_iter()
    .map(|p| p.name)
    .collect();
    assert_eq!(names, ["glibc-default", "arena-max-4"]);
    // Where glibc-default keeps growing too, growing is no reason to refuse one.
    let mut both = runs("glibc-default", 20);
    both.extend(runs("arena-max-2", 20));
    let s = summarize(&both, 256.0, &Thresholds::default());
    assert!(grows_where_default_settles(&s).is_empty());
}
