//! The output location is checked before the sweep starts: a missing folder is
//! created, an unwritable or full one is refused with the flag and the path, and
//! nothing is run or left behind. Real filesystems: small tmpfs mounts (needs root).

use crate::common;

use std::path::{Path, PathBuf};

use common::*;

/// A tmpfs mounted for the test's lifetime (the temporary folder it sits in is
/// removed after the unmount).
struct Mount {
    at: PathBuf,
    _parent: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(options: &str) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("mnt");
        std::fs::create_dir(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&at)
            .status()
            .unwrap();
        assert!(ok.success(), "mounting a tmpfs needs root");
        Mount { at, _parent: dir }
    }
    fn path(&self) -> &Path {
        &self.at
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.at).status();
    }
}

const ONE: &[&str] = &[
    "--python-threads",
    "1",
    "--rust-threads",
    "1",
    "--reps",
    "1",
    "--no-install",
];

#[test]
fn a_full_filesystem_is_refused_before_anything_runs() {
    let m = Mount::tmpfs("size=64k");
    let out = m.path().join("reports");
    let o = bin().args(ONE).arg("--out").arg(&out).output().unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--out {}: only", out.display())) && stderr.contains("KiB free"),
        "{stderr}"
    );
    assert_eq!(count_entries(m.path()), 0, "nothing was created");
}

#[test]
fn an_unwritable_folder_is_refused_before_anything_runs() {
    let m = Mount::tmpfs("ro,size=16m");
    let o = bin()
        .args(ONE)
        .arg("--out")
        .arg(m.path().join("reports"))
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--out")
            && stderr.contains("is not writable")
            && stderr.contains("Read-only"),
        "{stderr}"
    );
}

#[test]
fn a_missing_folder_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a").join("b");
    let o = bin().args(ONE).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(report_dir(&out).join("results.jsonl").is_file());
}
