//! The format version of a report folder's files. `plan.json` and every line of
//! `results.jsonl` carry `"format": N`, so that a reader can tell a file from another
//! arena-sweep from a damaged one.
//!
//! Version 1 is every file written before versions existed (no `format` field); this
//! build writes [`CURRENT`] and reads every version in [`READS`]. `report`, `run
//! --resume` and `merge` read both files through [`check`], which refuses a newer or
//! unknown version with an error that names the file, its version and the versions
//! this build reads, instead of misreading the file or skipping its lines as
//! unreadable.
//!
//! | version | what changed |
//! |---------|--------------|
//! | 1       | (no `format` field) |
//! | 2       | the `format` field itself; failure kinds and driver messages are typed, with the same strings |
//! | 3       | the control arm: plan.json's `control`, and runs at 0 Rust threads in results.jsonl are control runs (no native call) |

use std::fmt::Display;
use std::ops::RangeInclusive;

use serde::Deserialize;
use serde_json::Value;

use crate::error::usage;

/// The version this build writes.
pub const CURRENT: u32 = 3;

/// The versions this build reads.
pub const READS: RangeInclusive<u32> = 1..=CURRENT;

/// The version of a file without a `format` field: written before versions existed.
pub fn unversioned() -> u32 {
    1
}

/// Only the `format` field of a JSON object, whatever else it holds.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<Value>,
}

/// Check the version of one JSON document (a plan.json, or one line of
/// results.jsonl); `what` names it in the error ("reports/x/plan.json", "... line 3").
/// Text that is not a JSON object passes: the caller's own parsing says what is wrong
/// with it.
pub fn check(json: &[u8], what: impl Display) -> anyhow::Result<()> {
    match serde_json::from_slice::<Probe>(json) {
        Ok(Probe { format: None }) | Err(_) => Ok(()),
        Ok(Probe {
            format: Some(found),
        }) => check_version(&found, what),
    }
}

/// Check a version already read (a `format` field). The error is a usage error
/// (exit code 2): the folder given is not one this build can read.
pub fn check_version(found: &Value, what: impl Display) -> anyhow::Result<()> {
    let reads = format!(
        "this build of arena-sweep ({}) reads format versions {} to {} (1: files without a `format` field)",
        env!("CARGO_PKG_VERSION"),
        READS.start(),
        READS.end()
    );
    match found.as_u64() {
        Some(v) if v <= u64::from(u32::MAX) && READS.contains(&(v as u32)) => Ok(()),
        Some(v) if v > u64::from(*READS.end()) => Err(usage(format!(
            "{what} has format version {v}, written by a newer arena-sweep; {reads}. Read it with a newer arena-sweep."
        ))),
        _ => Err(usage(format!(
            "{what} has format version {found}, which no arena-sweep writes; {reads}. Is the file damaged?"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unversioned_and_current_files_pass() {
        assert!(check(br#"{"plan":{}}"#, "plan.json").is_ok());
        assert!(check(br#"{"format":1,"plan":{}}"#, "plan.json").is_ok());
        assert!(check(br#"{"format":2}"#, "plan.json").is_ok());
        assert!(check(br#"{"format":3}"#, "plan.json").is_ok());
        // Not an object: left to the caller's parser.
        assert!(check(b"{\"format\":2, \"run_id\": \"x", "results.jsonl line 3").is_ok());
    }

    #[test]
    fn newer_and_unknown_versions_are_refused_with_the_file_and_the_versions_read() {
        let e = check(br#"{"format":4}"#, "r/plan.json").unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
        let e = e.to_string();
        assert!(
            e.starts_with("r/plan.json has format version 4, written by a newer arena-sweep")
                && e.contains("reads format versions 1 to 3"),
            "{e}"
        );
        for bad in [r#"{"format":0}"#, r#"{"format":"two"}"#, r#"{"format":-1}"#] {
            let e = check(bad.as_bytes(), "r/results.jsonl line 1")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("r/results.jsonl line 1 has format version")
                    && e.contains("which no arena-sweep writes")
                    && e.contains("reads format versions 1 to 3"),
                "{bad}: {e}"
            );
        }
    }
}
