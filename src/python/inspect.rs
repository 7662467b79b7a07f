//! Ask an interpreter what it is: version, whether it is a free-threaded build
//! (`Py_GIL_DISABLED`), its extension suffix, configure flags and the glibc it runs on.
//!
//! The probe is a few lines of Python that also run on Python 2, so that an old
//! interpreter gets a clear "too old" message instead of a syntax error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::programs::{self, ProgramError};

pub use crate::model::Build;

/// What an interpreter said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// The path it was found at (what the user or the search gave).
    pub path: PathBuf,
    /// `sys.executable`, resolved.
    pub executable: PathBuf,
    /// e.g. "3.13.5".
    pub version: String,
    pub version_info: (u32, u32, u32),
    pub implementation: String,
    /// `sysconfig.get_config_var("Py_GIL_DISABLED") == 1`.
    pub gil_disabled: bool,
    /// `sysconfig.get_config_var("EXT_SUFFIX")`, e.g. ".cpython-313t-x86_64-linux-gnu.so".
    pub ext_suffix: String,
    /// `os.confstr("CS_GNU_LIBC_VERSION")`, e.g. "glibc 2.36"; empty on other libcs.
    pub libc: String,
    /// `sysconfig.get_config_var("CONFIG_ARGS")`: the configure flags of the build.
    pub config_args: String,
}

impl Interpreter {
    pub fn build(&self) -> Build {
        if self.gil_disabled {
            Build::Nogil
        } else {
            Build::Gil
        }
    }

    /// Configure flags with `--disable-gil` and the prefix removed: two builds with
    /// equal normalized flags are a matched pair.
    pub fn normalized_config_args(&self) -> String {
        self.config_args
            .split_whitespace()
            .map(|a| a.trim_matches('\''))
            .filter(|a| *a != "--disable-gil" && !a.starts_with("--prefix"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn label(&self) -> String {
        format!(
            "CPython {}{}",
            self.version,
            if self.gil_disabled { "t" } else { "" }
        )
    }
}

const PROBE: &str = r#"
import json, os, platform, sys, sysconfig
def cv(name):
    v = sysconfig.get_config_var(name)
    return v if v is not None else ""
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (ValueError, OSError, AttributeError):
    libc = ""
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": platform.python_version(),
    "version_info": list(sys.version_info[:3]),
    "implementation": getattr(sys, "implementation", None) and sys.implementation.name or platform.python_implementation().lower(),
    "gil_disabled": bool(cv("Py_GIL_DISABLED")),
    "ext_suffix": cv("EXT_SUFFIX") or cv("SO"),
    "libc": libc,
    "config_args": cv("CONFIG_ARGS"),
}))
"#;

#[derive(Deserialize)]
struct ProbeOut {
    executable: PathBuf,
    version: String,
    version_info: (u32, u32, u32),
    implementation: String,
    gil_disabled: bool,
    ext_suffix: String,
    libc: String,
    config_args: String,
}

/// (device, inode, size, mtime in ns) of a file, following symlinks.
fn identity(path: &Path) -> Option<(u64, u64, u64, i128)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    ))
}

/// A cached probe result: valid while neither the path given nor the interpreter it
/// resolved to has changed on disk.
#[derive(Serialize, Deserialize)]
struct CachedProbe {
    path_identity: (u64, u64, u64, i128),
    executable_identity: (u64, u64, u64, i128),
    interpreter: Interpreter,
}

fn probe_cache_file(path: &Path) -> Option<PathBuf> {
    let dir = crate::paths::cache_dir().ok()?.join("interpreters");
    Some(dir.join(format!(
        "{}.json",
        &crate::paths::hash_parts([path.as_os_str().as_encoded_bytes()])[..16]
    )))
}

/// Inspect an interpreter, using the cached answer when the files are unchanged
/// (a probe starts the interpreter, which costs tens of milliseconds).
pub fn inspect(path: &Path) -> Result<Interpreter> {
    let cache = probe_cache_file(path);
    if let (Some(file), Some(id)) = (&cache, identity(path)) {
        if let Ok(c) =
            serde_json::from_slice::<CachedProbe>(&std::fs::read(file).unwrap_or_default())
        {
            if c.path_identity == id
                && identity(&c.interpreter.executable) == Some(c.executable_identity)
            {
                return Ok(c.interpreter);
            }
        }
    }
    let interp = probe(path)?;
    if let (Some(file), Some(pid), Some(eid)) =
        (cache, identity(path), identity(&interp.executable))
    {
        let entry = CachedProbe {
            path_identity: pid,
            executable_identity: eid,
            interpreter: interp.clone(),
        };
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((file, entry));
    }
    Ok(interp)
}

/// Probe results not yet written to the cache: nothing is written while a command
/// may still refuse its input, so they wait for [`persist_probes`].
static PENDING: std::sync::Mutex<Vec<(PathBuf, CachedProbe)>> = std::sync::Mutex::new(Vec::new());

/// Write the pending probe results to the cache (once a command's input is valid).
/// Best effort: a read-only cache only costs the probes next time.
pub fn persist_probes() {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for (file, entry) in pending {
        if let (Some(dir), Ok(bytes)) = (file.parent(), serde_json::to_vec(&entry)) {
            let _ = std::fs::create_dir_all(dir);
            let tmp = file.with_extension(format!("tmp.{}", std::process::id()));
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
    }
}

/// Why a program given as an interpreter failed the probe: a Python error's last line
/// when it printed a traceback, else that it did not run Python at all (what another
/// program prints, e.g. `ls` quoting the probe's source back, is not repeated).
fn python_failure(stderr: &str, code: Option<i32>) -> String {
    let last = stderr.lines().last().unwrap_or("").trim();
    let python_error = stderr.contains("Traceback (most recent call last)")
        || last.split_once(':').is_some_and(|(kind, _)| {
            kind.ends_with("Error") && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        });
    if python_error {
        last.chars().take(300).collect()
    } else {
        format!(
            "it did not run the Python probe ({}); give the path of a CPython 3.13+ executable",
            code.map_or("ended by a signal".to_string(), |c| format!(
                "exit code {c}"
            ))
        )
    }
}

/// Run the probe. Fails with a message naming the path when it is not a working Python.
fn probe(path: &Path) -> Result<Interpreter> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{} does not exist", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a folder, not a Python interpreter", path.display());
    }
    let mut cmd = Command::new(path);
    cmd.args(["-I", "-c", PROBE])
        .env_clear()
        .env("LC_ALL", "C.UTF-8");
    let out = programs::run(&mut cmd, Duration::from_secs(20)).map_err(|e| match e {
        ProgramError::Start { source, .. } => anyhow!(
            "{} could not be started as a Python interpreter: {source}",
            path.display()
        ),
        e => anyhow!(
            "{} did not answer as a Python interpreter: it {}",
            path.display(),
            e.reason()
        ),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{} is not a working Python interpreter: {}",
            path.display(),
            python_failure(&stderr, out.status.code())
        );
    }
    let probe: ProbeOut = serde_json::from_slice(&out.stdout).map_err(|_| {
        anyhow!(
            "{} is not a Python interpreter: asked to run a Python probe, it printed something else",
            path.display()
        )
    })?;
    Ok(Interpreter {
        path: path.to_path_buf(),
        executable: probe.executable,
        version: probe.version,
        version_info: probe.version_info,
        implementation: probe.implementation,
        gil_disabled: probe.gil_disabled,
        ext_suffix: probe.ext_suffix,
        libc: probe.libc,
        config_args: probe.config_args,
    })
}

/// The oldest CPython with a free-threaded build.
pub const MIN_VERSION: (u32, u32) = (3, 13);

/// Check that an interpreter can take part in a comparison at all.
pub fn check_supported(interp: &Interpreter) -> Result<()> {
    if interp.implementation != "cpython" {
        bail!(
            "{} is {} {}, not CPython; use CPython 3.13 or newer",
            interp.path.display(),
            interp.implementation,
            interp.version
        );
    }
    if (interp.version_info.0, interp.version_info.1) < MIN_VERSION {
        bail!(
            "{} is Python {}, which has no free-threaded build; use CPython 3.13 or newer (`arena-sweep pythons install 3.13`)",
            interp.path.display(),
            interp.version
        );
    }
    if interp.libc.is_empty() {
        bail!(
            "{} does not run on glibc; arena-sweep measures glibc malloc arenas",
            interp.path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(config_args: &str) -> Interpreter {
        Interpreter {
            path: "/x".into(),
            executable: "/x".into(),
            version: "3.13.5".into(),
            version_info: (3, 13, 5),
            implementation: "cpython".into(),
            gil_disabled: config_args.contains("--disable-gil"),
            ext_suffix: ".so".into(),
            libc: "glibc 2.36".into(),
            config_args: config_args.into(),
        }
    }

    #[test]
    fn matched_builds_normalize_to_the_same_flags() {
        let gil = interp("'--prefix=/c/gil' '--with-ensurepip=install'");
        let nogil = interp("'--prefix=/c/nogil' '--with-ensurepip=install' '--disable-gil'");
        assert_eq!(gil.normalized_config_args(), nogil.normalized_config_args());
        assert_eq!(nogil.build(), Build::Nogil);
        let other = interp("'--prefix=/c/x' '--enable-optimizations'");
        assert_ne!(gil.normalized_config_args(), other.normalized_config_args());
    }

    #[test]
    fn old_versions_are_refused_with_the_fix() {
        let mut old = interp("");
        old.version = "3.11.7".into();
        old.version_info = (3, 11, 7);
        let msg = check_supported(&old).unwrap_err().to_string();
        assert!(
            msg.contains("3.11.7") && msg.contains("pythons install 3.13"),
            "{msg}"
        );
    }
}
