//! The extension installed from a prebuilt wheel (`arena_poc-<version>-<tags>.whl`).
//!
//! Wheel folders, in order: `--ext-wheels DIR` (or `ARENA_SWEEP_WHEELS`), then
//! `<prefix>/share/arena-sweep/wheels` next to this executable, where the arena-sweep
//! wheel puts the extension wheels it carries (`<venv>/bin/arena-sweep` ->
//! `<venv>/share/arena-sweep/wheels`). Only wheels whose version is this binary's
//! [`wheel_version`] are candidates; among them the target interpreter's own pip picks
//! the one whose tags fit (`pip install --no-index --no-deps --target`), so the tag
//! rules are pip's, not a copy of them. The install goes to a temporary folder in the
//! cache that is renamed into place, complete with its `build.json`, so concurrent runs
//! (array tasks sharing a cache) never see half an install.
//!
//! maturin lays a pure-Rust extension out as a package, `arena_poc/__init__.py`
//! re-exporting `arena_poc/arena_poc<EXT_SUFFIX>`. The run puts that inner folder on
//! `sys.path`, so `import arena_poc` loads the shared object itself, exactly as for a
//! source build, and the measured process imports nothing more.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{key_parts, source_hash, wheel_version, ExtBuild, Origin, Variant, WheelRef};
use crate::paths::{cache_dir, hash_parts};
use crate::programs;
use crate::python::inspect::Interpreter;

/// The distribution name in wheel file names.
const DIST: &str = "arena_poc";

/// `<prefix>/share/arena-sweep/wheels` for this executable's `<prefix>/bin`.
pub fn installed_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let prefix = exe.parent()?.parent()?;
    Some(prefix.join("share").join("arena-sweep").join("wheels"))
}

/// The wheel folders to search: the explicit one (which must exist), then the
/// installed one if it exists.
pub fn dirs(explicit: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if let Some(d) = explicit {
        if !d.is_dir() {
            return Err(crate::error::usage(format!(
                "--ext-wheels {}: no such folder",
                d.display()
            )));
        }
        dirs.push(d.to_path_buf());
    }
    if let Some(d) = installed_dir().filter(|d| d.is_dir()) {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    Ok(dirs)
}

/// (distribution, version) from a wheel file name, or None if it is not one.
fn name_and_version(file: &str) -> Option<(&str, &str)> {
    let stem = file.strip_suffix(".whl")?;
    let mut parts = stem.split('-');
    let (name, version) = (parts.next()?, parts.next()?);
    // python tag, abi tag, platform tag (and an optional build tag before them).
    (parts.count() >= 3).then_some((name, version))
}

/// The extension wheels in `dir`, as (file name, version).
fn extension_wheels(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let (name, version) = name_and_version(&file)?;
            (name.eq_ignore_ascii_case(DIST) || name.eq_ignore_ascii_case("arena-poc"))
                .then(|| (file.clone(), version.to_string()))
        })
        .collect();
    found.sort();
    found
}

/// "%2B" -> "+" and the like, for the file URL pip reports.
fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The wheel pip installed, from its `--report` JSON: (file name, sha256).
fn installed_wheel(report: &serde_json::Value) -> Option<(String, String)> {
    let info = &report["install"].as_array()?.first()?["download_info"];
    let url = info["url"].as_str()?;
    let file = percent_decode(url.rsplit('/').next()?);
    let sha = info["archive_info"]["hashes"]["sha256"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            info["archive_info"]["hash"]
                .as_str()?
                .strip_prefix("sha256=")
                .map(str::to_string)
        })
        .unwrap_or_default();
    Some((file, sha))
}

/// The first `ERROR:` line pip printed (its reason), or its last line.
fn pip_reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .find(|l| l.starts_with("ERROR:"))
        .or(lines.last())
        .map(|l| l.trim_start_matches("ERROR:").trim().to_string())
        .unwrap_or_else(|| "pip exited with an error".into())
}

/// The wheel install for `interp` and `variant`: from the cache, or installed now from
/// the first folder in `dirs` that holds a wheel of these sources. `Ok(Err(why))` when
/// no wheel can be used, with the reason (the caller decides whether to build instead).
pub fn ensure(
    interp: &Interpreter,
    variant: Variant,
    dirs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<std::result::Result<ExtBuild, String>> {
    let root = cache_dir()?;
    let src_hash = source_hash();
    let mut parts = key_parts(&src_hash, interp, variant);
    parts.push("wheel".into());
    let key = hash_parts(&parts);
    let dir = root.join("ext").join(&key[..16]);
    if let Some(b) = read_record(&dir) {
        return Ok(Ok(b));
    }
    let want = wheel_version();
    let from = match wheel_folder(dirs, &want) {
        Ok(from) => from,
        Err(why) => return Ok(Err(why)),
    };

    std::fs::create_dir_all(root.join("ext"))?;
    let tmp = root
        .join("ext")
        .join(format!(".wheel-{}.{}.tmp", &key[..16], std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let so_name = format!("arena_poc{}", interp.ext_suffix);
    let (file, sha256) = match pip_install(interp, from, &tmp, &want, &so_name)? {
        Ok(installed) => installed,
        Err(why) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(Err(why));
        }
    };
    let b = ExtBuild {
        dir: dir.join(DIST),
        file: dir.join(DIST).join(&so_name),
        variant,
        build_hash: key,
        source_hash: src_hash,
        interpreter: interp.executable.clone(),
        rustc: None,
        origin: Origin::Wheel,
        wheel: Some(WheelRef {
            file: file.clone(),
            dir: from.clone(),
            sha256,
        }),
    };
    std::fs::write(tmp.join("build.json"), serde_json::to_vec_pretty(&b)?)?;
    if let Some(theirs) = move_into_place(&tmp, &dir)? {
        return Ok(Ok(theirs));
    }
    writeln!(
        out,
        "Installed the PoC extension ({}) for {} from wheel {file}",
        variant.as_str(),
        interp.label()
    )?;
    Ok(Ok(b))
}

/// The first of `dirs` that holds a wheel of version `want`, or why none does.
fn wheel_folder<'a>(dirs: &'a [PathBuf], want: &str) -> std::result::Result<&'a PathBuf, String> {
    if dirs.is_empty() {
        let looked =
            installed_dir().map_or_else(String::new, |d| format!(" (looked in {})", d.display()));
        return Err(format!(
            "no extension wheels were found{looked}; give a folder with --ext-wheels"
        ));
    }
    let Some(from) = dirs
        .iter()
        .find(|d| extension_wheels(d).iter().any(|(_, v)| *v == want))
    else {
        let others: Vec<String> = dirs
            .iter()
            .flat_map(|d| extension_wheels(d))
            .map(|(_, v)| v)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let folders = dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(if others.is_empty() {
            format!("no arena_poc wheel in {folders}")
        } else {
            format!(
                "the arena_poc wheels in {folders} were built from other extension sources ({}), not this arena-sweep's ({want})",
                others.join(", ")
            )
        });
    };
    Ok(from)
}

/// Install the wheel of version `want` from `from` into `tmp` with the interpreter's own
/// pip: (file name, sha256) of the wheel pip chose, or why none fits or it lacks `so_name`.
fn pip_install(
    interp: &Interpreter,
    from: &Path,
    tmp: &Path,
    want: &str,
    so_name: &str,
) -> Result<std::result::Result<(String, String), String>> {
    let report_path = tmp.join(".pip-report.json");
    let mut pip = Command::new(&interp.executable);
    pip.args(["-I", "-m", "pip", "--isolated", "install"])
        .args(["--no-index", "--no-deps", "--no-cache-dir", "--no-compile"])
        .args([
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "--quiet",
        ])
        .arg("--find-links")
        .arg(from)
        .arg("--target")
        .arg(tmp)
        .arg("--report")
        .arg(&report_path)
        .arg(format!("{DIST}=={want}"));
    let output = programs::Run::new(&mut pip, Duration::from_secs(300))
        .name(format!("{} -m pip install", interp.executable.display()))
        .output()
        .context("installing the extension wheel")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = if stderr.contains("No module named pip") {
            format!(
                "{} has no pip to install a wheel with",
                interp.executable.display()
            )
        } else {
            format!(
                "no wheel in {} fits {} ({}): {}",
                from.display(),
                interp.label(),
                interp.ext_suffix,
                pip_reason(&stderr)
            )
        };
        return Ok(Err(why));
    }
    let report: serde_json::Value = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&report_path);
    let (file, sha256) =
        installed_wheel(&report).unwrap_or_else(|| ("(unknown)".into(), String::new()));
    if !tmp.join(DIST).join(so_name).is_file() {
        return Ok(Err(format!(
            "pip installed {file}, but it holds no {DIST}/{so_name} for {}",
            interp.label()
        )));
    }
    Ok(Ok((file, sha256)))
}

/// Rename the finished install `tmp` to `dir`. Another run's complete install already
/// there wins and is returned (`tmp` is dropped); a broken folder in the way is replaced.
fn move_into_place(tmp: &Path, dir: &Path) -> Result<Option<ExtBuild>> {
    match std::fs::rename(tmp, dir) {
        Ok(()) => {}
        // Another run installed it first (or a broken folder is in the way: replace it).
        Err(_) => {
            if let Some(theirs) = read_record(dir) {
                let _ = std::fs::remove_dir_all(tmp);
                return Ok(Some(theirs));
            }
            let _ = std::fs::remove_dir_all(dir);
            std::fs::rename(tmp, dir)
                .with_context(|| format!("cannot move the install into {}", dir.display()))?;
        }
    }
    Ok(None)
}

/// A complete install in `dir` (its build.json, and the file it names).
fn read_record(dir: &Path) -> Option<ExtBuild> {
    let b: ExtBuild = serde_json::from_slice(&std::fs::read(dir.join("build.json")).ok()?).ok()?;
    b.file.is_file().then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_file_names() {
        assert_eq!(
            name_and_version("arena_poc-0.1.0+src0123abcd-cp313-cp313t-manylinux_2_34_x86_64.whl"),
            Some(("arena_poc", "0.1.0+src0123abcd"))
        );
        assert_eq!(
            name_and_version("arena_poc-0.1.0-1-cp313-cp313-manylinux_2_34_x86_64.whl"),
            Some(("arena_poc", "0.1.0"))
        );
        assert_eq!(name_and_version("arena_poc-0.1.0.tar.gz"), None);
        assert_eq!(name_and_version("arena_poc-0.1.0-cp313.whl"), None);
    }

    #[test]
    fn pip_report_gives_the_wheel_and_its_hash() {
        let report = serde_json::json!({"install": [{"download_info": {
            "url": "file:///w/arena_poc-0.1.0%2Bsrc00ff-cp313-cp313t-manylinux_2_34_x86_64.whl",
            "archive_info": {"hash": "sha256=abc", "hashes": {"sha256": "abc"}}}}]});
        assert_eq!(
            installed_wheel(&report),
            Some((
                "arena_poc-0.1.0+src00ff-cp313-cp313t-manylinux_2_34_x86_64.whl".into(),
                "abc".into()
            ))
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%2b%é"), "+%é");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn pip_reason_is_its_first_error_line() {
        let stderr = "WARNING: x\nERROR: Could not find a version that satisfies the requirement arena_poc==1 (from versions: none)\nERROR: No matching distribution found for arena_poc==1\n";
        assert_eq!(
            pip_reason(stderr),
            "Could not find a version that satisfies the requirement arena_poc==1 (from versions: none)"
        );
        assert_eq!(pip_reason(""), "pip exited with an error");
    }
}
