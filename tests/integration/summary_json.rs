//! summary.json, the machine-readable verdict: every report folder writes one that
//! follows docs/summary.schema.json (checked on the real sweeps kept as fixtures), the
//! schema refuses what it should, and the `--fail-on-*` gates agree with the file.

use crate::common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `arena-sweep report` of a fixture folder into a temporary one, with extra flags;
/// returns (exit code, stdout, the output folder).
fn report(fixture: &str, extra: &[&str]) -> (i32, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports")
        .join(fixture);
    let o = bin()
        .arg("report")
        .arg(&src)
        .arg("--out")
        .arg(tmp.path())
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "{stdout}\n{stderr}"
    );
    (o.status.code().unwrap(), stdout, tmp)
}

#[test]
fn every_report_writes_a_summary_json_that_follows_the_schema() {
    for fixture in ["glibc-default", "arena-max-2", "tunables"] {
        let (_, _, tmp) = report(fixture, &[]);
        let doc = valid_summary(tmp.path());
        assert_eq!(doc["schema"], "arena-sweep/summary");
        assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"));
        let cells = std::fs::read_to_string(tmp.path().join("cells.csv")).unwrap();
        assert_eq!(
            doc["points"].as_array().unwrap().len(),
            cells.lines().count() - 1,
            "{fixture}: one entry per point"
        );
    }
    // The tunables sweep: every profile uses more memory than glibc-default or
    // differs within noise, so the advice is to keep the default, with each profile's
    // judgement.
    let (_, _, tmp) = report("tunables", &[]);
    let doc = valid_summary(tmp.path());
    assert_eq!(doc["advice"]["kind"], "keep_default");
    let outcome = |p: &str| {
        doc["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["profile"] == p)
            .unwrap_or_else(|| panic!("no judgement of {p}"))["outcome"]
            .clone()
    };
    assert_eq!(outcome("arena-max-1"), "costs");
    assert_eq!(outcome("preload-jemalloc"), "noise");
    assert_eq!(doc["thresholds"]["advice"]["min_saving_mib"], 1.0);
}

#[test]
fn the_schema_refuses_what_it_should() {
    let (_, _, tmp) = report("glibc-default", &[]);
    let path = tmp.path().join("summary.json");
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/summary.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&good));
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d);
        validator.is_valid(&d)
    };
    assert!(!broken(&|d| d["schema_version"] = Value::from(1)));
    assert!(!broken(&|d| d["points"][0]["risk"] = Value::from("SEVERE")));
    assert!(!broken(&|d| d["advice"]["kind"] = Value::from("maybe")));
    assert!(!broken(&|d| {
        d["points"][0]
            .as_object_mut()
            .unwrap()
            .remove("amplification");
    }));
}

#[test]
fn the_gates_read_what_summary_json_says() {
    for fixture in ["glibc-default", "tunables"] {
        for (level, name) in [("HIGH", "high"), ("MEDIUM", "medium")] {
            let (code, stdout, tmp) = report(fixture, &["--fail-on-risk", name]);
            let doc = valid_summary(tmp.path());
            let at_least = |r: &Value| match r.as_str() {
                Some("HIGH") => true,
                Some("MEDIUM") => level == "MEDIUM",
                _ => false,
            };
            let tripped = doc["points"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| at_least(&p["risk"]))
                .count();
            assert_eq!(
                code,
                if tripped > 0 { 3 } else { 0 },
                "{fixture} --fail-on-risk {name}: {stdout}"
            );
            let listed = stdout
                .lines()
                .filter(|l| l.contains(&format!("(--fail-on-risk {name})")))
                .count();
            assert_eq!(listed, tripped, "{fixture} --fail-on-risk {name}: {stdout}");
        }
    }
}
