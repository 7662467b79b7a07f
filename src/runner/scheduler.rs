//! The scheduler: every slot of a plan (or of its shard), in the plan's order, GIL
//! and nogil runs of a point next to each other, each run handed to an
//! [`Executor`] and its record appended to results.jsonl as it ends. Slots already
//! recorded (`--resume`) are skipped; SIGINT/SIGTERM stops it between runs, without
//! recording the run in flight.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::executor::{self, Executor, RunSpec};
pub use super::out_dir::{check_out_dir, new_report_dir, utc_stamp, RECORD_BYTES_ESTIMATE};
pub use super::plan_file::{load_plan_file, write_plan_file, HarnessUsage, MergedFrom, PlanFile};
use crate::ext::{self, ExtBuild, Variant};
use crate::model::Build;
use crate::plan::{Plan, RunSlot, Shard};
use crate::progress::Progress;
use crate::provenance::{Host, Provenance};
use crate::python::discover::Pair;
use crate::results::{FailureKind, ResultsWriter, RunRecord};

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
    /// The driver file each build's children run.
    pub drivers: BTreeMap<Build, PathBuf>,
    pub dir: PathBuf,
    pub provenance: Provenance,
    pub shard: Option<Shard>,
    /// The program each build's children start (a workload's virtual environment, or
    /// the interpreter itself).
    pub pythons: BTreeMap<Build, PathBuf>,
    /// Run ids already recorded (when resuming); they are not run again.
    pub done: HashSet<String>,
    /// The plan.json of the folder being resumed: its provenance describes the
    /// recorded runs, so it stays.
    pub resumed: Option<PlanFile>,
}

/// What [`Sweep::execute`] did.
#[derive(Debug)]
pub struct Executed {
    /// The new records, in the order they ran (each also in results.jsonl).
    pub records: Vec<RunRecord>,
    /// SIGINT/SIGTERM stopped the sweep before its last slot.
    pub interrupted: bool,
}

/// The padding variable's length is drawn from 0..PAD_MAX per run.
pub const PAD_MAX: u64 = 4096;

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

    /// Write plan.json: `complete` once every run is recorded; `harness` at the end.
    /// A resumed folder keeps its plan file, with these two updated.
    pub fn write_plan(&self, complete: bool, harness: Option<HarnessUsage>) -> Result<()> {
        let file = match &self.resumed {
            Some(saved) => PlanFile {
                complete,
                harness: harness.or(saved.harness),
                ..saved.clone()
            },
            None => PlanFile {
                format: crate::format::CURRENT,
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
            },
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
            driver: &self.drivers[&slot.cell.build],
            env: profile.child_env(),
            glibc_tunables: profile.glibc_tunables(),
            allocator: profile.allocator.label(),
            iterations: self.plan.iterations,
            sleep_ms: self.plan.sleep_ms,
            rounds: self.plan.rounds,
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

    /// The padding length of a run: it depends on the seed and the run, not on what
    /// ran before, so a resumed plan pads each run as the first attempt would have.
    pub fn pad_len(&self, run_id: &str) -> usize {
        let hash =
            crate::paths::hash_parts([self.plan.seed.to_le_bytes().as_slice(), run_id.as_bytes()]);
        (u64::from_str_radix(&hash[..8], 16).unwrap_or(0) % PAD_MAX) as usize
    }

    /// Run every slot not yet recorded through `executor`; each record is appended
    /// to results.jsonl as it ends. Stops early, without recording the run in flight,
    /// when the executor says so (SIGINT/SIGTERM). A run on the wrong build (the GIL
    /// on in the free-threaded interpreter, or off in the other) is recorded, then
    /// stops the sweep with an error: every later run of it would measure the wrong
    /// thing.
    pub fn execute(&self, executor: &mut dyn Executor) -> Result<Executed> {
        let all = self.plan.runs_of_shard(self.shard);
        let slots: Vec<&RunSlot> = all
            .iter()
            .filter(|s| !self.done.contains(&s.cell.run_id(s.rep)))
            .collect();
        let mut writer = ResultsWriter::open(&self.dir.join("results.jsonl"))?;
        let progress = Progress::bar(slots.len() as u64, "runs");
        let mut done = Executed {
            records: Vec::with_capacity(slots.len()),
            interrupted: false,
        };
        let mut last = String::new();
        for slot in slots.iter().copied() {
            if executor.stop_requested() {
                done.interrupted = true;
                break;
            }
            let pad = self.pad_len(&slot.cell.run_id(slot.rep));
            progress.set_message(format!("{} rep {}{last}", slot.cell.label(), slot.rep + 1));
            let record = executor.run(&self.spec(slot, pad));
            if record
                .failure
                .as_ref()
                .is_some_and(|f| f.kind == FailureKind::Interrupted)
            {
                // Not a result: --resume runs it again.
                done.interrupted = true;
                break;
            }
            writer.append(&record)?;
            progress.inc(1);
            let line = run_line(&record, progress.position(), slots.len());
            last = format!(" | last: {}", line.split_once(": ").map_or("", |x| x.1));
            progress.println(line);
            if let Some(f) = record.failure.as_ref().filter(|f| f.kind.wrong_build()) {
                progress.finish();
                anyhow::bail!(
                    "{} ({}); the sweep stopped. The failed run is recorded in {}",
                    f.message,
                    record.interpreter.display(),
                    self.dir.join("results.jsonl").display()
                );
            }
            done.records.push(record);
        }
        progress.finish();
        writer.sync()?;
        Ok(done)
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
            "{head}: delta {}, peak {}, {} arena heaps, {} threads, {:.2} s",
            crate::units::mib(m.delta_kib),
            crate::units::mib(m.peak_rss_kib),
            m.arena_heaps,
            m.peak_threads,
            m.wall_s
        ),
        (None, Some(f)) => format!("{head}: FAILED ({}) {}", f.kind, f.message),
        (None, None) => format!("{head}: no result"),
    }
}
