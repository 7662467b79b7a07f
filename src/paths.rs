//! Where arena-sweep keeps things between runs: the cache folder (interpreters it
//! built, extension builds, the extracted driver) and the default report folder.
//!
//! The cache is `$ARENA_SWEEP_CACHE` if set, else `$XDG_CACHE_HOME/arena-sweep`,
//! else `~/.cache/arena-sweep`. The last two come from the `dirs` crate, which follows
//! the XDG spec: a relative `XDG_CACHE_HOME` is ignored, and without `HOME` the home
//! folder is the user's entry in the password database.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub fn cache_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ARENA_SWEEP_CACHE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let cache = dirs::cache_dir()
        .context("cannot find a cache folder: set ARENA_SWEEP_CACHE, XDG_CACHE_HOME or HOME")?;
    Ok(cache.join("arena-sweep"))
}

/// A file-name component made from input (a profile, pattern or binding name): every
/// character outside `[A-Za-z0-9._@-]` becomes `_`, and leading dots are replaced, so
/// the result can never be a path, `.` or `..`.
pub fn file_component(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out.truncate(128);
    out
}

/// `base/name` for a `name` derived from input; refuses anything that would not stay
/// directly inside `base`. Every output file of a report goes through here.
pub fn join_under(base: &Path, name: &str) -> Result<PathBuf> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0');
    if !ok {
        anyhow::bail!(
            "refusing to write `{name}`: output files must stay inside {}",
            base.display()
        );
    }
    Ok(base.join(name))
}

/// Bytes available to an unprivileged writer on the filesystem holding `path`.
pub fn available_bytes(path: &Path) -> Result<u64> {
    let st = nix::sys::statvfs::statvfs(path)
        .with_context(|| format!("cannot check free space at {}", path.display()))?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Hex SHA-256 of the given parts, each length-prefixed so that concatenations differ.
pub fn hash_parts<I, T>(parts: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        let p = p.as_ref();
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_input_cannot_leave_the_folder() {
        assert_eq!(file_component("arena-max-2@64cpus"), "arena-max-2@64cpus");
        assert_eq!(file_component("workload:blake3"), "workload_blake3");
        assert_eq!(file_component("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(file_component(".."), "_.");
        assert_eq!(file_component(""), "_");
        let base = Path::new("/r");
        assert_eq!(
            join_under(base, "a.svg").unwrap(),
            PathBuf::from("/r/a.svg")
        );
        for bad in ["..", ".", "a/b", "/etc/passwd", ""] {
            assert!(join_under(base, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_is_sha256_of_length_prefixed_parts() {
        // python3 -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<Q',3)+b'abc').hexdigest())"
        assert_eq!(
            hash_parts(["abc"]),
            "ce91dc5eec0139adf091900d225971d6ad246a845bad791b5693a9d0d55dd391".to_string()
        );
    }
}
