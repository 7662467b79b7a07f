//! Where profile and matrix files are found: by name in the `tunables`/`matrices`
//! folders (with a "did you mean" for a near miss), or by path; and which names they
//! may have.

use std::path::{Path, PathBuf};

use strsim::levenshtein;

use crate::located::PlanError;

/// Where profiles (folder `tunables`) or matrices (folder `matrices`) are looked up:
/// the folder under the current directory, then `<prefix>/share/arena-sweep/<folder>`
/// next to this executable's `<prefix>/bin` (where the arena-sweep wheel installs them,
/// for a copy whose source tree is gone), then the one in arena-sweep's source tree.
pub fn default_dirs(folder: &str) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(folder)];
    let installed = std::env::current_exe().ok().and_then(|exe| {
        let prefix = exe.parent()?.parent()?;
        Some(prefix.join("share").join("arena-sweep").join(folder)).filter(|d| d.is_dir())
    });
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    for d in installed.into_iter().chain([built_in]) {
        if !dirs.iter().any(|known| same(known, &d)) {
            dirs.push(d);
        }
    }
    dirs
}

/// The file for `name` in `dirs`, or the path itself; the error lists what exists.
pub(crate) fn find_named_file(
    what: &str,
    name: &str,
    dirs: &[PathBuf],
) -> Result<PathBuf, PlanError> {
    if name.ends_with(".toml") || name.contains('/') {
        let path = PathBuf::from(name);
        if path.is_file() {
            return Ok(path);
        }
        // No file to point at: the caller says where the name was written.
        return Err(PlanError::new(format!(
            "no such {what} file: {}",
            path.display()
        )));
    }
    if let Err(msg) = check_name(name) {
        return Err(PlanError::new(format!(
            "{what} `{}`: {msg}",
            name.escape_default()
        )));
    }
    if let Some(path) = dirs
        .iter()
        .map(|d| d.join(format!("{name}.toml")))
        .find(|p| p.is_file())
    {
        return Ok(path);
    }
    let known = names_in(dirs);
    let near = known
        .iter()
        .filter(|k| levenshtein(name, k) <= 2)
        .min_by_key(|k| levenshtein(name, k));
    let hint = near
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(PlanError::new(format!(
        "unknown {what} `{name}`{hint} (looked in {}; found: {})",
        searched.join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// The `*.toml` names in `dirs`, sorted, without duplicates.
pub(super) fn names_in(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".toml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Profile and matrix names: they label cells, heatmap files and report folders.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_rest = name.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
    });
    if !(ok_start && ok_rest) || name.len() > 64 {
        return Err("names are 1 to 64 lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit".into());
    }
    Ok(())
}
