//! The PoC extension `arena_poc`, once per interpreter and variant: installed from a
//! prebuilt wheel when one fits the interpreter, else built from source with cargo.
//!
//! The extension's sources are embedded in this binary, so a copy of arena-sweep run
//! from anywhere uses the same code it was released with. Their hash names the
//! extension's wheel version, `<poc-ext version>+src<first 16 hex digits>` (a PEP 440
//! local version; `scripts/build-wheels.sh` builds the wheels that way), so a wheel
//! built from other sources is never taken for this binary's.
//!
//! Where it comes from is chosen by [`ExtFrom`] (`--ext-from`):
//! - `auto`: a wheel already installed into the cache, else a wheel that fits from the
//!   wheel folders ([`wheel`]), else a source build ([`source`]). The jemalloc variant
//!   has no wheels and is always built from source.
//! - `wheel`: wheels only; fail, saying why, when none fits.
//! - `source`: always the cargo build.
//!
//! Both land in `<cache>/ext/<key>/`, keyed by the sources, the interpreter (path,
//! version, configure flags, suffix), the variant and the origin; a `build.json`
//! ([`ExtBuild`]) marks the folder complete and goes into every plan.json's provenance.

pub mod source;
pub mod wheel;

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::paths::hash_parts;
use crate::python::inspect::Interpreter;

pub use crate::model::{ExtFrom, Variant};

/// How a finished extension was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Built here with cargo (the only origin before wheels existed, hence the default
    /// for older plan.json files).
    #[default]
    Source,
    /// Installed from a prebuilt wheel with the interpreter's own pip.
    Wheel,
}

/// The wheel an extension was installed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WheelRef {
    /// The wheel's file name, e.g. `arena_poc-0.1.0+src…-cp313-cp313t-manylinux_2_34_x86_64.whl`.
    pub file: String,
    /// The folder it was found in.
    pub dir: PathBuf,
    /// sha256 of the wheel file, as pip reported it.
    pub sha256: String,
}

/// A finished extension build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtBuild {
    /// Folder to put on `sys.path`.
    pub dir: PathBuf,
    /// The shared object itself (also what ctypes loads).
    pub file: PathBuf,
    pub variant: Variant,
    /// The cache key: sources, interpreter, variant (and origin, for wheels).
    pub build_hash: String,
    pub source_hash: String,
    pub interpreter: PathBuf,
    /// `rustc -V` of the toolchain that built it here; None for a wheel (built elsewhere).
    #[serde(default)]
    pub rustc: Option<String>,
    /// Built from source here, or installed from a wheel.
    #[serde(default)]
    pub origin: Origin,
    /// The wheel, when `origin` is `wheel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel: Option<WheelRef>,
}

/// The extension's sources, as compiled into this binary.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../poc-ext/Cargo.toml")),
    ("Cargo.lock", include_str!("../../Cargo.lock")),
    ("src/lib.rs", include_str!("../../poc-ext/src/lib.rs")),
    (
        "src/patterns.rs",
        include_str!("../../poc-ext/src/patterns.rs"),
    ),
    (
        "src/patterns/params.rs",
        include_str!("../../poc-ext/src/patterns/params.rs"),
    ),
    (
        "src/patterns/tests.rs",
        include_str!("../../poc-ext/src/patterns/tests.rs"),
    ),
    (
        "src/introspect.rs",
        include_str!("../../poc-ext/src/introspect.rs"),
    ),
];

/// Hash of the embedded sources.
pub fn source_hash() -> String {
    hash_parts(
        SOURCES
            .iter()
            .flat_map(|(n, c)| [n.as_bytes(), c.as_bytes()]),
    )
}

/// The `version` of the embedded poc-ext/Cargo.toml.
fn crate_version() -> String {
    #[derive(Deserialize)]
    struct Manifest {
        package: Package,
    }
    #[derive(Deserialize)]
    struct Package {
        version: String,
    }
    let manifest = SOURCES[0].1;
    toml::from_str::<Manifest>(manifest)
        .map(|m| m.package.version)
        .expect("poc-ext/Cargo.toml, embedded at compile time, has a package version")
}

/// The version a wheel of these sources carries: `0.1.0+src1a2b3c4d5e6f7a8b`.
pub fn wheel_version() -> String {
    format!("{}+src{}", crate_version(), &source_hash()[..16])
}

/// What `arena-sweep --version` prints after the tool's own version.
pub fn version_details() -> String {
    format!(
        "{}\nPoC extension: arena_poc {} (the wheel version this binary installs)",
        env!("CARGO_PKG_VERSION"),
        wheel_version()
    )
}

pub use crate::model::ExtPolicy as Policy;

static POLICY: OnceLock<Policy> = OnceLock::new();

/// Set where extensions come from for the rest of the process (from the flags of the
/// command that needs them). Later calls are ignored.
pub fn configure(policy: Policy) {
    let _ = POLICY.set(policy);
}

fn policy() -> Policy {
    POLICY.get().cloned().unwrap_or_default()
}

/// The cache key parts every extension of `interp` and `variant` shares.
fn key_parts(src_hash: &str, interp: &Interpreter, variant: Variant) -> Vec<String> {
    vec![
        src_hash.to_string(),
        interp.executable.to_string_lossy().into_owned(),
        interp.version.clone(),
        interp.config_args.clone(),
        interp.ext_suffix.clone(),
        variant.as_str().to_string(),
    ]
}

/// The extension for `interp` and `variant`, installed or built first if needed.
pub fn ensure(interp: &Interpreter, variant: Variant, out: &mut dyn Write) -> Result<ExtBuild> {
    let policy = policy();
    if policy.from == ExtFrom::Source {
        return source::ensure(interp, variant, out);
    }
    if variant == Variant::Jemalloc {
        if policy.from == ExtFrom::Wheel {
            bail!(
                "--ext-from wheel: the jemalloc variant has no wheels; it is built from source (--ext-from auto or source)"
            );
        }
        return source::ensure(interp, variant, out);
    }
    let dirs = wheel::dirs(policy.wheels.as_deref())?;
    match wheel::ensure(interp, variant, &dirs, out)? {
        Ok(b) => Ok(b),
        Err(why) if policy.from == ExtFrom::Wheel => {
            bail!("--ext-from wheel: {why}")
        }
        Err(why) => {
            // With no wheel folder at all (a cargo-built arena-sweep) a source build is
            // the normal way, and not worth a note.
            if !dirs.is_empty() {
                writeln!(out, "note: {why}; building it from source instead")?;
            }
            source::ensure(interp, variant, out).map_err(|e| {
                if dirs.is_empty() {
                    e
                } else {
                    e.context(format!("no prebuilt extension wheel could be used ({why})"))
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_version_is_a_pep440_local_version_of_the_crate_version() {
        let v = wheel_version();
        let (public, local) = v.split_once('+').unwrap();
        assert_eq!(public, crate_version());
        assert!(public.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
        // One alphanumeric local segment: PEP 440 keeps it as written (no leading-zero
        // normalisation, which applies to all-digit segments).
        assert_eq!(local.len(), 3 + 16);
        assert!(local.starts_with("src"));
        assert!(local[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(&local[3..], &source_hash()[..16]);
    }

    #[test]
    fn a_plan_json_from_before_wheels_reads_as_a_source_build() {
        let old = r#"{"dir":"/c/ext/1","file":"/c/ext/1/arena_poc.so","variant":"glibc",
            "build_hash":"ab","source_hash":"cd","interpreter":"/usr/bin/python3.13",
            "rustc":"rustc 1.95.0"}"#;
        let b: ExtBuild = serde_json::from_str(old).unwrap();
        assert_eq!(b.origin, Origin::Source);
        assert_eq!(b.rustc.as_deref(), Some("rustc 1.95.0"));
        assert!(b.wheel.is_none());
    }
}
