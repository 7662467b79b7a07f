//! Each allocation pattern and binding mode moves the measurements the way it should,
//! on the real interpreters and extension.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// Run a grid point; records grouped by (pattern, profile, binding, build).
fn sweep(args: &[&str]) -> BTreeMap<(String, String, String, String), Vec<Value>> {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(args)
        .args(["--seed", "5", "--no-install", "--no-control", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let mut by: BTreeMap<_, Vec<Value>> = BTreeMap::new();
    for r in records(&report_dir(out.path())) {
        assert_eq!(r["status"], "ok", "{r}");
        let key = |k: &str| r[k].as_str().unwrap().to_string();
        by.entry((key("pattern"), key("profile"), key("binding"), key("build")))
            .or_default()
            .push(r.clone());
    }
    by
}

fn median(rs: &[Value], f: impl Fn(&Value) -> i64) -> i64 {
    let mut v: Vec<i64> = rs.iter().map(f).collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn m(r: &Value, name: &str) -> i64 {
    r["metrics"][name].as_i64().unwrap()
}

#[test]
fn fragment_pins_more_than_churn_at_the_same_sizes() {
    let by = sweep(&[
        "--python-threads",
        "2",
        "--rust-threads",
        "4",
        "--reps",
        "3",
        "--pattern",
        "churn:size=16384,count=512",
        "--pattern",
        "fragment:size=16384,count=512,keep_every=64",
    ]);
    let get = |pattern: &str| {
        &by[&(
            pattern.into(),
            "glibc-default".into(),
            "pyo3".into(),
            "gil".into(),
        )]
    };
    let churn = median(get("churn"), |r| m(r, "delta_kib"));
    // What fragment leaves beyond the blocks it really keeps alive: the holes between
    // them, which pin the heap.
    let fragment_beyond_live = median(get("fragment"), |r| {
        m(r, "delta_kib") - m(r, "store_bytes") / 1024
    });
    assert!(
        fragment_beyond_live > 4 * churn.max(256),
        "fragment pins {fragment_beyond_live} KiB beyond its live blocks, churn leaves {churn} KiB"
    );
    // The holes are free memory glibc kept: malloc_trim(0) gives most of them back
    // while the kept blocks are still alive.
    let reclaim = median(get("fragment"), |r| m(r, "reclaimable_kib"));
    assert!(
        reclaim * 2 > fragment_beyond_live,
        "reclaimable {reclaim} KiB of {fragment_beyond_live}"
    );
    // And the kept blocks were released in their own phase, after the trim.
    assert!(get("fragment")
        .iter()
        .all(|r| r["phases"]["released"].is_object()));
    assert!(get("churn")
        .iter()
        .all(|r| r["phases"]["released"].is_null()));
}

#[test]
fn large_responds_to_the_mmap_threshold() {
    // 128 KiB - 32 MiB blocks: with glibc's dynamic threshold, a freed mmapped block
    // raises the threshold, so later ones come from (and stay in) the arenas. A fixed
    // 128 KiB threshold serves them all with mmap and returns them on free.
    let by = sweep(&[
        "--python-threads",
        "2",
        "--rust-threads",
        "4",
        "--reps",
        "2",
        "--pattern",
        "large",
        "--tunables",
        "glibc-default,mmap-threshold-128k",
    ]);
    for build in ["gil", "nogil"] {
        let get = |p: &str| &by[&("large".into(), p.into(), "pyo3".into(), build.into())];
        let dynamic = median(get("glibc-default"), |r| m(r, "delta_kib"));
        let fixed = median(get("mmap-threshold-128k"), |r| m(r, "delta_kib"));
        assert!(
            dynamic > 16 * 1024,
            "{build}: dynamic threshold left {dynamic} KiB"
        );
        assert!(
            fixed < 4 * 1024,
            "{build}: fixed threshold left {fixed} KiB"
        );
    }
}

#[test]
fn bindings_that_release_the_gil_run_calls_at_once() {
    // Rust threads that live a few milliseconds (churn of 200000 small blocks), sampled
    // every millisecond: with the GIL held, one call (8 Rust threads) runs at a time;
    // released, the 4 Python threads' calls overlap.
    let by = sweep(&[
        "--python-threads",
        "4",
        "--rust-threads",
        "8",
        "--reps",
        "2",
        "--iterations",
        "5",
        "--pattern",
        "churn:size=64,count=200000",
        "--binding",
        "pyo3,pyo3-detach,ctypes-pydll,ctypes-cdll",
        "--sample-interval",
        "1ms",
    ]);
    let peak = |binding: &str, build: &str| {
        by[&(
            "churn".into(),
            "glibc-default".into(),
            binding.into(),
            build.into(),
        )]
            .iter()
            .map(|r| m(r, "peak_threads"))
            .max()
            .unwrap()
    };
    // Main thread + 4 Python threads + 8 Rust threads of the one call, and a margin for
    // a call starting as the last one ends.
    let held_bound = 1 + 4 + 8 + 4;
    for held in ["pyo3", "ctypes-pydll"] {
        assert!(
            peak(held, "gil") <= held_bound,
            "{held}: {} threads with the GIL held",
            peak(held, "gil")
        );
    }
    for released in ["pyo3-detach", "ctypes-cdll"] {
        assert!(
            peak(released, "gil") > held_bound + 4,
            "{released}: only {} threads with the GIL released",
            peak(released, "gil")
        );
        assert!(
            peak(released, "nogil") > held_bound + 4,
            "{released} nogil: {}",
            peak(released, "nogil")
        );
    }
}
