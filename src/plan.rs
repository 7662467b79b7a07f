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
use crate::model::Build;
use crate::results::{Cell, Point};
use crate::risk::Thresholds;
use crate::tunables::{
    adhoc_profile, default_dirs, find_profile, with_emulated_cores, Catalog, PlanError, Profile,
};
use crate::workload::WorkloadSpec;

pub mod child_env;
pub use child_env::StartMode;

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
    pub builds: Vec<Build>,
    pub bindings: Vec<String>,
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
            Some(_) => vec!["workload".to_string()],
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
            builds,
            bindings,
            patterns,
            profiles,
            sample_interval_ms: args.sample_interval.as_secs_f64() * 1e3,
            settle_ms: args.settle.as_secs_f64() * 1e3,
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
        })
    }

    /// Every point of the grid, in a fixed order.
    pub fn points(&self) -> Vec<(Point, String, usize)> {
        let mut out = Vec::new();
        for (pi, profile) in self.profiles.iter().enumerate() {
            for binding in &self.bindings {
                for pattern in &self.patterns {
                    for &p in &self.python_threads {
                        for &r in &self.rust_threads {
                            out.push((
                                Point {
                                    binding: binding.clone(),
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

/// `--pattern NAME[:PARAMS]` (repeatable) with `--pattern-params` for those without
/// their own parameters. Checked with the extension's own parser.
fn parse_patterns(flags: &[String], default_params: &str) -> Result<Vec<PatternSpec>> {
    let mut out: Vec<PatternSpec> = Vec::new();
    for flag in flags {
        let (name, params) = match flag.split_once(':') {
            Some((n, p)) => (n.trim(), p.trim()),
            None => (flag.trim(), default_params),
        };
        let spec = PatternSpec {
            name: name.to_string(),
            params: params.to_string(),
        };
        if let Err(e) = check_pattern_params(&spec.name, &spec.params) {
            let flag_name = if flag.contains(':') || default_params.is_empty() {
                "--pattern"
            } else {
                "--pattern-params"
            };
            return Err(usage(format!("{flag_name} {flag}: {e}")));
        }
        if out.iter().any(|p| p.name == spec.name) {
            return Err(usage(format!(
                "--pattern {name} is given twice; one grid point per pattern name keeps results apart"
            )));
        }
        out.push(spec);
    }
    Ok(out)
}

/// The largest single allocation this host lets a process make, in bytes, from
/// `/proc/meminfo` and `vm.overcommit_memory`: RAM + swap under the kernel's heuristic
/// overcommit (mode 0), the commit limit under mode 2, no host limit under mode 1.
/// None when it cannot be read.
fn host_allocation_limit() -> Option<(u64, String)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .ok()?
        .trim()
        .to_string();
    match mode.as_str() {
        "1" => None,
        "2" => Some((
            field("CommitLimit:")?,
            "the commit limit (vm.overcommit_memory=2)".into(),
        )),
        _ => {
            let (ram, swap) = (field("MemTotal:")?, field("SwapTotal:").unwrap_or(0));
            Some((ram + swap, "RAM + swap".into()))
        }
    }
}

/// Refuse patterns whose blocks this host cannot allocate, or whose bytes per call
/// overflow, before anything is spawned.
fn check_patterns_fit(patterns: &[PatternSpec], max_rust_threads: u32) -> Result<()> {
    let limit = host_allocation_limit();
    for spec in patterns {
        let Ok(w) = crate::patterns::parse(&spec.name, &spec.params) else {
            continue; // a workload's pseudo-pattern, checked elsewhere
        };
        let flag = if spec.params.is_empty() {
            spec.name.clone()
        } else {
            format!("{}:{}", spec.name, spec.params)
        };
        let block = w.pattern.largest_block() as u64;
        if let Some((max, what)) = &limit {
            if block > *max {
                return Err(usage(format!(
                    "--pattern {flag}: a block of {} GiB cannot be allocated on this host ({what} is {} GiB)",
                    block >> 30,
                    max >> 30
                )));
            }
        }
        let per_call = w
            .pattern
            .bytes_per_thread()
            .and_then(|b| (b as u64).checked_mul(u64::from(max_rust_threads)));
        if per_call.is_none() {
            return Err(usage(format!(
                "--pattern {flag}: the bytes one call asks for ({max_rust_threads} Rust threads) overflow a 64-bit count"
            )));
        }
    }
    Ok(())
}

/// Check pattern parameters with the same parser the extension uses.
fn check_pattern_params(pattern: &str, params: &str) -> std::result::Result<(), String> {
    crate::patterns::parse(pattern, params)
        .map(|_| ())
        .map_err(|e| e.0)
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
mod tests {
    use super::*;

    fn plan(extra: &[&str]) -> Result<Plan> {
        let mut v = vec!["arena-sweep"];
        v.extend_from_slice(extra);
        Plan::from_argv(&v)
    }

    #[test]
    fn every_run_once_with_builds_adjacent_and_a_seeded_order() {
        let a = |seed: &str| {
            plan(&[
                "--python-threads",
                "1,2,4",
                "--rust-threads",
                "1..=4",
                "--reps",
                "3",
                "--seed",
                seed,
            ])
            .unwrap()
        };
        let p = a("7");
        let runs = p.runs();
        assert_eq!(runs.len(), 3 * 4 * 2 * 3);
        let ids: std::collections::HashSet<String> =
            runs.iter().map(|r| r.cell.run_id(r.rep)).collect();
        assert_eq!(ids.len(), runs.len(), "no run twice");
        for pair in runs.chunks(2) {
            assert_eq!(
                pair[0].cell.point, pair[1].cell.point,
                "GIL and nogil of a point are adjacent"
            );
            assert_ne!(pair[0].cell.build, pair[1].cell.build);
            assert_eq!(pair[0].rep, pair[1].rep);
        }
        let first_builds: Vec<Build> = runs.chunks(2).map(|p| p[0].cell.build).collect();
        assert!(
            first_builds.contains(&Build::Gil) && first_builds.contains(&Build::Nogil),
            "either build may go first"
        );
        assert_eq!(runs, a("7").runs(), "the same seed gives the same order");
        assert_ne!(runs, a("8").runs(), "another seed gives another order");
        let rep0: Vec<&Point> = runs
            .iter()
            .filter(|r| r.rep == 0)
            .map(|r| &r.cell.point)
            .collect();
        let rep1: Vec<&Point> = runs
            .iter()
            .filter(|r| r.rep == 1)
            .map(|r| &r.cell.point)
            .collect();
        assert_ne!(rep0, rep1, "each repetition has its own order");
    }

    #[test]
    fn shards_partition_the_runs_by_point() {
        let p = plan(&[
            "--python-threads",
            "1..=3",
            "--rust-threads",
            "1,8",
            "--reps",
            "2",
            "--seed",
            "1",
        ])
        .unwrap();
        let all: std::collections::BTreeSet<String> =
            p.runs().iter().map(|r| r.cell.run_id(r.rep)).collect();
        let mut union = std::collections::BTreeSet::new();
        for k in 0..4 {
            for r in p.runs_of_shard(Some(Shard { k, n: 4 })) {
                assert!(union.insert(r.cell.run_id(r.rep)), "a run in two shards");
            }
        }
        assert_eq!(union, all);
    }

    #[test]
    fn bad_patterns_are_refused_with_the_flag() {
        let err = plan(&["--pattern", "seed", "--pattern-params", "sz=1"]).unwrap_err();
        assert!(
            err.to_string().contains("--pattern-params") && err.to_string().contains("sz"),
            "{err}"
        );
        assert_eq!(crate::error::exit_code(&err), 2);
        let err = plan(&["--pattern", "fragment:keep_every=0"]).unwrap_err();
        assert!(
            err.to_string().contains("--pattern fragment:keep_every=0")
                && err.to_string().contains("at least 1"),
            "{err}"
        );
        let err = plan(&["--pattern", "nope"]).unwrap_err();
        assert!(err.to_string().contains("unknown pattern `nope`"), "{err}");
        let err = plan(&["--pattern", "seed", "--pattern", "seed:size=1"]).unwrap_err();
        assert!(err.to_string().contains("given twice"), "{err}");
    }

    #[test]
    fn several_patterns_and_bindings() {
        let p = plan(&[
            "--pattern",
            "seed",
            "--pattern",
            "fragment:keep_every=16,size=4096",
            "--binding",
            "pyo3,pyo3-detach",
        ])
        .unwrap();
        assert_eq!(
            p.patterns[1],
            PatternSpec {
                name: "fragment".into(),
                params: "keep_every=16,size=4096".into()
            }
        );
        assert_eq!(p.bindings, vec!["pyo3", "pyo3-detach"]);
        assert_eq!(p.points().len(), 4);
    }

    #[test]
    fn typed_flags_override_the_matrix_and_the_matrix_overrides_defaults() {
        let p = plan(&["--matrix", "quick", "--reps", "7"]).unwrap();
        assert_eq!(p.name, "quick");
        assert_eq!(p.reps, 7, "typed on the command line");
        assert_eq!(
            p.python_threads,
            vec![1, 2],
            "from quick.toml, not the flag default 8"
        );
        assert_eq!(p.rust_threads, vec![2, 8]);
    }

    #[test]
    fn profiles_from_names_adhoc_flags_and_emulated_cores() {
        let p = plan(&[
            "--tunables",
            "glibc-default,arena-max-2",
            "--tunable",
            "glibc.malloc.trim_threshold=128K",
            "--emulate-cores",
            "64",
        ])
        .unwrap();
        let names: Vec<&str> = p.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["glibc-default@64cpus", "arena-max-2", "adhoc@64cpus"]
        );
        assert_eq!(p.profiles[0].glibc_tunables(), "glibc.malloc.arena_max=512");
        assert_eq!(
            p.profiles[1].glibc_tunables(),
            "glibc.malloc.arena_max=2",
            "a profile's own arena_max wins"
        );
        assert_eq!(
            p.profiles[2].glibc_tunables(),
            "glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=512"
        );
        let err = plan(&["--tunables", "arena-max-3"]).unwrap_err();
        assert!(err.to_string().contains("--tunables arena-max-3"), "{err}");
        assert_eq!(crate::error::exit_code(&err), 2);
        let err = plan(&["--tunable", "glibc.malloc.arena_max=0"]).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn a_workload_replaces_patterns_and_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.py");
        std::fs::write(
            &f,
            "# requires: blake3==1.0.8\ndef call(r, w, i):\n    pass\n",
        )
        .unwrap();
        let p = plan(&[
            "--workload",
            f.to_str().unwrap(),
            "--workload-params",
            "size=10",
        ])
        .unwrap();
        assert_eq!(
            p.patterns,
            vec![PatternSpec {
                name: "workload:w".into(),
                params: "size=10".into()
            }]
        );
        assert_eq!(p.bindings, vec!["workload"]);
        assert_eq!(p.workload.as_ref().unwrap().requires, vec!["blake3==1.0.8"]);
        let err = plan(&[
            "--workload",
            f.to_str().unwrap(),
            "--binding",
            "pyo3-detach",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("drop --binding"), "{err}");
        let err = plan(&["--workload-params", "a=1"]).unwrap_err();
        assert!(err.to_string().contains("needs --workload"), "{err}");
        let err = plan(&["--workload", "/no/such.py"]).unwrap_err();
        assert!(err.to_string().contains("--workload /no/such.py"), "{err}");
    }
}

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
mod shard_tests {
    use super::*;

    #[test]
    fn shard_forms() {
        let none = |_: &str| None;
        assert_eq!(parse_shard("1/4", none).unwrap(), Shard { k: 1, n: 4 });
        let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "2".to_string());
        assert_eq!(parse_shard("3", slurm).unwrap(), Shard { k: 2, n: 3 });
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "0".to_string());
        assert_eq!(parse_shard("2", k8s).unwrap(), Shard { k: 0, n: 2 });
        assert!(parse_shard("4/4", none)
            .unwrap_err()
            .to_string()
            .contains("0..N-1"));
        assert!(parse_shard("3", none)
            .unwrap_err()
            .to_string()
            .contains("SLURM_ARRAY_TASK_ID"));
        assert!(parse_shard("a/2", none)
            .unwrap_err()
            .to_string()
            .contains("not a whole number"));
        assert!(parse_shard("0/0", none).is_err());
    }
}
