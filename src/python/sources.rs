//! Where CPython source comes from when `pythons install` builds a pair.
//!
//! In order: a tarball the user gave (`--source-tarball`); the official source
//! tarball, downloaded with curl; the Debian source package `python3.X`, whose
//! `.orig.tar.xz` is the upstream tarball. For Debian, the mirror is read from the
//! machine's own apt configuration, apt runs with a private state folder inside the
//! cache (its own sources list, lists and archives), and no system file changes; that
//! route is `sources/debian.rs`.
//! (`uv python install`, the other route, yields ready interpreters and lives in
//! `provision/obtain.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::programs;

mod debian;

#[cfg(test)]
pub use debian::fuzz_showsrc;
pub use debian::{
    debian, debian_mirrors, machine_apt_sources, parse_deb822_sources, parse_one_line_sources,
    AptSource,
};

/// Source code ready to build.
#[derive(Debug, Clone)]
pub struct SourceTarball {
    pub path: PathBuf,
    /// Full version, e.g. "3.13.5".
    pub version: String,
    /// Where it came from, for the build record.
    pub origin: String,
}

/// "Python-3.13.5.tar.xz", "python3.13_3.13.5.orig.tar.xz" -> "3.13.5".
pub fn version_from_tarball_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rest = name
        .strip_prefix("Python-")
        .or_else(|| name.split_once('_').map(|(_, r)| r))?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let version = version.trim_end_matches('.');
    let parts: Vec<&str> = version.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|p| !p.is_empty())).then(|| version.to_string())
}

/// True when `full` (3.13.5) satisfies `wanted` (3.13 or 3.13.5).
pub fn version_matches(wanted: &str, full: &str) -> bool {
    full == wanted || full.starts_with(&format!("{wanted}."))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Run `cmd` to its end, with its command line and output in `log`; killed after
/// `timeout`.
fn run_logged(
    cmd: &mut Command,
    timeout: Duration,
    log: &mut std::fs::File,
) -> Result<std::process::Output> {
    Ok(programs::Run::new(cmd, timeout).log(log).output()?)
}

// ---------------------------------------------------------------- official tarball

const OFFICIAL_BASE: &str = "https://www.python.org/ftp/python";

/// Download the official tarball for `wanted` into `downloads`.
pub fn official(wanted: &str, downloads: &Path, log: &mut std::fs::File) -> Result<SourceTarball> {
    let curl = which::which_global("curl").context("curl is not installed")?;
    let version = if wanted.split('.').count() == 3 {
        wanted.to_string()
    } else {
        // Pick the newest release of the minor version from the index listing.
        let out = run_logged(
            Command::new(&curl).args([
                "-fsSL",
                "--connect-timeout",
                "10",
                "--max-time",
                "60",
                &format!("{OFFICIAL_BASE}/"),
            ]),
            Duration::from_secs(120),
            log,
        )?;
        if !out.status.success() {
            bail!(
                "the official download index could not be fetched (curl exit {})",
                out.status.code().unwrap_or(-1)
            );
        }
        newest_in_index(&String::from_utf8_lossy(&out.stdout), wanted)
            .with_context(|| format!("the official index lists no release of {wanted}"))?
    };
    let file = downloads.join(format!("Python-{version}.tar.xz"));
    let part = downloads.join(format!("Python-{version}.tar.xz.part"));
    let url = format!("{OFFICIAL_BASE}/{version}/Python-{version}.tar.xz");
    let out = run_logged(
        Command::new(&curl)
            .args([
                "-fsSL",
                "--connect-timeout",
                "10",
                "--max-time",
                "900",
                "-o",
            ])
            .arg(&part)
            .arg(&url),
        Duration::from_secs(960),
        log,
    )?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&part);
        bail!(
            "downloading {url} failed (curl exit {})",
            out.status.code().unwrap_or(-1)
        );
    }
    std::fs::rename(&part, &file)?;
    Ok(SourceTarball {
        path: file,
        version,
        origin: format!("official tarball {url}"),
    })
}

/// The newest `X.Y.Z/` directory in an index page for `X.Y`.
fn newest_in_index(html: &str, minor: &str) -> Option<String> {
    let prefix = format!("href=\"{minor}.");
    html.match_indices(&prefix)
        .filter_map(|(i, _)| {
            let rest = &html[i + 6..];
            let end = rest.find('/')?;
            let v = &rest[..end];
            let parts: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
            parts.filter(|p| p.len() == 3).map(|p| (p, v.to_string()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests;
