//! The extension checks of `doctor`, done for real: build (or find in the cache) the
//! extension for one interpreter and allocator variant, import it in that
//! interpreter, and check that the GIL state it reports is the build's.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Check, Status};
use crate::ext::{self, Variant};
use crate::model::Build;
use crate::programs::{self, ProgramError};
use crate::python::inspect::Interpreter;

/// Import the built extension in its interpreter and report whether the GIL is on.
fn import_check(interp: &Interpreter, dir: &Path) -> std::result::Result<bool, String> {
    const PROBE: &str = "import sys; sys.path.insert(0, sys.argv[1]); import arena_poc; \
                         print(getattr(sys, '_is_gil_enabled', lambda: True)())";
    let out = programs::run(
        Command::new(&interp.executable)
            .args(["-I", "-c", PROBE])
            .arg(dir),
        Duration::from_secs(60),
    )
    .map_err(|e| match e {
        ProgramError::Start { .. } => e.to_string(),
        e => format!("importing it: {e}"),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.trim() {
        "True" => Ok(true),
        "False" => Ok(false),
        _ => {
            let stderr = programs::last_line(&out.stderr);
            Err(format!(
                "importing it failed: {}",
                if stderr.is_empty() {
                    "no output"
                } else {
                    &stderr
                }
            ))
        }
    }
}

/// Build (or find in the cache) and import the extension for one interpreter and variant.
pub(super) fn check_extension(
    interp: &Interpreter,
    variant: Variant,
    out: &mut dyn Write,
) -> Check {
    let name = format!("extension {}/{}", interp.build(), variant.as_str());
    let built = match ext::ensure(interp, variant, out) {
        Ok(b) => b,
        Err(e) => {
            return Check::fail(
                &name,
                format!("{e:#}"),
                "the build needs cargo and rustc (rustup), and a C compiler and make for jemalloc; the log named above has the details",
            )
        }
    };
    match (import_check(interp, &built.dir), interp.build()) {
        (Ok(false), Build::Nogil) => Ok(("imports; the GIL stays off", Status::Ok)),
        (Ok(true), Build::Gil) => Ok(("imports", Status::Ok)),
        (Ok(_), Build::Nogil) => Ok((
            "imports, but the GIL got enabled: free-threaded runs would measure a GIL build",
            Status::Fail,
        )),
        (Ok(_), Build::Gil) => Ok((
            "imports, but reports the GIL off in a GIL build",
            Status::Fail,
        )),
        (Err(e), _) => Err(e),
    }
    .map_or_else(
        |e| {
            Check::fail(
                &name,
                format!("{}: {e}", built.file.display()),
                "rebuild it: remove the folder above and run doctor again",
            )
        },
        |(what, status)| match status {
            Status::Ok => Check::ok(&name, format!("{}: {what}", built.file.display())),
            _ => Check::fail(
                &name,
                format!("{}: {what}", built.file.display()),
                "the extension must declare gil_used = false (poc-ext/src/lib.rs)",
            ),
        },
    )
}
