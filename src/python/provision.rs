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

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::discover::Pair;
use super::inspect::{inspect, Build, Interpreter};
use super::sources::{self, SourceTarball};
use crate::child;
use crate::error::usage;
use crate::progress::Progress;

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

/// The version in `--source-tarball`'s name, checked against the one asked for.
fn tarball_version(opts: &InstallOptions, wanted: &str) -> Result<Option<String>> {
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
enum Obtained {
    Pair(Box<Pair>),
    Source(SourceTarball),
}

/// Try the sources in the order given until one gives a pair or a tarball.
fn obtain(
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

/// One build of the pair: the finished one if it is stamped complete (and not
/// `--force`), else built, verified and stamped. Returns its interpreter.
#[allow(clippy::too_many_arguments)]
fn build_stamped(
    opts: &InstallOptions,
    cache: &Path,
    source: &SourceTarball,
    sha: &str,
    src_root: &Path,
    build: Build,
    step: &str,
    out: &mut dyn Write,
) -> Result<PathBuf> {
    let version = &source.version;
    let prefix = prefix_for(cache, version, build);
    if is_complete(&prefix) && !opts.force {
        writeln!(out, "{step} {build} build of {version} already complete")?;
        return Ok(binary_in(&prefix, version, build));
    }
    let build_log = cache
        .join("logs")
        .join(format!("cpython-{version}-{build}.log"));
    let progress = Progress::spinner(&format!("{step} CPython {version} {build}:"));
    let bin = build_one(
        src_root, &prefix, version, build, opts.jobs, &build_log, &progress,
    )
    .with_context(|| {
        format!(
            "building the {build} CPython {version} failed; the log is {}",
            build_log.display()
        )
    })?;
    progress.finish();
    let stamp = BuildStamp {
        version: version.clone(),
        build,
        origin: source.origin.clone(),
        source_sha256: sha.to_string(),
        configure_flags: configure_flags(&prefix, build),
        log: build_log.clone(),
        built_at_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    std::fs::write(prefix.join(STAMP), serde_json::to_vec_pretty(&stamp)?)?;
    writeln!(
        out,
        "{step} built {} in {:.0?} (log: {})",
        bin.display(),
        progress.elapsed(),
        build_log.display()
    )?;
    let _ = std::fs::remove_dir_all(
        cache
            .join("build")
            .join(format!("cpython-{version}-{build}")),
    );
    Ok(bin)
}

/// What building CPython needs, checked before minutes are spent: make, a C compiler,
/// and zlib's headers (without them `make install` cannot install pip).
fn check_build_tools() -> Result<()> {
    let mut missing = Vec::new();
    if which::which_global("make").is_err() {
        missing.push("make");
    }
    if ["cc", "gcc", "clang"]
        .iter()
        .all(|c| which::which_global(c).is_err())
    {
        missing.push("a C compiler (gcc)");
    }
    let zlib = ["/usr/include/zlib.h", "/usr/local/include/zlib.h"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !zlib {
        missing.push("zlib headers (zlib1g-dev)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "building CPython needs {}; on Debian, scripts/setup-debian.sh installs them with CPython's other build libraries",
        missing.join(", ")
    )
}

fn configure_flags(prefix: &Path, build: Build) -> Vec<String> {
    let mut flags = vec![format!("--prefix={}", prefix.display())];
    flags.extend(CONFIGURE_FLAGS.iter().map(|s| s.to_string()));
    if build == Build::Nogil {
        flags.push("--disable-gil".into());
    }
    flags
}

fn try_uv(wanted: &str, log: &mut std::fs::File) -> Result<Pair> {
    let uv = which::which_global("uv").context("uv is not installed")?;
    let threaded = format!("{wanted}t");
    let mut install = Command::new(&uv);
    install.args(["python", "install", wanted, &threaded]);
    child::Run::new(&mut install, Duration::from_secs(600))
        .name("`uv python install`")
        .log(log)
        .success()?;
    let find = |req: &str| -> Result<PathBuf> {
        let o = child::Run::new(
            Command::new(&uv).args(["python", "find", "--no-project", req]),
            Duration::from_secs(30),
        )
        .name(format!("`uv python find {req}`"))
        .output()?;
        if !o.status.success() {
            bail!(
                "`uv python find {req}` found nothing after the install: {}",
                child::last_line(&o.stderr)
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

/// Extract the tarball into `<cache>/src/Python-<version>` (once).
fn extract(source: &SourceTarball, src_dir: &Path, log: &mut std::fs::File) -> Result<PathBuf> {
    let root = src_dir.join(format!("Python-{}", source.version));
    if root.join("configure").is_file() && root.join(".extracted").is_file() {
        return Ok(root);
    }
    let tmp = src_dir.join(format!(".extract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let mut tar = Command::new("tar");
    tar.arg("-xf").arg(&source.path).arg("-C").arg(&tmp);
    let out = child::Run::new(&mut tar, Duration::from_secs(600))
        .log(log)
        .output()?;
    if !out.status.success() {
        bail!(
            "{} is not a readable tarball: {}",
            source.path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let inner = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("configure").is_file())
        .with_context(|| {
            format!(
                "{} holds no CPython source tree (no configure script)",
                source.path.display()
            )
        })?;
    let patchlevel =
        std::fs::read_to_string(inner.join("Include/patchlevel.h")).unwrap_or_default();
    let declared = patchlevel
        .lines()
        .find_map(|l| {
            l.strip_prefix("#define PY_VERSION")
                .map(|r| r.trim().trim_matches('"').to_string())
        })
        .unwrap_or_default();
    if declared != source.version {
        bail!(
            "{} holds Python {declared:?}, not {}",
            source.path.display(),
            source.version
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&inner, &root)?;
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::write(root.join(".extracted"), &source.origin)?;
    Ok(root)
}

/// Run one build step, streaming its output into the log and counting compiler runs.
fn run_step(
    cmd: &mut Command,
    log: &Arc<Mutex<std::fs::File>>,
    progress: &Progress,
    stage: &str,
) -> Result<()> {
    {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(l, "$ {cmd:?}")?;
    }
    progress.set_message(stage.to_string());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    let stderr = child.stderr.take().expect("piped");
    let log2 = Arc::clone(log);
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = log2.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(l, "{line}");
        }
    });
    let mut compiled = 0u64;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(l, "{line}");
        }
        if line.contains(" -c ")
            && (line.starts_with("gcc") || line.starts_with("cc") || line.starts_with("clang"))
        {
            compiled += 1;
            progress.set_message(format!("{stage}: {compiled} C files compiled"));
        } else if let Some(rest) = line.strip_prefix("Listing '") {
            progress.set_message(format!("{stage}: {}", rest.trim_end_matches("'...")));
        }
    }
    let _ = err_thread.join();
    let status = child.wait()?;
    if !status.success() {
        bail!("{stage} failed ({status})");
    }
    Ok(())
}

fn build_one(
    src: &Path,
    prefix: &Path,
    version: &str,
    build: Build,
    jobs: usize,
    log_path: &Path,
    progress: &Progress,
) -> Result<PathBuf> {
    let log = Arc::new(Mutex::new(std::fs::File::create(log_path)?));
    let builddir = prefix
        .parent()
        .and_then(Path::parent)
        .context("cache layout")?
        .join("build")
        .join(format!("cpython-{version}-{build}"));
    let _ = std::fs::remove_dir_all(&builddir);
    let _ = std::fs::remove_dir_all(prefix);
    std::fs::create_dir_all(&builddir)?;
    run_step(
        Command::new(src.join("configure"))
            .args(configure_flags(prefix, build))
            .current_dir(&builddir),
        &log,
        progress,
        "configure",
    )?;
    run_step(
        Command::new("make")
            .arg(format!("-j{jobs}"))
            .current_dir(&builddir),
        &log,
        progress,
        "make",
    )?;
    run_step(
        Command::new("make").arg("install").current_dir(&builddir),
        &log,
        progress,
        "make install",
    )?;
    progress.set_message("verifying");
    let bin = binary_in(prefix, version, build);
    let interp = verify(&bin, version, build)?;
    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(
        l,
        "# verified: {} (gil_disabled={})",
        interp.label(),
        interp.gil_disabled
    )?;
    Ok(bin)
}

/// The built interpreter runs, has the right version and build, and
/// `sys._is_gil_enabled()` agrees.
fn verify(bin: &Path, version: &str, build: Build) -> Result<Interpreter> {
    let interp = inspect(bin)?;
    if interp.version != version || interp.build() != build {
        bail!(
            "{} reports {} instead of a {build} build of {version}",
            bin.display(),
            interp.label()
        );
    }
    let out = child::run(
        Command::new(bin)
            .args(["-I", "-c", "import sys; print(sys._is_gil_enabled())"])
            .env_clear(),
        Duration::from_secs(30),
    )?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let expected = if build == Build::Gil { "True" } else { "False" };
    if said != expected {
        let stderr = child::last_line(&out.stderr);
        bail!(
            "{}: sys._is_gil_enabled() printed {said:?}, expected {expected}{}",
            bin.display(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!(" ({stderr})")
            }
        );
    }
    Ok(interp)
}

#[cfg(test)]
mod tests;
