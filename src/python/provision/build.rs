//! Build one interpreter of the pair from an extracted source tree: check the build
//! tools, unpack the tarball, run configure / make / make install into its prefix
//! with the output streamed to a log, verify the result with
//! `sys._is_gil_enabled()`, and stamp the prefix complete.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::super::inspect::{inspect, Build, Interpreter};
use super::super::sources::SourceTarball;
use super::{
    binary_in, configure_flags, is_complete, prefix_for, BuildStamp, InstallOptions, STAMP,
};
use crate::programs;
use crate::progress::Progress;

/// One build of the pair: the finished one if it is stamped complete (and not
/// `--force`), else built, verified and stamped. Returns its interpreter.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_stamped(
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
pub(super) fn check_build_tools() -> Result<()> {
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

/// Extract the tarball into `<cache>/src/Python-<version>` (once).
pub(super) fn extract(
    source: &SourceTarball,
    src_dir: &Path,
    log: &mut std::fs::File,
) -> Result<PathBuf> {
    let root = src_dir.join(format!("Python-{}", source.version));
    if root.join("configure").is_file() && root.join(".extracted").is_file() {
        return Ok(root);
    }
    let tmp = src_dir.join(format!(".extract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let mut tar = Command::new("tar");
    tar.arg("-xf").arg(&source.path).arg("-C").arg(&tmp);
    let out = programs::Run::new(&mut tar, Duration::from_secs(600))
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
    let out = programs::run(
        Command::new(bin)
            .args(["-I", "-c", "import sys; print(sys._is_gil_enabled())"])
            .env_clear(),
        Duration::from_secs(30),
    )?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let expected = if build == Build::Gil { "True" } else { "False" };
    if said != expected {
        let stderr = programs::last_line(&out.stderr);
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
