//! Tests of the results store: torn lines, format versions, the strings written for
//! bindings and failure kinds, the unversioned fixtures, and unique run ids.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::*;

fn record(id: &str) -> RunRecord {
    let cell = Cell {
        build: Build::Nogil,
        point: Point {
            binding: crate::model::Binding::Pyo3,
            profile: "glibc-default".into(),
            pattern: "seed".into(),
            python_threads: 2,
            rust_threads: 4,
        },
    };
    RunRecord {
        run_id: id.into(),
        ..RunRecord::for_test(cell, 0, Metrics::default())
    }
}

#[test]
fn a_torn_last_line_is_skipped_then_cut_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.jsonl");
    let mut w = ResultsWriter::open(&path).unwrap();
    w.append(&record("a")).unwrap();
    drop(w);
    // Simulate a kill in the middle of the second write.
    let full = serde_json::to_string(&record("b")).unwrap();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&full.as_bytes()[..full.len() / 2]).unwrap();
    drop(f);
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.records.len(), 1);
    assert_eq!(loaded.skipped.len(), 1);
    let mut w = ResultsWriter::open(&path).unwrap();
    w.append(&record("c")).unwrap();
    let loaded = load(&path).unwrap();
    let ids: Vec<_> = loaded.records.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert!(loaded.skipped.is_empty());
}

#[test]
fn unversioned_lines_load_and_lines_from_the_future_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.jsonl");
    let mut v1 = serde_json::to_value(record("old")).unwrap();
    v1.as_object_mut().unwrap().remove("format");
    let v2 = serde_json::to_string(&record("new")).unwrap();
    assert!(v2.starts_with(r#"{"format":3,"#), "{v2}");
    std::fs::write(&path, format!("{v1}\n{v2}\n")).unwrap();
    let loaded = load(&path).unwrap();
    let formats: Vec<u32> = loaded.records.iter().map(|r| r.format).collect();
    assert_eq!(formats, [1, 3]);
    // Appending writes the current format, whatever the record was read as.
    let mut w = ResultsWriter::open(&path).unwrap();
    w.append(&loaded.records[0]).unwrap();
    assert_eq!(load(&path).unwrap().records[2].format, 3);

    // A newer line, even one this build could parse, is refused, not skipped.
    let mut v3 = serde_json::to_value(record("future")).unwrap();
    v3["format"] = 4.into();
    std::fs::write(&path, format!("{v2}\n{v3}\n")).unwrap();
    let e = format!("{:#}", load(&path).unwrap_err());
    assert!(
        e.contains(&format!("{} line 2 has format version 4", path.display()))
            && e.contains("reads format versions 1 to 3"),
        "{e}"
    );
    // So is one whose shape changed past recognition.
    std::fs::write(&path, "{\"format\":7,\"runs\":[]}\n").unwrap();
    let e = format!("{:#}", load(&path).unwrap_err());
    assert!(e.contains("line 1 has format version 7"), "{e}");
}

#[test]
fn bindings_have_one_name_each_and_serde_writes_it() {
    assert_eq!(
        Binding::NAMES,
        ["pyo3", "pyo3-detach", "ctypes-cdll", "ctypes-pydll"]
    );
    for b in Binding::ALL {
        assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        assert_eq!(Binding::parse(b.as_str()), Some(b));
        assert_eq!(b.to_string(), b.as_str());
    }
    assert_eq!(Binding::parse("PyO3"), None);
    let held: Vec<Binding> = Binding::ALL.into_iter().filter(|b| b.holds_gil()).collect();
    assert_eq!(held, [Binding::Pyo3, Binding::CtypesPydll]);
}

#[test]
fn a_workload_binding_reads_and_writes_its_name_but_no_flag_may_give_it() {
    let w = Binding::Workload;
    assert_eq!(serde_json::to_value(w).unwrap(), "workload");
    assert_eq!(serde_json::from_str::<Binding>("\"workload\"").unwrap(), w);
    assert_eq!(w.to_string(), "workload");
    assert_eq!(Binding::parse("workload"), None);
    assert!(serde_json::from_str::<Binding>("\"cffi\"").is_err());
}

#[test]
fn bindings_sort_by_name_as_the_strings_did() {
    let mut all: Vec<Binding> = Binding::ALL.to_vec();
    all.push(Binding::Workload);
    let mut by_enum = all.clone();
    by_enum.sort();
    let mut by_name: Vec<&str> = all.iter().map(|b| b.as_str()).collect();
    by_name.sort();
    assert_eq!(
        by_enum.iter().map(|b| b.as_str()).collect::<Vec<_>>(),
        by_name
    );
    // Padding and alignment apply as they did to the name (tables use `{:<14}`).
    assert_eq!(format!("[{:<8}]", Binding::Pyo3), "[pyo3    ]");
}

#[test]
fn failure_kinds_read_and_write_the_strings_of_earlier_files() {
    // The strings results.jsonl held before the kinds were typed.
    let earlier = "gil_enabled gil_disabled thread_spawn import config workload crashed \
                   timeout max_rss protocol exit interrupted spawn harness";
    let texts: Vec<&str> = earlier.split_whitespace().collect();
    assert_eq!(texts.len(), FailureKind::ALL.len());
    for (kind, text) in FailureKind::ALL.into_iter().zip(texts) {
        assert_eq!(serde_json::to_value(kind).unwrap(), text);
        assert_eq!(kind.to_string(), text);
        let back: FailureKind = serde_json::from_value(text.into()).unwrap();
        assert_eq!(back, kind);
    }
}

#[test]
fn the_unversioned_fixtures_load() {
    for name in ["arena-max-2", "glibc-default", "tunables"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reports")
            .join(name)
            .join("results.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"format\""), "{name} is a version 1 file");
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.records.len(), text.lines().count(), "{name}");
        assert!(loaded.skipped.is_empty(), "{name}: {:?}", loaded.skipped);
        assert!(loaded.records.iter().all(|r| r.format == 1), "{name}");
    }
}

#[test]
fn run_ids_are_unique_per_cell_and_rep() {
    let r = record("x");
    assert_eq!(r.cell.run_id(2), "nogil/pyo3/glibc-default/seed/p2/r4/rep2");
}
