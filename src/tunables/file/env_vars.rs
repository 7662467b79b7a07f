//! A profile's `[env]` table: which variables it may set (none that the loader,
//! glibc's tunables or arena-sweep itself read, which come from validated fields
//! instead) and, for jemalloc's options, what their values must look like.

use super::super::catalog::ENV_ALIASES;
use super::super::Allocator;

/// The variable the extension's jemalloc reads its options from.
///
/// tikv-jemalloc-sys builds jemalloc with `--with-jemalloc-prefix=_rjem_` on Linux
/// (unless the `unprefixed_malloc_on_supported_platforms` feature is on, which
/// poc-ext does not enable), and jemalloc's `malloc_conf_init` reads
/// `JEMALLOC_CPREFIX "MALLOC_CONF"`, the upper-cased prefix: `_RJEM_MALLOC_CONF`.
/// Sources: tikv-jemalloc-sys 0.6.1 `build.rs` and `jemalloc/src/jemalloc.c`, and its
/// README ("this variable might be prefixed as `_RJEM_MALLOC_CONF`").
pub const JEMALLOC_CONF_VAR: &str = "_RJEM_MALLOC_CONF";

/// An environment variable name a profile may set.
pub(super) fn check_env_name(name: &str, allocator: &Allocator) -> Result<(), String> {
    let mut bytes = name.bytes();
    let ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(format!(
            "`{}` is not an environment variable name of the form [A-Z_][A-Z0-9_]*",
            name.escape_default()
        ));
    }
    if name == "GLIBC_TUNABLES" {
        return Err(
            "GLIBC_TUNABLES is rendered from [tunables], after validation; set the tunables there"
                .into(),
        );
    }
    if name == "LD_PRELOAD" {
        return Err("LD_PRELOAD comes from `allocator = \"preload:/path/lib.so\"`, which is validated; set it there".into());
    }
    if name.starts_with("LD_") {
        return Err(format!(
            "{name} changes how the loader starts the child; profiles may not set LD_* variables"
        ));
    }
    if let Some((_, full)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
        return Err(format!("{name} is glibc's old spelling of {full}; set that in [tunables], where it is validated"));
    }
    if name == "PYTHON_GIL" {
        return Err(
            "PYTHON_GIL would change the build under test; the plan's builds decide it".into(),
        );
    }
    if name.starts_with("ARENA_SWEEP_") {
        return Err(format!(
            "{name}: ARENA_SWEEP_* variables belong to arena-sweep itself"
        ));
    }
    if name == "MALLOC_CONF" && *allocator == Allocator::Jemalloc {
        return Err(format!(
            "the extension's jemalloc (tikv-jemallocator, prefixed symbols) does not read MALLOC_CONF; use {JEMALLOC_CONF_VAR}"
        ));
    }
    if name == JEMALLOC_CONF_VAR && *allocator != Allocator::Jemalloc {
        return Err(format!("{JEMALLOC_CONF_VAR} only configures allocator = \"jemalloc\" (the extension's prefixed jemalloc)"));
    }
    Ok(())
}

pub(super) fn check_env_value(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!(
            "the value of {name} contains a NUL byte, which no environment variable can hold"
        ));
    }
    if name == "MALLOC_CONF" || name == JEMALLOC_CONF_VAR {
        // jemalloc's syntax: opt:value,opt:value. It only warns on a bad pair and runs
        // with defaults, which would silently measure the wrong thing.
        let ok_pair = |p: &str| {
            p.split_once(':').is_some_and(|(k, v)| {
                !k.is_empty()
                    && k.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                    })
                    && !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            })
        };
        if let Some(bad) = value.split(',').find(|p| !ok_pair(p)) {
            return Err(format!("{name}: `{}` is not an `option:value` pair (jemalloc's syntax: opt:value,opt:value)", bad.escape_default()));
        }
    }
    Ok(())
}
