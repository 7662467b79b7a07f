//! Interpreters: discovery (`discover.rs`), inspection (`inspect.rs`), and
//! provisioning a matched GIL + free-threaded pair (`provision.rs`, `sources.rs`).

pub mod discover;
pub mod inspect;
pub mod provision;
pub mod sources;

use std::io::Write;

use anyhow::Result;

use discover::{Explicit, Pair};

use crate::cli::PythonArgs;

/// `arena-sweep pythons list`.
pub fn list(args: &PythonArgs, out: &mut dyn Write) -> Result<()> {
    let explicit = Explicit::new(args.python_gil.clone(), args.python_nogil.clone());
    let candidates = discover::search();
    writeln!(
        out,
        "Interpreters found (search order: flags, env, uv, PATH, pyenv, cache):"
    )?;
    writeln!(
        out,
        "  {:<6} {:<6} {:<10} {:<12} path",
        "build", "source", "version", "libc"
    )?;
    for (path, what) in explicit.gil.iter().chain(explicit.nogil.iter()) {
        match inspect::inspect(path) {
            Ok(i) => writeln!(
                out,
                "  {:<6} {:<6} {:<10} {:<12} {}  [{what}]",
                i.build().as_str(),
                source_label(what),
                i.version,
                i.libc,
                path.display()
            )?,
            Err(e) => writeln!(out, "  {what} {}: {e:#}", path.display())?,
        }
    }
    if candidates.is_empty() && explicit.gil.is_none() && explicit.nogil.is_none() {
        writeln!(out, "  (none)")?;
    }
    for c in &candidates {
        match &c.found {
            Ok(i) => writeln!(
                out,
                "  {:<6} {:<6} {:<10} {:<12} {}  ext {}",
                i.build().as_str(),
                c.source.to_string(),
                i.version,
                i.libc,
                c.path.display(),
                i.ext_suffix
            )?,
            Err(e) => writeln!(
                out,
                "  skip   {:<6} {}: {}",
                c.source.to_string(),
                c.path.display(),
                e
            )?,
        }
    }
    match discover::resolve(&explicit, &candidates)? {
        Some(pair) => {
            writeln!(out, "\nPair used:")?;
            writeln!(out, "  gil    {} ({})", pair.gil.executable.display(), pair.gil.label())?;
            writeln!(out, "  nogil  {} ({})", pair.nogil.executable.display(), pair.nogil.label())?;
            if pair.matched {
                writeln!(out, "  matched: same version and configure flags apart from --disable-gil")?;
            } else {
                writeln!(out, "  NOT matched: versions or configure flags differ; differences between the builds are not only the GIL")?;
            }
        }
        None => writeln!(
            out,
            "\nNo GIL + free-threaded pair of one version found. `arena-sweep pythons install 3.13` builds one \
             (the run command does this by itself)."
        )?,
    }
    Ok(())
}

fn source_label(what: &str) -> &'static str {
    if what.starts_with("--") {
        "flag"
    } else {
        "env"
    }
}

/// The pair a run uses: found, or provisioned when allowed.
pub fn ensure_pair(args: &PythonArgs, install: Option<&str>, out: &mut dyn Write) -> Result<Pair> {
    let explicit = Explicit::new(args.python_gil.clone(), args.python_nogil.clone());
    let candidates = discover::search();
    if let Some(pair) = discover::resolve(&explicit, &candidates)? {
        if !pair.matched {
            writeln!(
                out,
                "warning: {} and {} are not a matched pair (versions or configure flags differ)",
                pair.gil.label(),
                pair.nogil.label()
            )?;
        }
        return Ok(pair);
    }
    let Some(version) = install else {
        anyhow::bail!(
            "no GIL + free-threaded CPython pair was found; run `arena-sweep pythons install 3.13`, \
             or pass --python-gil and --python-nogil"
        );
    };
    writeln!(
        out,
        "No GIL + free-threaded CPython pair was found, so arena-sweep is building CPython {version} twice \
         (GIL and --disable-gil) into its cache. This takes a few minutes, once."
    )?;
    let opts = provision::InstallOptions {
        version: version.to_string(),
        source_tarball: None,
        sources: provision::DEFAULT_SOURCES.to_vec(),
        jobs: default_jobs(),
        force: false,
    };
    provision::install(&opts, out)
}

pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}
