//! User workloads: `--workload FILE.py` runs the user's own native code from the
//! driver's Python threads, exactly as the PoC runs, over the same grid, builds and
//! profiles.
//!
//! The file defines `call(rust_threads, worker_id, iteration)` and optionally
//! `setup(params)` (called once per process, before the baseline snapshot, with the
//! `--workload-params` as a dict of strings). `rust_threads` is the grid's Rust-thread
//! count: pass it to the library as its thread count. The control arm's runs call
//! `control(worker_id, iteration)` instead when the file defines it (the same
//! Python-side preparation without the native call), else nothing. Lines of the form
//! `# requires: NAME==VERSION` list packages from PyPI the workload imports; arena-sweep
//! installs them into a virtual environment of its own per interpreter
//! (`<cache>/workload-envs/`), so the user's interpreters are never modified.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use crate::child;
use crate::error::usage;
use crate::python::inspect::Interpreter;

/// A validated workload file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Absolute path.
    pub path: PathBuf,
    /// SHA-256 of the file, so a changed file does not silently mix into a resume.
    pub sha256: String,
    /// `--workload-params`, as given (key=value,...).
    pub params: String,
    /// Packages from `# requires:` lines.
    pub requires: Vec<String>,
}

impl WorkloadSpec {
    /// The pattern name cells of this workload carry.
    pub fn pattern_name(&self) -> String {
        format!(
            "workload:{}",
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
    }
}

/// A requirement must look like a package name with an optional version constraint:
/// nothing that pip could read as an option, a URL or a file.
pub fn check_requirement(req: &str) -> std::result::Result<(), String> {
    if req.is_empty() {
        return Err("empty requirement".into());
    }
    if req.starts_with('-') {
        return Err(format!(
            "`{req}` looks like a pip option; give a package name such as blake3==1.0.8"
        ));
    }
    let ok = req
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-[]<>=!~,".contains(c));
    if !ok || req.contains("://") {
        return Err(format!(
            "`{req}` is not a package name with an optional version (such as blake3==1.0.8)"
        ));
    }
    Ok(())
}

/// `# requires: a==1, b>=2` lines, with their line numbers for errors.
pub fn parse_requires(text: &str) -> std::result::Result<Vec<String>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix('#').map(str::trim_start) else {
            continue;
        };
        let Some(list) = rest.strip_prefix("requires:") else {
            continue;
        };
        for req in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            check_requirement(req).map_err(|e| (i + 1, e))?;
            out.push(req.to_string());
        }
    }
    Ok(out)
}

/// `k=v,k=v` with plain keys: checked here so a typo is refused before anything runs.
pub fn check_params(params: &str) -> std::result::Result<(), String> {
    for item in params.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, _)) = item.split_once('=') else {
            return Err(format!("`{item}` is not key=value"));
        };
        if k.trim().is_empty()
            || !k
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "`{}` is not a parameter name (letters, digits, _)",
                k.trim()
            ));
        }
    }
    Ok(())
}

/// Read and check the file: it exists, is Python, and its requirements are sane.
pub fn load(path: &Path, params: &str) -> Result<WorkloadSpec> {
    let flag = format!("--workload {}", path.display());
    let abs = std::fs::canonicalize(path).map_err(|e| usage(format!("{flag}: {e}")))?;
    if abs.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(usage(format!(
            "{flag}: a workload is a Python file ending in .py"
        )));
    }
    let bytes = std::fs::read(&abs).map_err(|e| usage(format!("{flag}: cannot read it: {e}")))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| usage(format!("{flag}: the file is not UTF-8 text")))?;
    let requires = parse_requires(&text)
        .map_err(|(line, e)| usage(format!("{}:{line}: {e}", abs.display())))?;
    check_params(params).map_err(|e| usage(format!("--workload-params: {e}")))?;
    Ok(WorkloadSpec {
        path: abs,
        sha256: crate::paths::hash_parts([bytes.as_slice()]),
        params: params.to_string(),
        requires,
    })
}

const AST_CHECK: &str = r#"
import ast, json, sys
path = sys.argv[1]
try:
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
except SyntaxError as e:
    print(json.dumps({"error": "%s:%s: %s" % (path, e.lineno, e.msg)}))
    sys.exit(0)
funcs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
if "call" not in funcs:
    print(json.dumps({"error": "%s: defines no top-level function call(rust_threads, worker_id, iteration)" % path}))
elif len(funcs["call"].args.args) != 3:
    f = funcs["call"]
    print(json.dumps({"error": "%s:%d: call() must take 3 arguments (rust_threads, worker_id, iteration), it takes %d" % (path, f.lineno, len(f.args.args))}))
elif "setup" in funcs and len(funcs["setup"].args.args) != 1:
    f = funcs["setup"]
    print(json.dumps({"error": "%s:%d: setup() must take 1 argument (params)" % (path, f.lineno)}))
elif "control" in funcs and len(funcs["control"].args.args) != 2:
    f = funcs["control"]
    print(json.dumps({"error": "%s:%d: control() must take 2 arguments (worker_id, iteration), it takes %d" % (path, f.lineno, len(f.args.args))}))
else:
    print(json.dumps({"error": None}))
"#;

/// Check with a real interpreter that the file parses and defines the functions.
pub fn check_with(interp: &Interpreter, spec: &WorkloadSpec) -> Result<()> {
    let out = child::run(
        Command::new(&interp.path)
            .args(["-I", "-c", AST_CHECK])
            .arg(&spec.path)
            .env_clear()
            .env("LC_ALL", "C.UTF-8"),
        Duration::from_secs(30),
    )
    .context("checking the workload")?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "checking the workload failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    match v.get("error").and_then(|e| e.as_str()) {
        Some(e) => Err(usage(e.to_string())),
        None => Ok(()),
    }
}

/// The interpreter to run a workload with: the interpreter itself when nothing is
/// required, else a virtual environment of it with the requirements installed.
pub fn python_for(
    interp: &Interpreter,
    spec: &WorkloadSpec,
    out: &mut dyn std::io::Write,
) -> Result<PathBuf> {
    if spec.requires.is_empty() {
        return Ok(interp.path.clone());
    }
    let key = crate::paths::hash_parts(
        [
            interp.executable.to_string_lossy().into_owned(),
            interp.version.clone(),
        ]
        .into_iter()
        .chain(spec.requires.iter().cloned()),
    );
    let dir = crate::paths::cache_dir()?
        .join("workload-envs")
        .join(&key[..16]);
    let python = dir.join("bin").join("python");
    let stamp = dir.join(".arena-sweep-complete");
    if stamp.is_file() && python.exists() {
        return Ok(python);
    }
    writeln!(
        out,
        "Installing {} for {} into {} ...",
        spec.requires.join(" "),
        interp.label(),
        dir.display()
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().context("cache layout")?)?;
    let log_path = crate::paths::cache_dir()?
        .join("logs")
        .join(format!("workload-env-{}.log", &key[..16]));
    std::fs::create_dir_all(log_path.parent().context("cache layout")?)?;
    let mut log = std::fs::File::create(&log_path)?;
    let mut step = |cmd: &mut Command, what: &str| -> Result<()> {
        child::Run::new(cmd, Duration::from_secs(900))
            .log(&mut log)
            .success()
            .map_err(|e| {
                let why = match e {
                    child::ChildError::Failed { last_stderr, .. } => last_stderr,
                    e => e.to_string(),
                };
                anyhow!(
                    "{what} failed for {}: {why}; full log: {}",
                    interp.label(),
                    log_path.display()
                )
            })?;
        Ok(())
    };
    step(
        Command::new(&interp.path)
            .args(["-I", "-m", "venv"])
            .arg(&dir),
        "creating a virtual environment",
    )?;
    step(
        Command::new(&python)
            .args([
                "-I",
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
            ])
            .args(&spec.requires),
        "installing the workload's requirements",
    )?;
    std::fs::write(&stamp, spec.requires.join("\n"))?;
    Ok(python)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_names_not_options() {
        assert_eq!(
            parse_requires("# requires: blake3==1.0.8\nimport x\n#requires: a>=1,b\n").unwrap(),
            vec!["blake3==1.0.8", "a>=1", "b"]
        );
        assert_eq!(
            parse_requires("# requires: --index-url=http://x")
                .unwrap_err()
                .0,
            1
        );
        assert!(parse_requires("\n# requires: git+https://x/y").is_err());
        assert!(parse_requires("# requires: ./local.whl").is_err());
        assert!(parse_requires("# nothing here").unwrap().is_empty());
    }

    #[test]
    fn params_are_key_value() {
        assert!(check_params("size=4096,mode=fast").is_ok());
        assert!(check_params("").is_ok());
        assert!(check_params("size").unwrap_err().contains("key=value"));
        assert!(check_params("bad key=1").is_err());
    }
}
