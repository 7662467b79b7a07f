//! Security promises, checked on the real binary: the child's environment is exactly
//! what arena-sweep sets; GLIBC_TUNABLES only ever comes from validated profiles;
//! no shell runs anything.

use crate::common;

use std::collections::BTreeMap;

use common::*;

/// A workload that writes the environment it sees to a file.
fn env_dump_workload(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let dump = dir.join("env.json");
    let w = dir.join("envdump.py");
    std::fs::write(
        &w,
        format!(
            "import json, os, sys\n\
             def setup(params):\n\
             \x20   with open({:?} + '.' + ('nogil' if not sys._is_gil_enabled() else 'gil'), 'w') as f:\n\
             \x20       json.dump(dict(os.environ), f)\n\
             def call(rust_threads, worker_id, iteration):\n\
             \x20   pass\n",
            dump.to_str().unwrap()
        ),
    )
    .unwrap();
    (w.to_str().unwrap().to_string(), dump)
}

#[test]
fn the_child_gets_an_explicit_environment_and_nothing_leaks_in() {
    let dir = tempfile::tempdir().unwrap();
    let (w, dump) = env_dump_workload(dir.path());
    let o = bin()
        .env("ARENA_SWEEP_TEST_SECRET", "do-not-leak")
        .env("PYTHON_GIL", "1")
        .env("LD_PRELOAD", "/nonexistent/evil.so")
        .env("MALLOC_ARENA_MAX", "1")
        .args([
            "--python-threads",
            "1",
            "--rust-threads",
            "1",
            "--reps",
            "1",
            "--no-install",
            "--tunables",
            "arena-max-2",
        ])
        .args(["--workload", &w, "--out"])
        .arg(dir.path().join("reports"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    for build in ["gil", "nogil"] {
        let path = format!("{}.{build}", dump.display());
        let env: BTreeMap<String, String> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        // LC_CTYPE is set by the interpreter itself (PEP 538 C-locale coercion).
        let allowed = [
            "ARENA_SWEEP_PAD",
            "GLIBC_TUNABLES",
            "LC_ALL",
            "LC_CTYPE",
            "PATH",
        ];
        assert!(
            keys.iter().all(|k| allowed.contains(k)),
            "{build}: unexpected variables {keys:?}"
        );
        assert_eq!(
            env["GLIBC_TUNABLES"], "glibc.malloc.arena_max=2",
            "{build}: the rendered profile, nothing else"
        );
        assert!(env["ARENA_SWEEP_PAD"].chars().all(|c| c == 'x'));
    }
    let recs = records(&report_dir(&dir.path().join("reports")));
    assert!(
        recs.iter()
            .all(|r| r["glibc_tunables"] == "glibc.malloc.arena_max=2"),
        "each run records the value it got"
    );
}

#[test]
fn glibc_tunables_cannot_come_from_anywhere_but_validated_tunables() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("sneaky-env.toml", "name = \"sneaky-env\"\ndescription = \"x\"\nallocator = \"glibc\"\n[env]\nGLIBC_TUNABLES = \"glibc.malloc.arena_max=1\"\n", ":5:"),
        ("overflow.toml", "name = \"overflow\"\ndescription = \"x\"\nallocator = \"glibc\"\n[tunables]\n\"glibc.malloc.arena_max\" = \"1:glibc.rtld.nns=9\"\n", ":5:"),
        ("not-malloc.toml", "name = \"not-malloc\"\ndescription = \"x\"\nallocator = \"glibc\"\n[tunables]\n\"glibc.rtld.optional_static_tls\" = 1024\n", ":5:"),
    ];
    for (file, body, line) in cases {
        let p = dir.path().join(file);
        std::fs::write(&p, body).unwrap();
        let o = bin()
            .args(["--no-install", "--tunables"])
            .arg(&p)
            .arg("--out")
            .arg(dir.path().join("reports"))
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("{file}{line}")),
            "{file}: the error names the file and line: {stderr}"
        );
        assert!(
            !dir.path().join("reports").exists(),
            "{file}: nothing was written"
        );
    }
    // A --tunable with stray characters never reaches a child.
    let o = bin()
        .args([
            "--no-install",
            "--tunable",
            "glibc.malloc.arena_max=1:glibc.rtld.nns=9",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_shell_is_involved_anywhere() {
    // Every process arena-sweep starts is spawned from an argument vector. A shell
    // would show up as one of these in the source.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for dir in ["src", "poc-ext/src"] {
        for entry in walk(&root.join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for needle in [
                "Command::new(\"sh\")",
                "Command::new(\"bash\")",
                "\"/bin/sh\"",
                "\"-c\", \"sh",
                "os.system(",
                "shell=True",
            ] {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", entry.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs" || x == "py") {
            out.push(p);
        }
    }
    out
}
