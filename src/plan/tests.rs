//! Unit tests of plans built from flags and matrix files: which value wins, patterns,
//! bindings, profiles and workloads, and the run order with its shards.

use super::*;

fn plan(extra: &[&str]) -> Result<Plan> {
    let mut v = vec!["arena-sweep"];
    v.extend_from_slice(extra);
    Plan::from_argv(&v)
}

#[test]
fn every_run_once_with_builds_adjacent_and_a_seeded_order() {
    let a = |seed: &str| {
        plan(&[
            "--python-threads",
            "1,2,4",
            "--rust-threads",
            "1..=4",
            "--reps",
            "3",
            "--seed",
            seed,
        ])
        .unwrap()
    };
    let p = a("7");
    let runs = p.runs();
    // 3 x 4 points and one control point per Python thread count, 2 builds, 3 reps.
    assert_eq!(runs.len(), 3 * (4 + 1) * 2 * 3);
    assert_eq!(
        runs.iter().filter(|r| r.cell.point.is_control()).count(),
        3 * 2 * 3
    );
    let ids: std::collections::HashSet<String> =
        runs.iter().map(|r| r.cell.run_id(r.rep)).collect();
    assert_eq!(ids.len(), runs.len(), "no run twice");
    for pair in runs.chunks(2) {
        assert_eq!(
            pair[0].cell.point, pair[1].cell.point,
            "GIL and nogil of a point are adjacent"
        );
        assert_ne!(pair[0].cell.build, pair[1].cell.build);
        assert_eq!(pair[0].rep, pair[1].rep);
    }
    let first_builds: Vec<Build> = runs.chunks(2).map(|p| p[0].cell.build).collect();
    assert!(
        first_builds.contains(&Build::Gil) && first_builds.contains(&Build::Nogil),
        "either build may go first"
    );
    assert_eq!(runs, a("7").runs(), "the same seed gives the same order");
    assert_ne!(runs, a("8").runs(), "another seed gives another order");
    let rep0: Vec<&Point> = runs
        .iter()
        .filter(|r| r.rep == 0)
        .map(|r| &r.cell.point)
        .collect();
    let rep1: Vec<&Point> = runs
        .iter()
        .filter(|r| r.rep == 1)
        .map(|r| &r.cell.point)
        .collect();
    assert_ne!(rep0, rep1, "each repetition has its own order");
}

#[test]
fn shards_partition_the_runs_by_point() {
    let p = plan(&[
        "--python-threads",
        "1..=3",
        "--rust-threads",
        "1,8",
        "--reps",
        "2",
        "--seed",
        "1",
    ])
    .unwrap();
    let all: std::collections::BTreeSet<String> =
        p.runs().iter().map(|r| r.cell.run_id(r.rep)).collect();
    let mut union = std::collections::BTreeSet::new();
    for k in 0..4 {
        for r in p.runs_of_shard(Some(Shard { k, n: 4 })) {
            assert!(union.insert(r.cell.run_id(r.rep)), "a run in two shards");
        }
    }
    assert_eq!(union, all);
}

#[test]
fn bad_patterns_are_refused_with_the_flag() {
    let err = plan(&["--pattern", "seed", "--pattern-params", "sz=1"]).unwrap_err();
    assert!(
        err.to_string().contains("--pattern-params") && err.to_string().contains("sz"),
        "{err}"
    );
    assert_eq!(crate::error::exit_code(&err), 2);
    let err = plan(&["--pattern", "fragment:keep_every=0"]).unwrap_err();
    assert!(
        err.to_string().contains("--pattern fragment:keep_every=0")
            && err.to_string().contains("at least 1"),
        "{err}"
    );
    let err = plan(&["--pattern", "nope"]).unwrap_err();
    assert!(err.to_string().contains("unknown pattern `nope`"), "{err}");
    let err = plan(&["--pattern", "seed", "--pattern", "seed:size=1"]).unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
}

#[test]
fn several_patterns_and_bindings() {
    let p = plan(&[
        "--pattern",
        "seed",
        "--pattern",
        "fragment:keep_every=16,size=4096",
        "--binding",
        "pyo3,pyo3-detach",
    ])
    .unwrap();
    assert_eq!(
        p.patterns[1],
        PatternSpec {
            name: "fragment".into(),
            params: "keep_every=16,size=4096".into()
        }
    );
    assert_eq!(p.bindings, vec![Binding::Pyo3, Binding::Pyo3Detach]);
    // 2 patterns x 2 bindings, each with its control point (1 Python thread count).
    assert_eq!(p.points().len(), 8);
    assert_eq!(
        p.points()
            .iter()
            .filter(|(pt, _, _)| pt.is_control())
            .count(),
        4
    );
}

#[test]
fn no_control_plans_only_the_grid() {
    let p = plan(&[
        "--python-threads",
        "1,2",
        "--rust-threads",
        "4",
        "--no-control",
    ])
    .unwrap();
    assert!(!p.control);
    assert_eq!(p.points().len(), 2);
    assert!(p.points().iter().all(|(pt, _, _)| !pt.is_control()));
    let with = plan(&["--python-threads", "1,2", "--rust-threads", "4"]).unwrap();
    assert!(with.control);
    let controls: Vec<(u32, u32)> = with
        .points()
        .iter()
        .filter(|(pt, _, _)| pt.is_control())
        .map(|(pt, _, _)| (pt.python_threads, pt.rust_threads))
        .collect();
    assert_eq!(controls, [(1, 0), (2, 0)]);
}

#[test]
fn typed_flags_override_the_matrix_and_the_matrix_overrides_defaults() {
    let p = plan(&["--matrix", "quick", "--reps", "7"]).unwrap();
    assert_eq!(p.name, "quick");
    assert_eq!(p.reps, 7, "typed on the command line");
    assert_eq!(
        p.python_threads,
        vec![1, 2],
        "from quick.toml, not the flag default 8"
    );
    assert_eq!(p.rust_threads, vec![2, 8]);
}

#[test]
fn profiles_from_names_adhoc_flags_and_emulated_cores() {
    let p = plan(&[
        "--tunables",
        "glibc-default,arena-max-2",
        "--tunable",
        "glibc.malloc.trim_threshold=128K",
        "--emulate-cores",
        "64",
    ])
    .unwrap();
    let names: Vec<&str> = p.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["glibc-default@64cpus", "arena-max-2", "adhoc@64cpus"]
    );
    assert_eq!(p.profiles[0].glibc_tunables(), "glibc.malloc.arena_max=512");
    assert_eq!(
        p.profiles[1].glibc_tunables(),
        "glibc.malloc.arena_max=2",
        "a profile's own arena_max wins"
    );
    assert_eq!(
        p.profiles[2].glibc_tunables(),
        "glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=512"
    );
    let err = plan(&["--tunables", "arena-max-3"]).unwrap_err();
    assert!(err.to_string().contains("--tunables arena-max-3"), "{err}");
    assert_eq!(crate::error::exit_code(&err), 2);
    let err = plan(&["--tunable", "glibc.malloc.arena_max=0"]).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
}

#[test]
fn a_workload_replaces_patterns_and_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("w.py");
    std::fs::write(
        &f,
        "# requires: blake3==1.0.8\ndef call(r, w, i):\n    pass\n",
    )
    .unwrap();
    let p = plan(&[
        "--workload",
        f.to_str().unwrap(),
        "--workload-params",
        "size=10",
    ])
    .unwrap();
    assert_eq!(
        p.patterns,
        vec![PatternSpec {
            name: "workload:w".into(),
            params: "size=10".into()
        }]
    );
    assert_eq!(p.bindings, vec![Binding::Workload]);
    assert_eq!(p.workload.as_ref().unwrap().requires, vec!["blake3==1.0.8"]);
    let err = plan(&[
        "--workload",
        f.to_str().unwrap(),
        "--binding",
        "pyo3-detach",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("drop --binding"), "{err}");
    let err = plan(&["--workload-params", "a=1"]).unwrap_err();
    assert!(err.to_string().contains("needs --workload"), "{err}");
    let err = plan(&["--workload", "/no/such.py"]).unwrap_err();
    assert!(err.to_string().contains("--workload /no/such.py"), "{err}");
}
