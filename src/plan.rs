//! Flags (and later matrix files) -> a validated [`Plan`]: every cell and every run
//! listed, before anything is spawned. All input validation lives here or below.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;
use crate::error::usage;
use crate::matrix::{find_matrix, MatrixFile};
use crate::model::{Binding, Build};
use crate::results::{Cell, Point};
use crate::risk::Thresholds;
use crate::tunables::{
    adhoc_profile, default_dirs, find_profile, with_emulated_cores, Catalog, PlanError, Profile,
};
use crate::workload::WorkloadSpec;

pub mod child_env;
mod pattern_flags;
pub use child_env::StartMode;
use pattern_flags::{check_patterns_fit, parse_patterns};

/// A plan error is the user's input: exit code 2.
fn plan_usage(e: PlanError) -> anyhow::Error {
    usage(e.to_string())
}

pub use crate::model::PatternSpec;

/// What will run, fully resolved. Written to plan.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// The matrix file the plan came from, if any.
    pub matrix: Option<PathBuf>,
    pub description: String,
    /// --emulate-cores, when given.
    pub emulate_cores: Option<u32>,
    /// --workload, when given: the user's code replaces the PoC patterns.
    pub workload: Option<WorkloadSpec>,
    pub python_threads: Vec<u32>,
    pub rust_threads: Vec<u32>,
    pub iterations: u32,
    pub sleep_ms: u32,
    pub reps: u32,
    /// Rounds of the workload within each run (`--rounds`): the parent snapshots after
    /// each. Plans written before rounds existed ran one.
    #[serde(default = "crate::model::one_round")]
    pub rounds: u32,
    pub builds: Vec<Build>,
    pub bindings: Vec<Binding>,
    pub patterns: Vec<PatternSpec>,
    pub profiles: Vec<Profile>,
    pub sample_interval_ms: f64,
    pub settle_ms: f64,
    pub timeout_s: f64,
    /// --max-rss in KiB: runs above it are killed and recorded as failed.
    #[serde(default)]
    pub max_rss_kib: Option<u64>,
    pub floor_mib: f64,
    pub thresholds: Thresholds,
    pub seed: u64,
    /// How the Python threads start (`--start`).
    #[serde(default = "StartMode::before_the_choice")]
    pub start: StartMode,
    /// Every child's environment before its profile's variables: LC_ALL, PATH and
    /// `--env`/`--pass-env` (see [`child_env`]).
    #[serde(default = "child_env::base")]
    pub env: Vec<(String, String)>,
    /// Ask each child for glibc's own account after its last snapshot (`--verify`).
    #[serde(default)]
    pub verify: bool,
    /// Run the control arm: for every Python thread count (and build, profile, binding
    /// and pattern), runs that call nothing native, so that each point's native effect
    /// is its delta net of what the Python threads themselves leave (`--no-control`
    /// turns it off). Plans written before the control arm existed have none.
    #[serde(default)]
    pub control: bool,
}

/// Shard `k` of `n` (0-based), for spreading a plan over hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// A flag typed on the command line wins; else the matrix; else the flag's default.
fn pick<T: Clone>(typed: bool, flag: &T, file: Option<&T>) -> T {
    match (typed, file) {
        (false, Some(v)) => v.clone(),
        _ => flag.clone(),
    }
}

/// The GIL delta floor and the sampling interval make sense.
fn check_measurement(args: &RunArgs) -> Result<()> {
    if !(args.floor_mib.is_finite() && args.floor_mib > 0.0) {
        return Err(usage(format!(
            "--floor-mib {}: the floor must be a positive number of MiB",
            args.floor_mib
        )));
    }
    if args.sample_interval < Duration::from_micros(100) {
        return Err(usage("--sample-interval: sampling faster than every 100us measures the sampler, not the workload"));
    }
    Ok(())
}

/// `--workload`, loaded, and refused with the flags it replaces.
fn workload_of(args: &RunArgs, given: &dyn Fn(&str) -> bool) -> Result<Option<WorkloadSpec>> {
    let workload = args
        .workload
        .as_deref()
        .map(|w| crate::workload::load(w, &args.workload_params))
        .transpose()?;
    if workload.is_none() && given("workload_params") {
        return Err(usage("--workload-params needs --workload"));
    }
    if workload.is_some() {
        if let Some(flag) = ["patterns", "pattern_params", "bindings"]
            .iter()
            .find(|f| given(f))
        {
            let flag = match *flag {
                "patterns" => "--pattern",
                "bindings" => "--binding",
                _ => "--pattern-params",
            };
            return Err(usage(format!(
                "--workload replaces the PoC's patterns and bindings; drop {flag}"
            )));
        }
    }
    Ok(workload)
}

/// The allocator profiles: `--tunables` names, else the matrix's, else glibc-default
/// (unless `--tunable` makes an ad-hoc one), each with `--emulate-cores` applied.
fn profiles_of(args: &RunArgs, m: Option<&MatrixFile>) -> Result<Vec<Profile>> {
    let catalog = Catalog::for_host();
    let dirs = default_dirs("tunables");
    let mut profiles: Vec<Profile> = if !args.tunables.is_empty() {
        args.tunables
            .iter()
            .map(|name| {
                find_profile(name, &dirs, &catalog).map_err(|e| match e.file {
                    // The error already names the file (and line).
                    Some(_) => usage(e.to_string()),
                    None => usage(format!("--tunables {name}: {e}")),
                })
            })
            .collect::<Result<_>>()?
    } else if let Some(p) = m
        .map(|m| m.profiles(&dirs, &catalog))
        .transpose()
        .map_err(plan_usage)?
        .flatten()
    {
        p
    } else if args.tunable.is_empty() {
        vec![Profile::glibc_default()]
    } else {
        Vec::new()
    };
    if !args.tunable.is_empty() {
        profiles.push(adhoc_profile(&args.tunable, &catalog).map_err(plan_usage)?);
    }
    if let Some(n) = args.emulate_cores.and_then(NonZeroU32::new) {
        profiles = profiles
            .into_iter()
            .map(|p| with_emulated_cores(p, n))
            .collect();
    }
    for (i, p) in profiles.iter().enumerate() {
        if profiles[..i].iter().any(|q| q.name == p.name) {
            return Err(usage(format!("profile `{}` is listed twice", p.name)));
        }
    }
    Ok(profiles)
}

/// One run to execute: a cell, a repetition, and what it needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSlot {
    pub cell: Cell,
    pub rep: u32,
    pub pattern_params: String,
    pub profile_index: usize,
}

impl Plan {
    /// Build the plan from flags and, with `--matrix`, a matrix file. `explicit` lists
    /// the flags typed on the command line: they override the file; the file's values
    /// override the flags' defaults.
    pub fn from_args(args: &RunArgs, explicit: &[&str]) -> Result<Plan> {
        check_measurement(args)?;
        let matrix = match &args.matrix {
            Some(m) => Some(find_matrix(m, &default_dirs("matrices")).map_err(plan_usage)?),
            None => None,
        };
        let given = |id: &str| explicit.contains(&id);
        let m = matrix.as_ref();
        let python_threads = pick(
            given("python_threads"),
            &args.python_threads.0,
            m.and_then(|m| m.python_threads.as_ref()),
        );
        let rust_threads = pick(
            given("rust_threads"),
            &args.rust_threads.0,
            m.and_then(|m| m.rust_threads.as_ref()),
        );
        let iterations = pick(
            given("iterations"),
            &args.iterations,
            m.and_then(|m| m.iterations.as_ref()),
        );
        let sleep_ms = pick(
            given("sleep_ms"),
            &args.sleep_ms,
            m.and_then(|m| m.sleep_ms.as_ref()),
        );
        let reps = pick(given("reps"), &args.reps, m.and_then(|m| m.reps.as_ref()));
        let workload = workload_of(args, &given)?;
        let patterns = match (&workload, m.and_then(|m| m.patterns.clone())) {
            (Some(w), _) => vec![PatternSpec {
                name: w.pattern_name(),
                params: w.params.clone(),
            }],
            (None, Some(p)) if !given("patterns") && !given("pattern_params") => p,
            _ => parse_patterns(&args.patterns, &args.pattern_params)?,
        };
        check_patterns_fit(&patterns, rust_threads.iter().copied().max().unwrap_or(1))?;
        let mut bindings = match &workload {
            // The user's code decides how it calls native code.
            Some(_) => vec![Binding::Workload],
            None => pick(
                given("bindings"),
                &args.bindings,
                m.and_then(|m| m.bindings.as_ref()),
            ),
        };
        bindings.dedup();
        let builds = m
            .and_then(|m| m.builds.clone())
            .unwrap_or_else(|| Build::BOTH.to_vec());
        let profiles = profiles_of(args, m)?;
        // A workload's `# settle:` line, unless --settle is typed.
        let settle_ms = match workload.as_ref().and_then(|w| w.settle_ms) {
            Some(ms) if !given("settle") => ms,
            _ => args.settle.as_secs_f64() * 1e3,
        };
        Ok(Plan {
            name: m.map_or_else(|| "adhoc".to_string(), |m| m.name.clone()),
            matrix: m.map(|m| m.path.clone()),
            description: m.and_then(|m| m.description.clone()).unwrap_or_default(),
            emulate_cores: args.emulate_cores,
            workload,
            python_threads,
            rust_threads,
            iterations,
            sleep_ms,
            reps,
            rounds: pick(
                given("rounds"),
                &args.rounds,
                m.and_then(|m| m.rounds.as_ref()),
            ),
            builds,
            bindings,
            patterns,
            profiles,
            sample_interval_ms: args.sample_interval.as_secs_f64() * 1e3,
            settle_ms,
            timeout_s: args.timeout.as_secs_f64(),
            max_rss_kib: args.max_rss,
            floor_mib: args.floor_mib,
            thresholds: Thresholds::default(),
            // Without --seed, the clock's nanoseconds: another order each time.
            seed: args.seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            }),
            start: args.start,
            env: child_env::resolve(&args.env, &args.pass_env, |n| std::env::var(n).ok())?,
            verify: args.verify,
            control: !args.no_control,
        })
    }

    /// Every point of the grid, in a fixed order, each Python thread count's control
    /// point (0 Rust threads) first when the plan has a control arm.
    pub fn points(&self) -> Vec<(Point, String, usize)> {
        let mut out = Vec::new();
        let controls: &[u32] = if self.control { &[0] } else { &[] };
        for (pi, profile) in self.profiles.iter().enumerate() {
            for binding in &self.bindings {
                for pattern in &self.patterns {
                    for &p in &self.python_threads {
                        for &r in controls.iter().chain(&self.rust_threads) {
                            out.push((
                                Point {
                                    binding: *binding,
                                    profile: profile.name.clone(),
                                    pattern: pattern.name.clone(),
                                    python_threads: p,
                                    rust_threads: r,
                                },
                                pattern.params.clone(),
                                pi,
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// Every run, in execution order. Repetition by repetition, the points are
    /// shuffled (seeded by `seed` and the repetition), and each point's GIL and nogil
    /// runs stay adjacent, in a seeded random order, so that slow drift of the machine
    /// (page cache, thermal state) spreads over both builds instead of biasing one.
    pub fn runs(&self) -> Vec<RunSlot> {
        self.runs_of_shard(None)
    }

    /// The runs of shard `k` of `n` (points are dealt round-robin in grid order, so a
    /// point's GIL and nogil runs always land on the same host), in execution order.
    pub fn runs_of_shard(&self, shard: Option<Shard>) -> Vec<RunSlot> {
        let points: Vec<_> = self
            .points()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.is_none_or(|s| i % s.n as usize == s.k as usize))
            .map(|(_, p)| p)
            .collect();
        let mut out = Vec::with_capacity(points.len() * self.builds.len() * self.reps as usize);
        for rep in 0..self.reps {
            // splitmix64: small, and seeded by its state, so a seed keeps its order.
            let mut rng = SplitMix64::seed_from_u64(
                self.seed ^ (u64::from(rep) + 1).wrapping_mul(0xA076_1D64_78BD_642F),
            );
            let mut order: Vec<usize> = (0..points.len()).collect();
            // Fisher-Yates.
            for i in (1..order.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            for idx in order {
                let (point, params, profile_index) = &points[idx];
                let mut builds = self.builds.clone();
                if rng.next_u64() & 1 == 1 {
                    builds.reverse();
                }
                for build in builds {
                    out.push(RunSlot {
                        cell: Cell {
                            build,
                            point: point.clone(),
                        },
                        rep,
                        pattern_params: params.clone(),
                        profile_index: *profile_index,
                    });
                }
            }
        }
        out
    }

    pub fn max_python_threads(&self) -> u32 {
        self.python_threads.iter().copied().max().unwrap_or(1)
    }

    pub fn max_rust_threads(&self) -> u32 {
        self.rust_threads.iter().copied().max().unwrap_or(1)
    }

    pub fn floor_kib(&self) -> f64 {
        self.floor_mib * 1024.0
    }
}

#[cfg(test)]
impl Plan {
    /// Tests build plans from a command line, as main does.
    pub fn from_argv(argv: &[&str]) -> Result<Plan> {
        let (args, explicit) = crate::cli::parse_run(argv);
        Plan::from_args(&args, &explicit)
    }
}

#[cfg(test)]
mod tests;

/// Parse `--shard K/N`, or `--shard N` with K from SLURM_ARRAY_TASK_ID or
/// JOB_COMPLETION_INDEX (`env` looks a variable up, so tests need no real environment).
pub fn parse_shard(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
    let bad = |why: String| usage(format!("--shard {text}: {why}"));
    let num = |s: &str, what: &str| -> Result<u32> {
        s.trim()
            .parse::<u32>()
            .map_err(|_| bad(format!("{what} `{}` is not a whole number", s.trim())))
    };
    let (k, n) = match text.split_once('/') {
        Some((k, n)) => (num(k, "K")?, num(n, "N")?),
        None => {
            let n = num(text, "N")?;
            let (var, value) = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
                .iter()
                .find_map(|v| env(v).map(|x| (*v, x)))
                .ok_or_else(|| {
                    bad("give K/N, or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX".into())
                })?;
            let k = value
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("{var}={value} is not a whole number")))?;
            (k, n)
        }
    };
    if n == 0 {
        return Err(bad("N must be at least 1".into()));
    }
    if k >= n {
        return Err(bad(format!(
            "K={k} is not below N={n}; shards are numbered 0..N-1 (with Slurm, use --array=0-{})",
            n - 1
        )));
    }
    Ok(Shard { k, n })
}

#[cfg(test)]
mod shard_tests;
