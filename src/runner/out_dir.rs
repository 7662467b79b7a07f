//! The report folder a sweep writes into: checked before anything runs (writable,
//! with room for every record), then created as `<out>/<UTC timestamp>`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::usage;
use crate::plan::Shard;

/// What one run's record takes in results.jsonl, at most, for the free-space check
/// (a record with a few thousand samples is about 40 KiB).
pub const RECORD_BYTES_ESTIMATE: u64 = 64 * 1024;

/// Check, before anything else happens, that `out` (or a resumed folder) can hold
/// `runs` more records: the nearest folder that exists is writable and its filesystem
/// has room. Nothing is created here; the folder is made with the report folder.
pub fn check_out_dir(out: &Path, runs: usize, flag: &str) -> Result<()> {
    let name = || format!("{flag} {}", out.display());
    if out.exists() && !out.is_dir() {
        return Err(usage(format!("{}: this is a file, not a folder", name())));
    }
    let existing = out
        .ancestors()
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("."));
    // AT_EACCESS: check with the credentials writes will use (effective ids and
    // capabilities), not the real uid plain access(2) checks with.
    nix::unistd::faccessat(
        std::fs::File::open(existing)
            .map_err(|e| usage(format!("{}: {}: {e}", name(), existing.display())))?,
        ".",
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .map_err(|e| {
        usage(format!(
            "{}: {} is not writable: {}",
            name(),
            existing.display(),
            std::io::Error::from(e)
        ))
    })?;
    let needed = runs as u64 * RECORD_BYTES_ESTIMATE + (1 << 20);
    let free = crate::paths::available_bytes(existing)?;
    if free < needed {
        return Err(usage(format!(
            "{}: only {} KiB free there, and {runs} run(s) need about {} KiB; free some space or choose another folder",
            name(),
            free / 1024,
            needed / 1024
        )));
    }
    Ok(())
}

/// A new `<out>/<UTC timestamp>` folder (with -2, -3 ... if taken; shards add
/// `-shard-K-of-N`).
pub fn new_report_dir(out: &Path, shard: Option<Shard>) -> Result<PathBuf> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    let mut stamp = utc_stamp(std::time::SystemTime::now());
    if let Some(s) = shard {
        stamp.push_str(&format!("-shard-{}-of-{}", s.k, s.n));
    }
    for n in 1..1000 {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = crate::paths::join_under(out, &crate::paths::file_component(&name))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("too many report folders named {stamp} in {}", out.display())
}

/// "2026-11-21T10-00-00" (UTC; dashes so the name is safe everywhere). A clock
/// outside the years jiff handles (-9999 to 9999) gives the epoch's stamp.
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H-%M-%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        use std::time::{Duration, UNIX_EPOCH};
        // date -u -d @0 +%Y-%m-%dT%H-%M-%S -> 1970-01-01T00-00-00
        assert_eq!(utc_stamp(UNIX_EPOCH), "1970-01-01T00-00-00");
        // date -u -d @1795255200 +%Y-%m-%dT%H-%M-%S -> 2026-11-21T10-00-00
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_secs(1_795_255_200)),
            "2026-11-21T10-00-00"
        );
        // date -u -d @951782400 -> 2000-02-29 (a leap day)
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00-00-00"
        );
        // date -u -d @1700000007.9 +%Y-%m-%dT%H-%M-%S -> 2023-11-14T22-13-27: the
        // fraction of a second is cut, not rounded.
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_millis(1_700_000_007_900)),
            "2023-11-14T22-13-27"
        );
    }
}
