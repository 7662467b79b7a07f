//! A sweep from start to end: check the plan against the machine, get interpreters and
//! extension builds, create the report folder, then run every slot of the plan in
//! order, appending each record to results.jsonl as it ends.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::executor::{self, RunSpec};
use crate::error::usage;
use crate::ext::{self, ExtBuild, Variant};
use crate::plan::{Plan, RunSlot, Shard};
use crate::progress::Progress;
use crate::provenance::{Host, Provenance};
use crate::python::discover::Pair;
use crate::python::inspect::Build;
use crate::results::{ResultsWriter, RunRecord};

/// plan.json: the resolved plan, where it ran, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
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

/// Read `<dir>/plan.json`.
pub fn load_plan_file(dir: &Path) -> Result<PlanFile> {
    let path = dir.join("plan.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{} is not a report folder: cannot read {}",
            dir.display(),
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan.json arena-sweep can read", path.display()))
}

/// Write `<dir>/plan.json` atomically (write a temporary file, then rename).
pub fn write_plan_file(dir: &Path, file: &PlanFile) -> Result<()> {
    let path = dir.join("plan.json");
    let tmp = dir.join(".plan.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(file)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What `PlanFile::child_env` records for a plan.
pub fn child_env_of(plan: &Plan) -> BTreeMap<String, Vec<(String, String)>> {
    plan.profiles
        .iter()
        .map(|p| {
            let mut env = plan.env.clone();
            env.extend(p.child_env());
            env.push((
                executor::PAD_VAR.to_string(),
                format!("<0 to {} x characters, per run>", PAD_MAX - 1),
            ));
            (p.name.clone(), env)
        })
        .collect()
}

/// Everything prepared for a sweep.
pub struct Sweep {
    pub plan: Plan,
    pub pair: Pair,
    pub exts: BTreeMap<(Build, Variant), ExtBuild>,
    pub driver: PathBuf,
    pub dir: PathBuf,
    pub provenance: Provenance,
    pub shard: Option<Shard>,
    /// The program each build's children start (a workload's virtual environment, or
    /// the interpreter itself).
    pub pythons: BTreeMap<Build, PathBuf>,
    /// Run ids already recorded (when resuming); they are not run again.
    pub done: std::collections::HashSet<String>,
}

/// The padding variable's length is drawn from 0..PAD_MAX per run.
pub const PAD_MAX: u64 = 4096;

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

/// Build (or find cached) every extension variant the plan needs, for both builds.
pub fn ensure_extensions(
    plan: &Plan,
    pair: &Pair,
    out: &mut dyn Write,
) -> Result<BTreeMap<(Build, Variant), ExtBuild>> {
    let mut exts = BTreeMap::new();
    let variants: std::collections::BTreeSet<Variant> = plan
        .profiles
        .iter()
        .map(|p| p.allocator.variant())
        .collect();
    for variant in variants {
        for &build in &plan.builds {
            let b = ext::ensure(pair.get(build), variant, out)?;
            exts.insert((build, variant), b);
        }
    }
    Ok(exts)
}

impl Sweep {
    /// The run ids this folder is meant to hold.
    pub fn run_ids(&self) -> Vec<String> {
        self.plan
            .runs_of_shard(self.shard)
            .iter()
            .map(|s| s.cell.run_id(s.rep))
            .collect()
    }

    pub fn write_plan(&self, complete: bool, harness: Option<HarnessUsage>) -> Result<()> {
        let file = PlanFile {
            plan: self.plan.clone(),
            shard: self.shard,
            provenance: self.provenance.clone(),
            runs: self.run_ids(),
            complete,
            merged_from: Vec::new(),
            harness,
            child_env: child_env_of(&self.plan),
            child_programs: self
                .plan
                .builds
                .iter()
                .map(|b| (b.to_string(), self.program(*b).to_path_buf()))
                .collect(),
        };
        write_plan_file(&self.dir, &file)
    }

    pub fn provenance(pair: &Pair, exts: &BTreeMap<(Build, Variant), ExtBuild>) -> Provenance {
        Provenance {
            tool: "arena-sweep".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            host: Host::collect(),
            interpreters: vec![pair.gil.clone(), pair.nogil.clone()],
            extensions: exts.values().cloned().collect(),
            command_line: std::env::args().collect(),
            created_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        }
    }

    /// The program a build's children start.
    fn program(&self, build: Build) -> &Path {
        self.pythons
            .get(&build)
            .unwrap_or(&self.pair.get(build).path)
    }

    fn spec<'a>(&'a self, slot: &RunSlot, pad: usize) -> RunSpec<'a> {
        let profile = &self.plan.profiles[slot.profile_index];
        let interpreter = self.pair.get(slot.cell.build);
        RunSpec {
            cell: slot.cell.clone(),
            rep: slot.rep,
            pattern_params: slot.pattern_params.clone(),
            interpreter,
            python: self.program(slot.cell.build),
            ext: &self.exts[&(slot.cell.build, profile.allocator.variant())],
            workload: self.plan.workload.as_ref(),
            driver: &self.driver,
            env: profile.child_env(),
            glibc_tunables: profile.glibc_tunables(),
            allocator: profile.allocator.label(),
            iterations: self.plan.iterations,
            sleep_ms: self.plan.sleep_ms,
            sample_interval: Duration::from_secs_f64(self.plan.sample_interval_ms / 1e3),
            settle: Duration::from_secs_f64(self.plan.settle_ms / 1e3),
            timeout: Duration::from_secs_f64(self.plan.timeout_s),
            max_rss_kib: self.plan.max_rss_kib,
            env_pad_len: pad,
            start: self.plan.start,
            verify: self.plan.verify,
            base_env: &self.plan.env,
        }
    }

    /// Run every slot not yet recorded; returns the new records (each also appended
    /// to results.jsonl as it ends). Stops early, without recording the run in flight,
    /// on SIGINT/SIGTERM.
    pub fn execute(&self) -> Result<Vec<RunRecord>> {
        let all = self.plan.runs_of_shard(self.shard);
        let slots: Vec<&RunSlot> = all
            .iter()
            .filter(|s| !self.done.contains(&s.cell.run_id(s.rep)))
            .collect();
        let mut writer = ResultsWriter::open(&self.dir.join("results.jsonl"))?;
        let progress = Progress::bar(slots.len() as u64, "runs");
        let mut records = Vec::with_capacity(slots.len());
        let mut last = String::new();
        for slot in slots.iter().copied() {
            if super::interrupted() {
                break;
            }
            // The padding length depends on the seed and the run, not on what ran before,
            // so a resumed plan pads each run as the first attempt would have.
            let run_id = slot.cell.run_id(slot.rep);
            let pad = (u64::from_str_radix(
                &crate::paths::hash_parts([
                    self.plan.seed.to_le_bytes().as_slice(),
                    run_id.as_bytes(),
                ])[..8],
                16,
            )
            .unwrap_or(0)
                % PAD_MAX) as usize;
            progress.set_message(format!("{} rep {}{last}", slot.cell.label(), slot.rep + 1));
            let record = executor::run(&self.spec(slot, pad));
            if record
                .failure
                .as_ref()
                .is_some_and(|f| f.kind == "interrupted")
            {
                // Not a result: --resume runs it again.
                break;
            }
            writer.append(&record)?;
            progress.inc(1);
            let line = run_line(&record, progress.position(), slots.len());
            last = format!(" | last: {}", line.split_once(": ").map_or("", |x| x.1));
            progress.println(line);
            if let Some(f) = record
                .failure
                .as_ref()
                .filter(|f| f.kind == "gil_enabled" || f.kind == "gil_disabled")
            {
                // Every later run of this build would measure the wrong thing.
                progress.finish();
                anyhow::bail!(
                    "{} ({}); the sweep stopped. The failed run is recorded in {}",
                    f.message,
                    record.interpreter.display(),
                    self.dir.join("results.jsonl").display()
                );
            }
            records.push(record);
        }
        progress.finish();
        writer.sync()?;
        Ok(records)
    }
}

/// One line per finished run.
pub fn run_line(r: &RunRecord, n: u64, total: usize) -> String {
    let head = format!(
        "  [{n}/{total}] {:<5} {} rep {}",
        r.cell.build.as_str(),
        r.cell.point.label(),
        r.rep + 1
    );
    match (&r.metrics, &r.failure) {
        (Some(m), _) => format!(
            "{head}: delta {:.2} MiB, peak {:.1} MiB, {} arena heaps, {} threads, {:.2} s",
            m.delta_kib as f64 / 1024.0,
            m.peak_rss_kib as f64 / 1024.0,
            m.arena_heaps,
            m.peak_threads,
            m.wall_s
        ),
        (None, Some(f)) => format!("{head}: FAILED ({}) {}", f.kind, f.message),
        (None, None) => format!("{head}: no result"),
    }
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
