//! What a failed `pip install` said, read from its stderr: the index could not be
//! reached, a requirement has no wheel for this interpreter, or something else. pip
//! has no machine-readable failure, so this reads its English messages (pip 22 to 25
//! word them the same way); anything not recognised is reported with pip's last line.

use std::path::{Path, PathBuf};

/// Why pip did not install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipFailure {
    /// The package index could not be reached.
    Offline {
        log: PathBuf,
    },
    /// No distribution pip may install (a wheel) matches this requirement.
    NoWheel {
        /// Normalized package name.
        name: String,
        /// The exact version asked for, if the requirement pins one.
        version: Option<String>,
        /// pip's "(from versions: ...)" list: the versions that do have a usable wheel.
        from_versions: Vec<String>,
    },
    Other {
        last: String,
        log: PathBuf,
    },
}

impl PipFailure {
    pub fn package(&self) -> Option<String> {
        match self {
            PipFailure::NoWheel { name, .. } => Some(name.clone()),
            _ => None,
        }
    }

    /// "; versions with a wheel for it: 1.0, 1.1" (the last few), or nothing.
    pub fn available(&self) -> String {
        match self {
            PipFailure::NoWheel { from_versions, .. } if !from_versions.is_empty() => {
                let start = from_versions.len().saturating_sub(5);
                format!(
                    "; versions with a wheel for it: {}",
                    from_versions[start..].join(", ")
                )
            }
            _ => String::new(),
        }
    }
}

/// PEP 503 normalization: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Signs, in pip's stderr, that the index was not reached (urllib3's and the OS's words).
const OFFLINE: &[&str] = &[
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
    "ConnectTimeoutError",
    "Connection refused",
];

/// Read a failed pip's stderr.
pub fn pip_failure(stderr: &str, log: &Path) -> PipFailure {
    let no_match = stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix("ERROR: No matching distribution found for ")
    });
    if OFFLINE.iter().any(|s| stderr.contains(s)) {
        return PipFailure::Offline {
            log: log.to_path_buf(),
        };
    }
    if let Some(req) = no_match {
        let req = req.trim();
        let split = req
            .find(|c: char| "<>=!~ [;".contains(c))
            .unwrap_or(req.len());
        let name = normalize(&req[..split]);
        let version = req[split..]
            .trim()
            .strip_prefix("==")
            .map(|v| v.trim().to_string());
        let from_versions = stderr
            .lines()
            .find_map(|l| l.split_once("(from versions: "))
            .map(|(_, rest)| {
                rest.trim_end_matches(')')
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && *v != "none")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        return PipFailure::NoWheel {
            name,
            version,
            from_versions,
        };
    }
    PipFailure::Other {
        last: crate::programs::last_line(stderr.as_bytes()),
        log: log.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_as_pep_503_says() {
        assert_eq!(normalize("backports.zstd"), "backports-zstd");
        assert_eq!(normalize("Pydantic_Core"), "pydantic-core");
        assert_eq!(normalize("a-._b"), "a-b");
    }

    // The two lines as pip 25.1 printed them for orjson on CPython 3.13t.
    #[test]
    fn no_matching_distribution_names_the_package_and_version() {
        let log = Path::new("/l");
        let f = pip_failure(
            "ERROR: Could not find a version that satisfies the requirement orjson==3.11.5 (from versions: none)\n\
             ERROR: No matching distribution found for orjson==3.11.5\n",
            log,
        );
        assert_eq!(
            f,
            PipFailure::NoWheel {
                name: "orjson".into(),
                version: Some("3.11.5".into()),
                from_versions: vec![],
            }
        );
        let f = pip_failure(
            "ERROR: Could not find a version that satisfies the requirement Foo_Bar>=9 (from versions: 1.0, 2.0)\n\
             ERROR: No matching distribution found for Foo_Bar>=9\n",
            log,
        );
        assert_eq!(f.package().as_deref(), Some("foo-bar"));
        assert_eq!(f.available(), "; versions with a wheel for it: 1.0, 2.0");
    }

    #[test]
    fn an_unreachable_index_is_not_a_missing_wheel() {
        let f = pip_failure(
            "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError(...: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/blake3/\n\
             ERROR: Could not find a version that satisfies the requirement blake3==1.0.8 (from versions: none)\n\
             ERROR: No matching distribution found for blake3==1.0.8\n",
            Path::new("/l"),
        );
        assert!(matches!(f, PipFailure::Offline { .. }), "{f:?}");
    }
}
