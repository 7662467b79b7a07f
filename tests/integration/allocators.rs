//! Allocator profiles measured for real: each must change what glibc's documentation
//! says it changes. Numbers come from the parent's smaps classification, glibc's
//! arenas read from outside at each phase, and (with --verify) the child's own
//! malloc_info after the last snapshot, in the same runs.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// Run one grid point for the given profiles; records grouped by (profile, build).
fn measure(profiles: &str, extra: &[&str]) -> BTreeMap<(String, String), Vec<Value>> {
    let out = tempfile::tempdir().unwrap();
    let mut grid = vec!["--python-threads", "2", "--rust-threads", "8"];
    for (i, flag) in ["--python-threads", "--rust-threads"].iter().enumerate() {
        if let Some(j) = extra.iter().position(|a| a == flag) {
            grid[2 * i + 1] = extra[j + 1];
        }
    }
    let extra: Vec<&str> = extra
        .chunks(2)
        .filter(|kv| !matches!(kv[0], "--python-threads" | "--rust-threads"))
        .flatten()
        .copied()
        .collect();
    let o = bin()
        .args(&grid)
        .args([
            "--reps",
            "1",
            // One window: the kept blocks below are one pool's.
            "--rounds",
            "1",
            "--iterations",
            "5",
            "--seed",
            "3",
            "--no-install",
            "--no-control",
            "--verify",
        ])
        .args(["--tunables", profiles])
        .args(&extra)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let mut by: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in records(&report_dir(out.path())) {
        assert_eq!(r["status"], "ok", "{r}");
        by.entry((
            r["profile"].as_str().unwrap().into(),
            r["build"].as_str().unwrap().into(),
        ))
        .or_default()
        .push(r);
    }
    by
}

fn metric(r: &Value, name: &str) -> i64 {
    r["metrics"][name]
        .as_i64()
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// Growth of glibc's in-use bytes (all arenas, read from outside) during the workload.
fn glibc_in_use_growth(r: &Value) -> i64 {
    let at = |phase: &str| {
        r["arenas"][phase]["totals"]["in_use_bytes"]
            .as_i64()
            .unwrap_or_else(|| panic!("no arena read at {phase}: {}", r["arenas"]))
    };
    at("done") - at("ready")
}

#[test]
fn arena_caps_bound_the_arena_heaps() {
    let by = measure("glibc-default,arena-max-1,arena-max-2", &[]);
    for build in ["gil", "nogil"] {
        let heaps = |p: &str| metric(&by[&(p.to_string(), build.to_string())][0], "arena_heaps");
        // 8 Rust threads at once: more than the cap of 2 needs.
        assert!(
            heaps("glibc-default") >= 4,
            "{build}: default made {} heaps",
            heaps("glibc-default")
        );
        // arena_max=1: only the main arena, which lives in [heap]: no arena heaps at all.
        assert_eq!(heaps("arena-max-1"), 0, "{build}");
        // arena_max=2: the main arena plus one.
        assert_eq!(heaps("arena-max-2"), 1, "{build}");
        for p in ["glibc-default", "arena-max-1", "arena-max-2"] {
            let r = &by[&(p.to_string(), build.to_string())][0];
            // At the final snapshot: smaps and the arenas read from outside.
            assert_eq!(
                metric(r, "arena_heaps"),
                r["arenas"]["done"]["totals"]["heaps"].as_i64().unwrap(),
                "{p} {build}: smaps and the outside reading agree"
            );
            // At the --verify pause: smaps, malloc_info and the outside reading.
            assert_eq!(
                r["phases"]["verified"]["regions"]["arena_heaps"].as_i64(),
                Some(metric(r, "heaps_reported")),
                "{p} {build}: smaps and malloc_info agree"
            );
            assert_eq!(r["metrics"]["malloc_info_agrees"], true, "{p} {build}");
        }
    }
}

#[test]
fn jemalloc_moves_the_rust_side_off_glibc_arenas() {
    // `fragment` keeps every 64th 16 KiB block alive (2 x 5 calls x 8 threads x 8 blocks x
    // 16 KiB = 10 MiB here), so the memory
    // the Rust threads hold is visible in whichever allocator serves them.
    let by = measure(
        "glibc-default,jemalloc,preload-jemalloc",
        &["--pattern", "fragment"],
    );
    for build in ["gil", "nogil"] {
        let g = &by[&("glibc-default".to_string(), build.to_string())][0];
        let j = &by[&("jemalloc".to_string(), build.to_string())][0];
        let p = &by[&("preload-jemalloc".to_string(), build.to_string())][0];
        let store = metric(g, "store_bytes");
        assert_eq!(
            store,
            metric(j, "store_bytes"),
            "both keep the same blocks alive"
        );
        assert_eq!(store, 10 << 20, "{store}");
        // glibc: the kept blocks are glibc memory, in the arena heaps.
        assert!(
            glibc_in_use_growth(g) >= store,
            "{build}: glibc grew {} for {store}",
            glibc_in_use_growth(g)
        );
        assert!(
            metric(g, "heap_rss_kib") > 8 * 1024,
            "{build}: {}",
            metric(g, "heap_rss_kib")
        );
        // tikv-jemallocator: the same blocks are not glibc's. glibc still makes an arena
        // for each new Rust thread's own records (a TLS-destructor entry, dynamic TLS),
        // but those arenas stay nearly empty.
        assert!(
            glibc_in_use_growth(j) < 1 << 20,
            "{build}: glibc grew {} with jemalloc",
            glibc_in_use_growth(j)
        );
        assert!(
            metric(j, "heap_rss_kib") < 2 * 1024,
            "{build}: {} KiB in glibc arena heaps",
            metric(j, "heap_rss_kib")
        );
        // jemalloc preloaded process-wide: glibc malloc is not used at all.
        assert_eq!(metric(p, "arena_heaps"), 0, "{build}");
        assert_eq!(metric(p, "heaps_reported"), 0, "{build}");
    }
}

#[test]
fn emulated_cores_raise_the_arena_cap() {
    // 2 CPUs cap glibc at 16 arenas (15 heaps); an emulated 8-CPU host allows 64.
    let by = measure(
        "glibc-default",
        &[
            "--emulate-cores",
            "8",
            "--rust-threads",
            "50",
            "--python-threads",
            "4",
        ],
    );
    let nogil = &by[&("glibc-default@8cpus".to_string(), "nogil".to_string())][0];
    assert_eq!(nogil["glibc_tunables"], "glibc.malloc.arena_max=64");
    assert!(
        metric(nogil, "arena_heaps") > 15,
        "heaps: {}",
        metric(nogil, "arena_heaps")
    );
    assert!(metric(nogil, "arena_heaps") <= 63);
}
