//! `pythons install X.Y[.Z]`: provision a matched GIL + free-threaded CPython pair.
//!
//! The same source is built twice with identical configure flags, once with
//! `--disable-gil`, into `<cache>/pythons/cpython-<version>-{gil,nogil}`. Sources are
//! tried in order: `--source-tarball`, `uv python install` (ready-made interpreters,
//! no build), the official tarball, the Debian source package (see `sources.rs`).
//! Each build writes a log under `<cache>/logs`, is verified with
//! `sys._is_gil_enabled()`, and is marked complete with a stamp file; only stamped
//! folders count, so a build interrupted half-way is redone and a finished one makes
//! re-runs instant.
//!
//! This file holds the cache layout and the order of the steps; getting a source (or
//! uv's pair) is `obtain.rs`, building, verifying and stamping one interpreter is
//! `build.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::discover::Pair;
use super::inspect::{inspect, Build};
use super::sources::{self, SourceTarball};
use crate::error::usage;

mod build;
mod obtain;

use build::{build_stamped, check_build_tools, extract};
use obtain::{obtain, tarball_version, Obtained};

const STAMP: &str = ".arena-sweep-build.json";

/// Configure flags shared by both builds; `--disable-gil` is added for nogil.
const CONFIGURE_FLAGS: &[&str] = &["--with-ensurepip=install"];

pub use crate::model::{SourceKind, DEFAULT_SOURCES};

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// "3.13" or "3.13.5".
    pub version: String,
    pub source_tarball: Option<PathBuf>,
    pub sources: Vec<SourceKind>,
    pub jobs: usize,
    /// Rebuild even when a complete pair is cached.
    pub force: bool,
}

/// What the stamp of a finished build records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildStamp {
    pub version: String,
    pub build: Build,
    pub origin: String,
    pub source_sha256: String,
    pub configure_flags: Vec<String>,
    pub log: PathBuf,
    pub built_at_unix_s: u64,
}

/// A prefix holds a finished, verified build.
pub fn is_complete(prefix: &Path) -> bool {
    prefix.join(STAMP).is_file()
}

/// Check the requested version: "3.13" or "3.13.5", at least 3.13.
pub fn parse_version(v: &str) -> Result<String> {
    let parts: Vec<&str> = v.split('.').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums {
        Some(n) if (2..=3).contains(&n.len()) && n[0] == 3 && n[1] >= 13 => Ok(v.to_string()),
        Some(n) if (2..=3).contains(&n.len()) => Err(usage(format!(
            "Python {v} has no free-threaded build; install 3.13 or newer, e.g. `arena-sweep pythons install 3.13`"
        ))),
        _ => Err(usage(format!("`{v}` is not a Python version; give X.Y or X.Y.Z, e.g. 3.13 or 3.13.5"))),
    }
}

fn prefix_for(cache: &Path, version: &str, build: Build) -> PathBuf {
    cache
        .join("pythons")
        .join(format!("cpython-{version}-{build}"))
}

fn binary_in(prefix: &Path, version: &str, build: Build) -> PathBuf {
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let t = if build == Build::Nogil { "t" } else { "" };
    prefix.join("bin").join(format!("python{minor}{t}"))
}

fn configure_flags(prefix: &Path, build: Build) -> Vec<String> {
    let mut flags = vec![format!("--prefix={}", prefix.display())];
    flags.extend(CONFIGURE_FLAGS.iter().map(|s| s.to_string()));
    if build == Build::Nogil {
        flags.push("--disable-gil".into());
    }
    flags
}

/// The newest complete cached pair whose version satisfies `wanted`.
pub fn cached_pair(cache: &Path, wanted: &str) -> Option<(String, PathBuf, PathBuf)> {
    let entries = std::fs::read_dir(cache.join("pythons")).ok()?;
    let mut versions: Vec<(Vec<u32>, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v = name
                .strip_prefix("cpython-")?
                .strip_suffix("-gil")?
                .to_string();
            let key = v
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, v))
        })
        .filter(|(_, v)| sources::version_matches(wanted, v))
        .collect();
    versions.sort();
    versions.into_iter().rev().find_map(|(_, v)| {
        let (g, n) = (
            prefix_for(cache, &v, Build::Gil),
            prefix_for(cache, &v, Build::Nogil),
        );
        (is_complete(&g) && is_complete(&n)).then(|| {
            (
                v.clone(),
                binary_in(&g, &v, Build::Gil),
                binary_in(&n, &v, Build::Nogil),
            )
        })
    })
}

fn pair_from(gil: &Path, nogil: &Path) -> Result<Pair> {
    let (gil, nogil) = (inspect(gil)?, inspect(nogil)?);
    let matched = gil.version == nogil.version
        && gil.normalized_config_args() == nogil.normalized_config_args();
    Ok(Pair {
        gil,
        nogil,
        matched,
    })
}

/// Provision a pair (or find the one already provisioned) and return it.
pub fn install(opts: &InstallOptions, out: &mut dyn Write) -> Result<Pair> {
    let wanted = parse_version(&opts.version)?;
    let cache = crate::paths::cache_dir()?;
    for d in ["pythons", "logs", "downloads", "src", "build"] {
        std::fs::create_dir_all(cache.join(d))
            .with_context(|| format!("cannot create {}", cache.join(d).display()))?;
    }
    let tarball_version = tarball_version(opts, &wanted)?;
    if !opts.force {
        let key = tarball_version.as_deref().unwrap_or(&wanted);
        if let Some((v, g, n)) = cached_pair(&cache, key) {
            writeln!(
                out,
                "CPython {v} pair already built in {}",
                cache.join("pythons").display()
            )?;
            return pair_from(&g, &n);
        }
    }

    let log_path = cache.join("logs").join(format!("install-{wanted}.log"));
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    let source = match &opts.source_tarball {
        Some(t) => SourceTarball {
            path: t.clone(),
            version: tarball_version.clone().unwrap_or_default(),
            origin: format!("--source-tarball {}", t.display()),
        },
        None => match obtain(opts, &wanted, &cache, &mut log, &log_path, out)? {
            Obtained::Pair(pair) => return Ok(*pair),
            Obtained::Source(source) => source,
        },
    };
    check_build_tools()?;
    let sha = sources::sha256_file(&source.path)?;
    writeln!(out, "Source: {} ({})", source.path.display(), source.origin)?;
    let src_root = extract(&source, &cache.join("src"), &mut log)?;
    let mut built = Vec::new();
    for (i, build) in Build::BOTH.into_iter().enumerate() {
        let step = format!("[{}/2]", i + 1);
        built.push(build_stamped(
            opts, &cache, &source, &sha, &src_root, build, &step, out,
        )?);
    }
    pair_from(&built[0], &built[1])
}

#[cfg(test)]
mod tests;
