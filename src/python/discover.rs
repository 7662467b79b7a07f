//! Find GIL and free-threaded CPython 3.13+ interpreters and choose a matched pair.
//!
//! Places are searched in this order, and the first matched pair wins:
//! 1. `--python-gil` / `--python-nogil`;
//! 2. `ARENA_SWEEP_PYTHON_GIL` / `ARENA_SWEEP_PYTHON_NOGIL`;
//! 3. `uv python find 3.X` and `3.Xt`, when uv is on PATH;
//! 4. `python3.X` / `python3.Xt` on PATH (pyenv shims are skipped: step 5 sees through them);
//! 5. pyenv's versions folder (`$PYENV_ROOT` or `~/.pyenv`);
//! 6. interpreters arena-sweep built into its cache (`pythons install`).
//!
//! A matched pair is one GIL and one free-threaded build of the same version; when
//! several exist, one whose configure flags agree (apart from `--disable-gil`) wins.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::inspect::{check_supported, inspect, Build, Interpreter};
use crate::error::usage;
use crate::programs::{self, ProgramError};

/// Minor versions searched for by name (python3.13 ... python3.16).
const MINORS: std::ops::RangeInclusive<u32> = 13..=16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Uv,
    Path,
    Pyenv,
    Cache,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Uv => "uv",
            Source::Path => "PATH",
            Source::Pyenv => "pyenv",
            Source::Cache => "cache",
        })
    }
}

/// One place an interpreter was looked for, and what was found there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub source: Source,
    pub path: PathBuf,
    /// The interpreter, or why it cannot be used.
    pub found: std::result::Result<Interpreter, String>,
}

/// A GIL build and a free-threaded build to compare.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub gil: Interpreter,
    pub nogil: Interpreter,
    /// Same version and the same configure flags apart from `--disable-gil`.
    pub matched: bool,
}

impl Pair {
    pub fn get(&self, build: Build) -> &Interpreter {
        match build {
            Build::Gil => &self.gil,
            Build::Nogil => &self.nogil,
        }
    }
}

/// Explicit choices from flags or the environment.
#[derive(Debug, Clone, Default)]
pub struct Explicit {
    pub gil: Option<(PathBuf, &'static str)>,
    pub nogil: Option<(PathBuf, &'static str)>,
}

impl Explicit {
    /// Flags win over the environment variables.
    pub fn new(flag_gil: Option<PathBuf>, flag_nogil: Option<PathBuf>) -> Self {
        let env = |name: &'static str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), name))
        };
        Explicit {
            gil: flag_gil
                .map(|p| (p, "--python-gil"))
                .or_else(|| env("ARENA_SWEEP_PYTHON_GIL")),
            nogil: flag_nogil
                .map(|p| (p, "--python-nogil"))
                .or_else(|| env("ARENA_SWEEP_PYTHON_NOGIL")),
        }
    }
}

/// `dir/name`, if it is an executable file. By its mode bits, not access(2): access
/// checks with the real uid and drops capabilities for a non-root one, so a sweep run
/// as another user with CAP_DAC_READ_SEARCH (reading root's cache) would find no
/// interpreter although it can run them.
fn executable_in(dir: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    let m = std::fs::metadata(&p).ok()?;
    (m.is_file() && m.permissions().mode() & 0o111 != 0).then_some(p)
}

fn names() -> Vec<String> {
    // The free-threaded name first: in a free-threaded prefix `python3.13` is a hard
    // link to `python3.13t`, and the `t` name is the one users recognise.
    MINORS
        .flat_map(|m| [format!("python3.{m}t"), format!("python3.{m}")])
        .collect()
}

fn uv_candidates() -> Vec<PathBuf> {
    let Ok(uv) = which::which_global("uv") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in MINORS {
        for req in [format!("3.{m}"), format!("3.{m}t")] {
            let found = programs::run(
                Command::new(&uv).args(["python", "find", "--no-project", &req]),
                Duration::from_secs(20),
            );
            match found {
                Ok(o) if o.status.success() => {
                    let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    if !p.is_empty() {
                        out.push(PathBuf::from(p));
                    }
                }
                Err(ProgramError::Start { .. }) => return out,
                _ => {}
            }
        }
    }
    out
}

fn path_candidates() -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in std::env::split_paths(&path) {
        // pyenv shims only forward to a version; the pyenv step finds those directly,
        // and a shim for an inactive version fails instead of running.
        if dir.ends_with("shims") {
            continue;
        }
        out.extend(names().iter().filter_map(|n| executable_in(&dir, n)));
    }
    out
}

fn versions_bins(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let bin = d.join("bin");
        out.extend(names().iter().filter_map(|n| executable_in(&bin, n)));
    }
    out
}

fn pyenv_candidates() -> Vec<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".pyenv")));
    root.map(|r| versions_bins(&r.join("versions")))
        .unwrap_or_default()
}

fn cache_candidates() -> Vec<PathBuf> {
    let Ok(cache) = crate::paths::cache_dir() else {
        return Vec::new();
    };
    versions_bins(&cache.join("pythons"))
        .into_iter()
        .filter(|p| {
            p.parent()
                .and_then(Path::parent)
                .is_some_and(super::provision::is_complete)
        })
        .collect()
}

fn inspect_supported(path: &Path) -> std::result::Result<Interpreter, String> {
    let interp = inspect(path).map_err(|e| format!("{e:#}"))?;
    check_supported(&interp).map_err(|e| format!("{e:#}"))?;
    Ok(interp)
}

/// Every interpreter found in places 3 to 6, in search order, without duplicates.
pub fn search() -> Vec<Candidate> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut out = Vec::new();
    type Finder = fn() -> Vec<PathBuf>;
    let places: [(Source, Finder); 4] = [
        (Source::Uv, uv_candidates),
        (Source::Path, path_candidates),
        (Source::Pyenv, pyenv_candidates),
        (Source::Cache, cache_candidates),
    ];
    for (source, find) in places {
        for path in find() {
            // Hard links (python3.13 / python3.13t in one prefix) and symlinks are one file.
            let key = std::fs::metadata(&path).map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            });
            if key.as_ref().is_ok_and(|k| !seen.insert(*k)) {
                continue;
            }
            let found = inspect_supported(&path);
            out.push(Candidate {
                source,
                path,
                found,
            });
        }
    }
    out
}

/// Inspect an explicit choice; it must be a supported interpreter of the right build.
fn explicit(path: &Path, what: &str, want: Build) -> Result<Interpreter> {
    let interp = inspect(path).map_err(|e| usage(format!("{what}: {e:#}")))?;
    check_supported(&interp).map_err(|e| usage(format!("{what}: {e:#}")))?;
    if interp.build() != want {
        let (is, other) = match want {
            Build::Gil => ("a free-threaded (nogil) build", "--python-nogil"),
            Build::Nogil => ("a GIL build", "--python-gil"),
        };
        return Err(usage(format!(
            "{what} {} is {is} of Python {}; pass it as {other}, and give {what} a {} build",
            path.display(),
            interp.version,
            if want == Build::Gil {
                "GIL"
            } else {
                "free-threaded"
            }
        )));
    }
    Ok(interp)
}

fn is_matched(gil: &Interpreter, nogil: &Interpreter) -> bool {
    gil.version == nogil.version && gil.normalized_config_args() == nogil.normalized_config_args()
}

/// Choose the partner for `fixed` among `found`: same version first, matched flags first.
fn partner<'a>(
    fixed: &Interpreter,
    want: Build,
    found: &'a [Interpreter],
) -> Option<&'a Interpreter> {
    let same_version = || {
        found
            .iter()
            .filter(move |i| i.build() == want && i.version == fixed.version)
    };
    same_version()
        .find(|i| match want {
            Build::Nogil => is_matched(fixed, i),
            Build::Gil => is_matched(i, fixed),
        })
        .or_else(|| same_version().next())
}

/// Resolve the pair to compare: explicit choices first, then the search.
/// `Ok(None)` means no pair was found (the caller may provision one).
pub fn resolve(explicit_choice: &Explicit, candidates: &[Candidate]) -> Result<Option<Pair>> {
    let gil = explicit_choice
        .gil
        .as_ref()
        .map(|(p, what)| explicit(p, what, Build::Gil))
        .transpose()?;
    let nogil = explicit_choice
        .nogil
        .as_ref()
        .map(|(p, what)| explicit(p, what, Build::Nogil))
        .transpose()?;
    let found: Vec<Interpreter> = candidates
        .iter()
        .filter_map(|c| c.found.as_ref().ok().cloned())
        .collect();
    let pair = match (gil, nogil) {
        (Some(gil), Some(nogil)) => Some((gil, nogil)),
        (Some(gil), None) => {
            let nogil = partner(&gil, Build::Nogil, &found).cloned().ok_or_else(|| {
                usage(format!(
                    "no free-threaded build of Python {} was found to pair with {}; pass --python-nogil, or run `arena-sweep pythons install {}`",
                    gil.version,
                    gil.path.display(),
                    gil.version
                ))
            })?;
            Some((gil, nogil))
        }
        (None, Some(nogil)) => {
            let gil = partner(&nogil, Build::Gil, &found).cloned().ok_or_else(|| {
                usage(format!(
                    "no GIL build of Python {} was found to pair with {}; pass --python-gil, or run `arena-sweep pythons install {}`",
                    nogil.version,
                    nogil.path.display(),
                    nogil.version
                ))
            })?;
            Some((gil, nogil))
        }
        (None, None) => found
            .iter()
            .filter(|i| i.build() == Build::Gil)
            .find_map(|g| partner(g, Build::Nogil, &found).map(|n| (g.clone(), n.clone()))),
    };
    Ok(pair.map(|(gil, nogil)| Pair {
        matched: is_matched(&gil, &nogil),
        gil,
        nogil,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(path: &str, version: &str, nogil: bool, flags: &str) -> Interpreter {
        let v: Vec<u32> = version.split('.').map(|x| x.parse().unwrap()).collect();
        Interpreter {
            path: path.into(),
            executable: path.into(),
            version: version.into(),
            version_info: (v[0], v[1], v[2]),
            implementation: "cpython".into(),
            gil_disabled: nogil,
            ext_suffix: ".so".into(),
            libc: "glibc 2.36".into(),
            config_args: flags.into(),
        }
    }

    fn cand(i: Interpreter) -> Candidate {
        Candidate {
            source: Source::Path,
            path: i.path.clone(),
            found: Ok(i),
        }
    }

    #[test]
    fn first_gil_with_a_same_version_partner_wins() {
        let cands = vec![
            cand(interp("/pyenv/3.13.0", "3.13.0", false, "")),
            cand(interp("/cache/gil", "3.13.5", false, "'--a'")),
            cand(interp(
                "/cache/nogil-other",
                "3.13.5",
                true,
                "'--b' '--disable-gil'",
            )),
            cand(interp(
                "/cache/nogil",
                "3.13.5",
                true,
                "'--a' '--disable-gil'",
            )),
        ];
        let pair = resolve(&Explicit::default(), &cands).unwrap().unwrap();
        assert_eq!(pair.gil.path, PathBuf::from("/cache/gil"));
        assert_eq!(
            pair.nogil.path,
            PathBuf::from("/cache/nogil"),
            "the matched configure flags win"
        );
        assert!(pair.matched);
    }

    #[test]
    fn no_pair_is_none() {
        let cands = vec![cand(interp("/pyenv/3.13.0", "3.13.0", false, ""))];
        assert!(resolve(&Explicit::default(), &cands).unwrap().is_none());
    }
}
