//! node_exporter's textfile collector mode: the metrics written to a `.prom` file
//! atomically (a temporary file in the same folder, written, synced, then renamed
//! over the file, and the folder synced), so node_exporter never reads half a file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file next to `path` (node_exporter reads only `*.prom`, so a
/// leftover one is never read).
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Write `body` to `path` atomically.
pub fn write(path: &Path, body: &str) -> std::io::Result<()> {
    let tmp = temporary(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself survives a crash once the folder is synced.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arena_sweep.prom");
        write(&path, "a 1\n").unwrap();
        write(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["arena_sweep.prom"]);
    }

    #[test]
    fn a_folder_that_does_not_exist_is_an_error_that_leaves_nothing() {
        let err = write(Path::new("/nonexistent-dir/x.prom"), "a 1\n").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
