//! Shared helpers for the integration tests: they run the real `arena-sweep` binary
//! against the real interpreter pair (provisioned by `scripts/test.sh`) and the real
//! extension.

#![allow(dead_code)]

pub mod live;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub fn bin() -> Command {
    let mut c = Command::cargo_bin("arena-sweep").expect("binary built");
    c.timeout(std::time::Duration::from_secs(900));
    c
}

/// The pair the tool itself resolves (flags absent): (gil, nogil).
pub fn pair() -> (PathBuf, PathBuf) {
    let out = bin().args(["pythons", "list"]).output().unwrap();
    let full = String::from_utf8_lossy(&out.stdout);
    let text = full.split("Pair used:").nth(1).unwrap_or_else(|| {
        panic!("`pythons list` shows no pair; run scripts/test.sh, which provisions one:\n{full}")
    });
    let pick = |prefix: &str| -> PathBuf {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in `pythons list`; run scripts/test.sh, which provisions the pair:\n{text}"));
        let rest = line.trim_start().trim_start_matches(prefix).trim();
        PathBuf::from(rest.split(" (").next().unwrap())
    };
    (pick("gil  "), pick("nogil  "))
}

/// The one report folder under `out`.
pub fn report_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "expected one report folder in {}: {dirs:?}",
        out.display()
    );
    dirs[0].clone()
}

pub fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

pub fn plan(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap()
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Validate `<dir>/summary.json` against `docs/summary.schema.json`; returns it.
pub fn valid_summary(dir: &Path) -> Value {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/summary.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json"))
            .unwrap_or_else(|e| panic!("{}/summary.json: {e}", dir.display())),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{}/summary.json does not follow docs/summary.schema.json:\n{}",
        dir.display(),
        errors.join("\n")
    );
    doc
}

/// The programs and extension folder each build's children use, from a sweep's
/// plan.json: (program, ext_dir) for "gil" and "nogil".
pub fn children(plan: &Value) -> Vec<(String, String)> {
    let prov = &plan["provenance"];
    ["gil", "nogil"]
        .iter()
        .map(|build| {
            let nogil = *build == "nogil";
            let interp = prov["interpreters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["gil_disabled"].as_bool() == Some(nogil))
                .expect("both interpreters in provenance");
            let suffix = interp["ext_suffix"].as_str().unwrap();
            let ext = prov["extensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["variant"] == "glibc" && e["file"].as_str().unwrap().ends_with(suffix))
                .expect("the glibc extension build of the interpreter");
            let program = plan["child_programs"][*build]
                .as_str()
                .expect("plan.json names each build's program")
                .to_string();
            (program, ext["dir"].as_str().unwrap().to_string())
        })
        .collect()
}

/// A minimal reference script's command: `program` with the environment arena-sweep
/// gives a child (`LC_ALL`, `PATH`, nothing inherited), run from `dir`.
pub fn minimal_command(program: &str, dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear()
        .env("LC_ALL", "C.UTF-8")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(dir);
    cmd
}
