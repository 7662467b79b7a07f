//! A workload's virtual environments, one per build, holding the same packages.
//!
//! The requirements are resolved once, for the free-threaded interpreter (it has the
//! narrower set of wheels: the newest release of a package often has no cp313t wheel
//! yet), into its own environment; what pip installed there, dependencies included,
//! is then installed pinned and without dependency resolution (`--no-deps`) into the
//! GIL build's environment. Without this an unpinned dependency resolves to a version
//! per build (scipy 1.18.1 for cp313, 1.17.1 for cp313t), and the GIL vs nogil
//! comparison is partly a comparison of two versions. A pinned version with no wheel
//! for the other ABI is refused, naming the package and both versions; a requirement
//! with no wheel for an interpreter's ABI is refused naming the package, version and
//! ABI. Both happen before any run. pip installs wheels only (`--only-binary=:all:`):
//! never a silent build from an sdist.
//!
//! Environments live in `<cache>/workload-envs/<key>`: the resolved one keyed by the
//! interpreter and the requirement lines, the pinned one by the interpreter and the
//! pinned set. A complete environment has a stamp file recording what is installed, so
//! a second run starts no pip at all and works offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use super::{pip_failure, PipFailure, WorkloadSpec};
use crate::error::usage;
use crate::model::Build;
use crate::programs;
use crate::python::discover::Pair;
use crate::python::inspect::Interpreter;

/// Installed distributions of one environment: normalized name -> version.
pub type Installed = BTreeMap<String, String>;

/// What a workload's children run with.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The program each build's children start.
    pub pythons: BTreeMap<Build, PathBuf>,
    /// What is installed in each build's environment (empty without requirements).
    pub installed: BTreeMap<String, Installed>,
}

/// The stamp of a complete environment.
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    requires: Vec<String>,
    installed: Installed,
}

const STAMP: &str = ".arena-sweep-complete.json";

/// Lists the environment's distributions (pip excluded) as JSON, names normalized as
/// PEP 503 does.
const LIST: &str = r#"
import importlib.metadata as m, json, re
out = {}
for d in m.distributions():
    name = d.metadata["Name"]
    if name:
        out[re.sub(r"[-_.]+", "-", name).lower()] = d.version
out.pop("pip", None)
print(json.dumps(out, sort_keys=True))
"#;

/// The environments for every build of the plan, resolved once and pinned in the
/// others. `builds` decides the reference: nogil when it is planned, else the first.
pub fn prepare(
    pair: &Pair,
    builds: &[Build],
    spec: &WorkloadSpec,
    out: &mut dyn std::io::Write,
) -> Result<Prepared> {
    let mut prepared = Prepared::default();
    if spec.requires.is_empty() {
        for &b in builds {
            prepared.pythons.insert(b, pair.get(b).path.clone());
        }
        return Ok(prepared);
    }
    let reference = if builds.contains(&Build::Nogil) {
        Build::Nogil
    } else {
        builds[0]
    };
    let ref_interp = pair.get(reference);
    let (ref_python, resolved) = resolved_env(ref_interp, spec, out)?;
    prepared.pythons.insert(reference, ref_python);
    prepared
        .installed
        .insert(reference.to_string(), resolved.clone());
    for &b in builds.iter().filter(|&&b| b != reference) {
        let (python, installed) = pinned_env(pair.get(b), ref_interp, spec, &resolved, out)?;
        prepared.pythons.insert(b, python);
        prepared.installed.insert(b.to_string(), installed);
    }
    Ok(prepared)
}

/// The cache folder of one environment.
fn env_dir(interp: &Interpreter, kind: &str, lines: &[String]) -> Result<PathBuf> {
    let key = crate::paths::hash_parts(
        [
            interp.executable.to_string_lossy().into_owned(),
            interp.version.clone(),
            kind.to_string(),
        ]
        .into_iter()
        .chain(lines.iter().cloned()),
    );
    Ok(crate::paths::cache_dir()?
        .join("workload-envs")
        .join(&key[..16]))
}

fn read_stamp(dir: &Path) -> Option<Stamp> {
    let python = dir.join("bin").join("python");
    let bytes = std::fs::read(dir.join(STAMP)).ok()?;
    python
        .exists()
        .then(|| serde_json::from_slice(&bytes).ok())
        .flatten()
}

/// The reference build's environment: the requirement lines resolved by pip.
fn resolved_env(
    interp: &Interpreter,
    spec: &WorkloadSpec,
    out: &mut dyn std::io::Write,
) -> Result<(PathBuf, Installed)> {
    let dir = env_dir(interp, "resolved-v2", &spec.requires)?;
    let python = dir.join("bin").join("python");
    if let Some(stamp) = read_stamp(&dir) {
        return Ok((python, stamp.installed));
    }
    writeln!(
        out,
        "Installing {} for {} into {} ...",
        spec.requires.join(" "),
        interp.label(),
        dir.display()
    )?;
    let mut env = Pip::create(interp, &dir)?;
    if let Err(f) = env.install(&spec.requires, false) {
        // No half-made environment is left in the cache.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(refusal(spec, interp, &f, None));
    }
    let installed = env.list()?;
    env.finish(&spec.requires, &installed)?;
    Ok((python, installed))
}

/// Another build's environment: exactly the reference's set, `--no-deps`.
fn pinned_env(
    interp: &Interpreter,
    reference: &Interpreter,
    spec: &WorkloadSpec,
    resolved: &Installed,
    out: &mut dyn std::io::Write,
) -> Result<(PathBuf, Installed)> {
    let pins: Vec<String> = resolved.iter().map(|(n, v)| format!("{n}=={v}")).collect();
    let dir = env_dir(interp, "pinned-v2", &pins)?;
    let python = dir.join("bin").join("python");
    if let Some(stamp) = read_stamp(&dir) {
        return Ok((python, stamp.installed));
    }
    writeln!(
        out,
        "Installing the same {} package(s) for {} (as resolved for {}) into {} ...",
        pins.len(),
        interp.label(),
        reference.label(),
        dir.display()
    )?;
    let mut env = Pip::create(interp, &dir)?;
    if let Err(f) = env.install(&pins, true) {
        let other = f
            .package()
            .and_then(|name| env.would_resolve(&spec.requires, &name));
        let _ = std::fs::remove_dir_all(&dir);
        return Err(refusal(
            spec,
            interp,
            &f,
            Some((reference, resolved, other)),
        ));
    }
    let installed = env.list()?;
    if &installed != resolved {
        return Err(anyhow!(
            "the {} environment {} holds {:?} after installing {:?}: not the set resolved for {}",
            interp.label(),
            dir.display(),
            installed,
            resolved,
            reference.label()
        ));
    }
    env.finish(&pins, &installed)?;
    Ok((python, installed))
}

/// "cp313t" from ".cpython-313t-x86_64-linux-gnu.so".
pub fn abi_tag(interp: &Interpreter) -> String {
    interp
        .ext_suffix
        .trim_start_matches('.')
        .strip_prefix("cpython-")
        .and_then(|s| s.split('-').next())
        .map_or_else(|| interp.ext_suffix.clone(), |t| format!("cp{t}"))
}

/// The error for a failed install: the network, or a refusal naming what has no wheel.
fn refusal(
    spec: &WorkloadSpec,
    interp: &Interpreter,
    f: &PipFailure,
    pinned_from: Option<(&Interpreter, &Installed, Option<String>)>,
) -> anyhow::Error {
    let abi = abi_tag(interp);
    let platform = format!("manylinux {}", std::env::consts::ARCH);
    match f {
        PipFailure::Offline { log } => anyhow!(
            "cannot install {} for {}: the package index cannot be reached (offline?), and the \
             cache has no environment for this requirement set yet; run once with network \
             access, after which runs need none; pip's log: {}",
            spec.requires.join(" "),
            interp.label(),
            log.display()
        ),
        PipFailure::NoWheel { name, version, .. } => {
            let at = super::requires_line(spec, name).map_or_else(
                || spec.path.display().to_string(),
                |l| format!("{}:{l}", spec.path.display()),
            );
            let what = version.as_deref().map_or_else(
                || format!("{name} (any version)"),
                |v| format!("{name}=={v}"),
            );
            match pinned_from {
                Some((reference, resolved, other)) => usage(format!(
                    "{at}: the two builds cannot run the same {name}: it resolved to {} for {} \
                     ({}), and {what} has no wheel for {abi} ({}, {platform}){}; pin {name} in a \
                     `# requires:` line to a version with wheels for both ABIs",
                    resolved.get(name).map_or("?", String::as_str),
                    reference.label(),
                    abi_tag(reference),
                    interp.label(),
                    other.map_or(String::new(), |o| format!(
                        "; {} alone would install {name} {o}",
                        interp.label()
                    )),
                )),
                None => usage(format!(
                    "{at}: {what} has no wheel for {abi} ({}, {platform}); arena-sweep installs \
                     wheels only and never builds a package from its source distribution{}",
                    interp.label(),
                    f.available()
                )),
            }
        }
        PipFailure::Other { last, log } => anyhow!(
            "installing the workload's requirements ({}) failed for {}: {last}; full log: {}",
            spec.requires.join(" "),
            interp.label(),
            log.display()
        ),
    }
}

/// pip in one environment being made.
struct Pip {
    dir: PathBuf,
    python: PathBuf,
    log_path: PathBuf,
    label: String,
}

impl Pip {
    /// A fresh virtual environment of `interp` at `dir` (any earlier one removed).
    fn create(interp: &Interpreter, dir: &Path) -> Result<Pip> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.parent().context("cache layout")?)?;
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let log_path = crate::paths::cache_dir()?
            .join("logs")
            .join(format!("workload-env-{name}.log"));
        std::fs::create_dir_all(log_path.parent().context("cache layout")?)?;
        std::fs::write(&log_path, "")?;
        let pip = Pip {
            dir: dir.to_path_buf(),
            python: dir.join("bin").join("python"),
            log_path,
            label: interp.label(),
        };
        pip.run(
            Command::new(&interp.path)
                .args(["-I", "-m", "venv"])
                .arg(dir),
        )
        .map_err(|e| {
            anyhow!(
                "creating a virtual environment failed for {}: {e}",
                pip.label
            )
        })?;
        Ok(pip)
    }

    /// Run a command, appending to the log; its output, or its stderr on failure.
    fn run(&self, cmd: &mut Command) -> std::result::Result<std::process::Output, String> {
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .map_err(|e| e.to_string())?;
        let out = programs::Run::new(cmd, Duration::from_secs(900))
            .log(&mut log)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn pip(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.args([
            "-I",
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--no-input",
        ]);
        cmd
    }

    /// `pip install --only-binary=:all:` (and `--no-deps` for a pinned set).
    fn install(&mut self, reqs: &[String], no_deps: bool) -> std::result::Result<(), PipFailure> {
        let mut cmd = self.pip();
        cmd.args(["install", "--only-binary=:all:"]);
        if no_deps {
            cmd.arg("--no-deps");
        }
        cmd.args(reqs);
        self.run(&mut cmd)
            .map(drop)
            .map_err(|stderr| pip_failure(&stderr, &self.log_path))
    }

    /// What pip in this environment would install for `reqs` on its own, for the
    /// package `name` (None when it cannot tell).
    fn would_resolve(&self, reqs: &[String], name: &str) -> Option<String> {
        let report = self.dir.join("would-resolve.json");
        let mut cmd = self.pip();
        cmd.args([
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--quiet",
            "--report",
        ])
        .arg(&report)
        .args(reqs);
        self.run(&mut cmd).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).ok()?).ok()?;
        v["install"].as_array()?.iter().find_map(|i| {
            let n = i["metadata"]["name"].as_str()?;
            (super::normalize(n) == name)
                .then(|| i["metadata"]["version"].as_str().map(String::from))?
        })
    }

    /// The distributions installed, pip excluded.
    fn list(&self) -> Result<Installed> {
        let out = self
            .run(Command::new(&self.python).args(["-I", "-c", LIST]))
            .map_err(|e| anyhow!("listing what is installed for {} failed: {e}", self.label))?;
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("listing what is installed for {}", self.label))
    }

    /// Mark the environment complete.
    fn finish(self, requires: &[String], installed: &Installed) -> Result<()> {
        let stamp = Stamp {
            requires: requires.to_vec(),
            installed: installed.clone(),
        };
        std::fs::write(self.dir.join(STAMP), serde_json::to_vec_pretty(&stamp)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(gil_disabled: bool) -> Interpreter {
        let t = if gil_disabled { "t" } else { "" };
        Interpreter {
            path: "/x".into(),
            executable: "/x".into(),
            version: "3.13.5".into(),
            version_info: (3, 13, 5),
            implementation: "cpython".into(),
            gil_disabled,
            ext_suffix: format!(".cpython-313{t}-x86_64-linux-gnu.so"),
            libc: String::new(),
            config_args: String::new(),
        }
    }

    #[test]
    fn a_pinned_version_the_other_build_cannot_install_names_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.py");
        std::fs::write(&path, "# requires: scikit-learn==1.8.0, scipy\n").unwrap();
        let spec = super::super::load(&path, "").unwrap();
        let resolved = Installed::from([("scipy".to_string(), "1.17.1".to_string())]);
        let f = PipFailure::NoWheel {
            name: "scipy".into(),
            version: Some("1.17.1".into()),
            from_versions: vec![],
        };
        let e = refusal(
            &spec,
            &interp(false),
            &f,
            Some((&interp(true), &resolved, Some("1.18.1".into()))),
        );
        assert!(e.is::<crate::error::UsageError>(), "exit 2: {e:#}");
        let text = format!("{e:#}");
        assert_eq!(
            text,
            format!(
                "{}:1: the two builds cannot run the same scipy: it resolved to 1.17.1 for \
                 CPython 3.13.5t (cp313t), and scipy==1.17.1 has no wheel for cp313 (CPython \
                 3.13.5, manylinux x86_64); CPython 3.13.5 alone would install scipy 1.18.1; \
                 pin scipy in a `# requires:` line to a version with wheels for both ABIs",
                path.canonicalize().unwrap().display()
            )
        );
    }

    #[test]
    fn the_abi_tag_comes_from_the_extension_suffix() {
        assert_eq!(abi_tag(&interp(true)), "cp313t");
        assert_eq!(abi_tag(&interp(false)), "cp313");
    }
}
