//! Where the pair comes from when it is not cached: the version in
//! `--source-tarball`'s name, then the sources in the order asked for, uv's ready-made
//! interpreters or a source tarball (official or Debian, see `sources.rs`) to build.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::super::discover::Pair;
use super::super::sources::{self, SourceTarball};
use super::{pair_from, InstallOptions, SourceKind};
use crate::error::usage;
use crate::programs;

/// The version in `--source-tarball`'s name, checked against the one asked for.
pub(super) fn tarball_version(opts: &InstallOptions, wanted: &str) -> Result<Option<String>> {
    let Some(t) = &opts.source_tarball else {
        return Ok(None);
    };
    if !t.is_file() {
        return Err(usage(format!(
            "--source-tarball {}: no such file",
            t.display()
        )));
    }
    let v = sources::version_from_tarball_name(t).ok_or_else(|| {
        usage(format!(
            "--source-tarball {}: cannot tell the version from the name; name it Python-X.Y.Z.tar.xz",
            t.display()
        ))
    })?;
    if !sources::version_matches(wanted, &v) {
        return Err(usage(format!(
            "--source-tarball holds Python {v}, but {wanted} was asked for"
        )));
    }
    Ok(Some(v))
}

/// What a source gave: uv's ready-made pair, or a tarball to build.
pub(super) enum Obtained {
    Pair(Box<Pair>),
    Source(SourceTarball),
}

/// Try the sources in the order given until one gives a pair or a tarball.
pub(super) fn obtain(
    opts: &InstallOptions,
    wanted: &str,
    cache: &Path,
    log: &mut std::fs::File,
    log_path: &Path,
    out: &mut dyn Write,
) -> Result<Obtained> {
    let mut failures: Vec<String> = Vec::new();
    for kind in &opts.sources {
        let attempt = match kind {
            SourceKind::Uv => match try_uv(wanted, log) {
                Ok(pair) => {
                    writeln!(
                        out,
                        "uv provided CPython {} and {}t",
                        pair.gil.version, pair.nogil.version
                    )?;
                    return Ok(Obtained::Pair(Box::new(pair)));
                }
                Err(e) => Err(e),
            },
            SourceKind::Official => {
                writeln!(
                    out,
                    "Downloading the official CPython {wanted} source tarball ..."
                )?;
                sources::official(wanted, &cache.join("downloads"), log)
            }
            SourceKind::Debian => {
                writeln!(out, "Fetching the Debian source package of CPython {wanted} (mirror from this machine's apt configuration) ...")?;
                sources::debian(wanted, cache, &cache.join("downloads"), log)
            }
        };
        match attempt {
            Ok(s) => return Ok(Obtained::Source(s)),
            Err(e) => {
                writeln!(out, "  not from {}: {e:#}", kind.describe())?;
                writeln!(log, "# source {kind:?} failed: {e:#}")?;
                failures.push(format!("{kind:?}: {e:#}"));
            }
        }
    }
    bail!(
        "no source for CPython {wanted} could be obtained ({}); see {}",
        failures.join("; "),
        log_path.display()
    )
}

fn try_uv(wanted: &str, log: &mut std::fs::File) -> Result<Pair> {
    let uv = which::which_global("uv").context("uv is not installed")?;
    let threaded = format!("{wanted}t");
    let mut install = Command::new(&uv);
    install.args(["python", "install", wanted, &threaded]);
    programs::Run::new(&mut install, Duration::from_secs(600))
        .name("`uv python install`")
        .log(log)
        .success()?;
    let find = |req: &str| -> Result<PathBuf> {
        let o = programs::Run::new(
            Command::new(&uv).args(["python", "find", "--no-project", req]),
            Duration::from_secs(30),
        )
        .name(format!("`uv python find {req}`"))
        .output()?;
        if !o.status.success() {
            bail!(
                "`uv python find {req}` found nothing after the install: {}",
                programs::last_line(&o.stderr)
            );
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    let pair = pair_from(&find(wanted)?, &find(&threaded)?)?;
    if pair.gil.version != pair.nogil.version || pair.gil.gil_disabled || !pair.nogil.gil_disabled {
        bail!(
            "uv gave {} and {}, which are not a GIL/free-threaded pair of one version",
            pair.gil.label(),
            pair.nogil.label()
        );
    }
    Ok(pair)
}
