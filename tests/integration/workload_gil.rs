//! A workload that imports an extension module without free-threading support: the
//! free-threaded interpreter turns the GIL back on to load it, and the run is refused
//! as a GIL measurement (the sweep stops), naming the module (from CPython's own
//! RuntimeWarning) in the run's failure, the error and the report's summary.md. The module is real: `tests/progs/gil_module.c`,
//! built here with gcc against each interpreter's own headers.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `sysconfig.get_config_var(name)` of `python`.
fn config_var(python: &Path, name: &str) -> String {
    let out = Command::new(python)
        .args([
            "-I",
            "-c",
            &format!("import sysconfig; print(sysconfig.get_config_var({name:?}))"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {out:?}", python.display());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Build tests/progs/gil_module.c for `python` into `dir`.
fn build_module(python: &Path, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs/gil_module.c");
    let out = dir.join(format!(
        "gil_needing_module{}",
        config_var(python, "EXT_SUFFIX")
    ));
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(config_var(python, "INCLUDEPY"))
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run gcc ({e}); scripts/setup-debian.sh installs the C toolchain")
        });
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}

#[test]
fn a_module_that_turns_the_gil_back_on_is_named() {
    let (gil, nogil) = pair();
    let dir = tempfile::tempdir().unwrap();
    build_module(&gil, dir.path());
    build_module(&nogil, dir.path());
    let workload = dir.path().join("imports_gil_module.py");
    std::fs::write(
        &workload,
        "import os, sys\n\
         sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n\
         import gil_needing_module\n\n\
         def call(rust_threads, worker_id, iteration):\n    return gil_needing_module.answer()\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = bin()
        .args([
            "--python-threads",
            "1",
            "--rust-threads",
            "2",
            "--reps",
            "1",
            "--iterations",
            "2",
            "--no-install",
            "--workload",
        ])
        .arg(&workload)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    // A run on the wrong build stops the sweep (every later run would measure a GIL
    // build), with the driver's message, which names the module.
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    let named = "CPython turned it back on to load module 'gil_needing_module'";
    assert!(stderr.contains(named), "{stderr}");
    let folder = report_dir(&out);
    let recs = records(&folder);
    let nogil = recs
        .iter()
        .find(|r| r["build"] == "nogil")
        .unwrap_or_else(|| panic!("no nogil record in {recs:?}"));
    assert_eq!(nogil["failure"]["kind"], "gil_enabled", "{nogil}");
    let message = nogil["failure"]["message"].as_str().unwrap();
    assert!(message.contains(named), "{message}");
    // The report rendered from the folder says so too.
    let o = bin().arg("report").arg(&folder).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let summary = std::fs::read_to_string(folder.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Failed runs")
            && summary.contains("| nogil | gil_enabled | 1 |")
            && summary.contains(r"load module 'gil\_needing\_module'"),
        "{summary}"
    );
}
