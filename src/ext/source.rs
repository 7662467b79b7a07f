//! The extension built here from the sources embedded in this binary. They are written
//! to `<cache>/ext-src/<source hash>/` as a standalone crate and built with cargo, with
//! `PYO3_PYTHON` pointing at the interpreter. The result is copied to
//! `<cache>/ext/<key>/arena_poc<EXT_SUFFIX>`; rustc's version is recorded but not keyed on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::{key_parts, source_hash, ExtBuild, Origin, Variant, SOURCES};
use crate::paths::{cache_dir, hash_parts};
use crate::python::inspect::Interpreter;

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

fn rustc_version() -> Result<String> {
    let rustc = std::env::var_os("RUSTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("rustc"));
    let out = Command::new(&rustc)
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .context(
            "rustc was not found; the PoC extension is built with Rust (install it with rustup)",
        )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Write the sources as a standalone crate (its own workspace root) and return its folder.
fn materialize(root: &Path) -> Result<PathBuf> {
    let dir = root.join("ext-src").join(&source_hash()[..16]);
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    for (name, content) in SOURCES {
        if let Some(parent) = dir.join(name).parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut content = content.to_string();
        if *name == "Cargo.toml" {
            // Detach from any workspace above the cache folder.
            content.push_str("\n[workspace]\n");
        }
        std::fs::write(dir.join(name), content)?;
    }
    std::fs::write(dir.join(".complete"), "")?;
    Ok(dir)
}

/// The cached source build for `interp` and `variant`, building it first if needed.
pub fn ensure(interp: &Interpreter, variant: Variant, out: &mut dyn Write) -> Result<ExtBuild> {
    let root = cache_dir()?;
    let src_hash = source_hash();
    let key = hash_parts(key_parts(&src_hash, interp, variant));
    let dir = root.join("ext").join(&key[..16]);
    let record = dir.join("build.json");
    if let Ok(bytes) = std::fs::read(&record) {
        if let Ok(b) = serde_json::from_slice::<ExtBuild>(&bytes) {
            if b.file.is_file() {
                return Ok(b);
            }
        }
    }
    // rustc's version is recorded, not keyed on: a built extension stays valid when the
    // toolchain changes, and asking rustc costs a process start on every run.
    let rustc = rustc_version()?;
    writeln!(
        out,
        "Building the PoC extension ({}) for {} from source with cargo ...",
        variant.as_str(),
        interp.label()
    )?;
    let src = materialize(&root)?;
    let target = root.join("ext-target").join(format!(
        "{}-{}",
        variant.as_str(),
        &hash_parts([interp.executable.to_string_lossy().as_bytes()])[..12]
    ));
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs)?;
    let log_path = logs.join(format!("ext-{}.log", &key[..16]));
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "--release", "--lib", "--manifest-path"])
        .arg(src.join("Cargo.toml"))
        .env("PYO3_PYTHON", &interp.executable)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("PYO3_CONFIG_FILE")
        .stdin(Stdio::null());
    if variant == Variant::Jemalloc {
        cmd.args(["--features", "jemalloc"]);
    }
    let output = cmd.output().context(
        "cargo was not found; the PoC extension is built with Rust (install it with rustup)",
    )?;
    std::fs::write(&log_path, [&output.stdout[..], &output.stderr[..]].concat())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ");
        bail!(
            "building the PoC extension for {} ({}) failed: {}; full log: {}",
            interp.label(),
            interp.executable.display(),
            if reason.is_empty() {
                "cargo exited with an error".to_string()
            } else {
                reason
            },
            log_path.display()
        );
    }
    let built = target.join("release").join("libarena_poc.so");
    if !built.is_file() {
        bail!(
            "cargo reported success but {} is missing; full log: {}",
            built.display(),
            log_path.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("arena_poc{}", interp.ext_suffix));
    let tmp = dir.join(format!(".arena_poc.{}.tmp", std::process::id()));
    std::fs::copy(&built, &tmp)?;
    std::fs::rename(&tmp, &file)?;
    let b = ExtBuild {
        dir: dir.clone(),
        file,
        variant,
        build_hash: key,
        source_hash: src_hash,
        interpreter: interp.executable.clone(),
        rustc: Some(rustc),
        origin: Origin::Source,
        wheel: None,
    };
    let tmp = dir.join(format!(".build.json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&b)?)?;
    std::fs::rename(&tmp, &record)?;
    Ok(b)
}
