//! Where arena-sweep keeps things between runs: the cache folder (interpreters it
//! built, extension builds, the extracted driver) and the default report folder.
//!
//! The cache is `$ARENA_SWEEP_CACHE` if set, else `$XDG_CACHE_HOME/arena-sweep`,
//! else `~/.cache/arena-sweep`.

use std::path::PathBuf;

use anyhow::{Context, Result};

pub fn cache_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ARENA_SWEEP_CACHE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p).join("arena-sweep"));
    }
    let home = std::env::var_os("HOME")
        .filter(|p| !p.is_empty())
        .context("cannot find a cache folder: set ARENA_SWEEP_CACHE, XDG_CACHE_HOME or HOME")?;
    Ok(PathBuf::from(home).join(".cache").join("arena-sweep"))
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
    fn hash_is_sha256_of_length_prefixed_parts() {
        // python3 -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<Q',3)+b'abc').hexdigest())"
        assert_eq!(
            hash_parts(["abc"]),
            "ce91dc5eec0139adf091900d225971d6ad246a845bad791b5693a9d0d55dd391".to_string()
        );
    }
}
