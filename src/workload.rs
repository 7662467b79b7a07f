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
//! (`<cache>/workload-envs/`), so the user's interpreters are never modified, with the
//! same versions in both builds ([`envs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub mod envs;
mod pip_output;
pub use pip_output::{normalize, pip_failure, PipFailure};

use crate::error::usage;
use crate::programs;
use crate::python::inspect::Interpreter;

/// A validated workload file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Absolute path.
    pub path: PathBuf,
    /// SHA-256 of the file, so a changed file does not silently mix into a resume.
    pub sha256: String,
    /// `--workload-params`, as given (key=value,...).
    pub params: String,
    /// Packages from `# requires:` lines.
    pub requires: Vec<String>,
    /// What was installed for each build ("gil", "nogil": normalized name -> version),
    /// dependencies included: the requirements resolved once for the free-threaded
    /// build and installed pinned into the other ([`envs`]). Empty without
    /// requirements, and in plan files written before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub installed: BTreeMap<String, BTreeMap<String, String>>,
    /// `# settle: DURATION` (ms): how long a package's background threads need after
    /// the calls return before the final snapshot; the plan's settle unless `--settle`
    /// is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_ms: Option<f64>,
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

/// The line of the workload's `# requires:` entry for the package `name` (normalized).
pub fn requires_line(spec: &WorkloadSpec, name: &str) -> Option<usize> {
    let text = std::fs::read_to_string(&spec.path).ok()?;
    text.lines().enumerate().find_map(|(i, line)| {
        let list = line
            .trim_start()
            .strip_prefix('#')?
            .trim_start()
            .strip_prefix("requires:")?;
        list.split([',', ' '])
            .map(str::trim)
            .any(|r| {
                let end = r.find(|c: char| "<>=!~[".contains(c)).unwrap_or(r.len());
                !r.is_empty() && normalize(&r[..end]) == name
            })
            .then_some(i + 1)
    })
}

/// "blake3 1.0.8, numpy 2.4.6": what a build's environment holds, for headers.
pub fn packages_line(installed: &BTreeMap<String, String>) -> String {
    installed
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the report says was installed: one list when both builds hold the same set
/// (the rule), else one per build. None without requirements.
pub fn packages_summary(spec: &WorkloadSpec) -> Option<String> {
    let mut sets = spec.installed.iter();
    let (first_build, first) = sets.next()?;
    if spec.installed.values().all(|i| i == first) {
        let both = if spec.installed.len() > 1 {
            "the same in both builds"
        } else {
            first_build
        };
        return Some(format!("{} ({both})", packages_line(first)));
    }
    Some(
        spec.installed
            .iter()
            .map(|(b, i)| format!("{b}: {}", packages_line(i)))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// A `# settle: 500ms` line (at most one), for errors with its line number.
pub fn parse_settle(text: &str) -> std::result::Result<Option<f64>, (usize, String)> {
    let mut found: Option<(usize, f64)> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix('#').map(str::trim_start) else {
            continue;
        };
        let Some(value) = rest.strip_prefix("settle:") else {
            continue;
        };
        if let Some((first, _)) = found {
            return Err((
                i + 1,
                format!("a second `# settle:` line (the first is line {first})"),
            ));
        }
        let d = crate::cli::parse_duration_or_zero(value.trim()).map_err(|e| (i + 1, e))?;
        found = Some((i + 1, d.as_secs_f64() * 1e3));
    }
    Ok(found.map(|(_, ms)| ms))
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
    let settle_ms =
        parse_settle(&text).map_err(|(line, e)| usage(format!("{}:{line}: {e}", abs.display())))?;
    check_params(params).map_err(|e| usage(format!("--workload-params: {e}")))?;
    Ok(WorkloadSpec {
        path: abs,
        sha256: crate::paths::hash_parts([bytes.as_slice()]),
        params: params.to_string(),
        requires,
        installed: BTreeMap::new(),
        settle_ms,
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
    let out = programs::run(
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
    fn a_spec_written_before_installed_was_recorded_still_loads() {
        let old =
            r#"{"path": "/w.py", "sha256": "ab", "params": "", "requires": ["blake3==1.0.8"]}"#;
        let spec: WorkloadSpec = serde_json::from_str(old).unwrap();
        assert!(spec.installed.is_empty());
        assert_eq!(packages_summary(&spec), None);
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("installed"), "{text}");
    }

    #[test]
    fn the_report_says_whether_both_builds_hold_the_same_packages() {
        let set = |v: &str| BTreeMap::from([("blake3".to_string(), v.to_string())]);
        let mut spec: WorkloadSpec = serde_json::from_str(
            r#"{"path": "/w.py", "sha256": "ab", "params": "", "requires": []}"#,
        )
        .unwrap();
        spec.installed =
            BTreeMap::from([("gil".into(), set("1.0.8")), ("nogil".into(), set("1.0.8"))]);
        assert_eq!(
            packages_summary(&spec).unwrap(),
            "blake3 1.0.8 (the same in both builds)"
        );
        spec.installed.insert("gil".into(), set("1.0.7"));
        assert_eq!(
            packages_summary(&spec).unwrap(),
            "gil: blake3 1.0.7; nogil: blake3 1.0.8"
        );
    }

    #[test]
    fn a_package_is_found_at_its_requires_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.py");
        std::fs::write(
            &path,
            "\"\"\"doc\"\"\"\n# requires: blake3==1.0.8\n# requires: Backports.Zstd>=1\n",
        )
        .unwrap();
        let spec = load(&path, "").unwrap();
        assert_eq!(requires_line(&spec, "blake3"), Some(2));
        assert_eq!(requires_line(&spec, "backports-zstd"), Some(3));
        assert_eq!(requires_line(&spec, "numpy"), None);
    }

    #[test]
    fn a_workload_may_declare_its_settle_time_once() {
        assert_eq!(parse_settle("x\n# settle: 500ms\n"), Ok(Some(500.0)));
        assert_eq!(parse_settle("# nothing"), Ok(None));
        assert_eq!(parse_settle("# settle: soon").unwrap_err().0, 1);
        let twice = parse_settle("# settle: 1s\n\n# settle: 2s").unwrap_err();
        assert_eq!(twice.0, 3);
        assert!(twice.1.contains("the first is line 1"), "{}", twice.1);
    }

    #[test]
    fn the_declared_settle_is_the_plans_unless_the_flag_is_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.py");
        std::fs::write(&path, "# settle: 150ms\ndef call(r, w, i):\n    return 0\n").unwrap();
        let w = path.to_str().unwrap();
        let plan = crate::plan::Plan::from_argv(&["arena-sweep", "--workload", w]).unwrap();
        assert_eq!(plan.settle_ms, 150.0);
        let plan =
            crate::plan::Plan::from_argv(&["arena-sweep", "--workload", w, "--settle", "0ms"])
                .unwrap();
        assert_eq!(plan.settle_ms, 0.0);
    }

    #[test]
    fn params_are_key_value() {
        assert!(check_params("size=4096,mode=fast").is_ok());
        assert!(check_params("").is_ok());
        assert!(check_params("size").unwrap_err().contains("key=value"));
        assert!(check_params("bad key=1").is_err());
    }
}
