//! `plan.json`: the resolved plan of a report folder, where it ran, and how far it
//! got. Written when a sweep starts and again when it ends (atomically, so a killed
//! sweep leaves the previous version whole); read by `--resume`, `merge` and `report`,
//! which refuse a format they do not read (`crate::format`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Shard};
use crate::provenance::Provenance;

/// plan.json: the resolved plan, where it ran, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    /// The file's format version (`crate::format`); 1 for files written before
    /// versions existed. Written as [`crate::format::CURRENT`] whatever it was read as.
    #[serde(default = "crate::format::unversioned")]
    pub format: u32,
    pub plan: Plan,
    /// Set when this folder holds one shard of the plan.
    pub shard: Option<Shard>,
    pub provenance: Provenance,
    /// Every run id this folder is meant to hold, in execution order.
    pub runs: Vec<String>,
    /// False until every one of `runs` has a record.
    pub complete: bool,
    /// Every variable a child of each profile gets, in order (the padding's value
    /// differs per run and is described, not given).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub child_env: BTreeMap<String, Vec<(String, String)>>,
    /// The program each build's children start ("gil", "nogil"): the interpreter, or
    /// a workload's virtual environment of it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub child_programs: BTreeMap<String, PathBuf>,
    /// For a merged folder: the folders it was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedFrom>,
    /// What arena-sweep itself used (not its children), for the last invocation
    /// that ran in this folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<HarnessUsage>,
}

/// The parent's own CPU and memory (getrusage RUSAGE_SELF).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HarnessUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kib: u64,
    pub wall_s: f64,
}

impl HarnessUsage {
    pub fn now(started: std::time::Instant) -> Self {
        // SAFETY: getrusage fills the struct we pass.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        HarnessUsage {
            user_s: t(u.ru_utime),
            sys_s: t(u.ru_stime),
            max_rss_kib: u.ru_maxrss as u64,
            wall_s: started.elapsed().as_secs_f64(),
        }
    }
}

/// One input folder of `arena-sweep merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedFrom {
    pub dir: PathBuf,
    pub shard: Option<Shard>,
    pub host: String,
    pub runs: usize,
}

/// Read `<dir>/plan.json`, refusing a format this build does not read.
pub fn load_plan_file(dir: &Path) -> Result<PlanFile> {
    let path = dir.join("plan.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{} is not a report folder: cannot read {}",
            dir.display(),
            path.display()
        )
    })?;
    crate::format::check(&bytes, path.display())?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan.json arena-sweep can read", path.display()))
}

/// Write `<dir>/plan.json` atomically (write a temporary file, then rename), in this
/// build's format.
pub fn write_plan_file(dir: &Path, file: &PlanFile) -> Result<()> {
    let path = dir.join("plan.json");
    let tmp = dir.join(".plan.json.tmp");
    let bytes = if file.format == crate::format::CURRENT {
        serde_json::to_vec_pretty(file)?
    } else {
        serde_json::to_vec_pretty(&PlanFile {
            format: crate::format::CURRENT,
            ..file.clone()
        })?
    };
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reports")
            .join(name)
    }

    #[test]
    fn unversioned_plan_files_load_and_are_rewritten_in_the_current_format() {
        for name in ["arena-max-2", "glibc-default", "tunables"] {
            let text = std::fs::read_to_string(fixture(name).join("plan.json")).unwrap();
            assert!(!text.contains("\"format\""), "{name} is a version 1 file");
            let pf = load_plan_file(&fixture(name)).unwrap();
            assert_eq!(pf.format, 1, "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        write_plan_file(dir.path(), &load_plan_file(&fixture("tunables")).unwrap()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
        assert!(text.starts_with("{\n  \"format\": 3,"), "{}", &text[..40]);
        assert_eq!(load_plan_file(dir.path()).unwrap().format, 3);
    }

    #[test]
    fn a_plan_file_from_the_future_is_refused_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("tunables").join("plan.json")).unwrap())
                .unwrap();
        v["format"] = 4.into();
        std::fs::write(dir.path().join("plan.json"), v.to_string()).unwrap();
        let e = format!("{:#}", load_plan_file(dir.path()).unwrap_err());
        let path = dir.path().join("plan.json");
        assert!(
            e.starts_with(&format!("{} has format version 4", path.display()))
                && e.contains("newer arena-sweep")
                && e.contains("reads format versions 1 to 3"),
            "{e}"
        );
    }
}
