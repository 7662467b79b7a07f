//! Flags (and later matrix files) -> a validated [`Plan`]: every cell and every run
//! listed, before anything is spawned. All input validation lives here or below.

use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;
use crate::error::usage;
use crate::python::inspect::Build;
use crate::results::{Cell, Point};
use crate::risk::Thresholds;
use crate::tunables::Profile;

/// A pattern with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSpec {
    pub name: String,
    pub params: String,
}

/// What will run, fully resolved. Written to plan.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
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
    pub floor_mib: f64,
    pub thresholds: Thresholds,
    pub seed: u64,
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
    pub fn from_args(args: &RunArgs) -> Result<Plan> {
        if !(args.floor_mib.is_finite() && args.floor_mib > 0.0) {
            return Err(usage(format!("--floor-mib {}: the floor must be a positive number of MiB", args.floor_mib)));
        }
        if args.sample_interval < Duration::from_micros(100) {
            return Err(usage("--sample-interval: sampling faster than every 100us measures the sampler, not the workload"));
        }
        if let Err(e) = check_pattern_params(&args.pattern, &args.pattern_params) {
            return Err(usage(format!("--pattern-params: {e}")));
        }
        let seed = args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
        Ok(Plan {
            name: "adhoc".into(),
            python_threads: args.python_threads.0.clone(),
            rust_threads: args.rust_threads.0.clone(),
            iterations: args.iterations,
            sleep_ms: args.sleep_ms,
            reps: args.reps,
            builds: Build::BOTH.to_vec(),
            bindings: vec![args.binding.clone()],
            patterns: vec![PatternSpec { name: args.pattern.clone(), params: args.pattern_params.clone() }],
            profiles: vec![Profile::glibc_default()],
            sample_interval_ms: args.sample_interval.as_secs_f64() * 1e3,
            settle_ms: args.settle.as_secs_f64() * 1e3,
            timeout_s: args.timeout.as_secs_f64(),
            floor_mib: args.floor_mib,
            thresholds: Thresholds::default(),
            seed,
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

    /// Every run, in execution order: repetition by repetition, each point's GIL and
    /// nogil runs adjacent, alternating which goes first.
    pub fn runs(&self) -> Vec<RunSlot> {
        let points = self.points();
        let mut out = Vec::with_capacity(points.len() * self.builds.len() * self.reps as usize);
        for rep in 0..self.reps {
            for (point, params, profile_index) in &points {
                let mut builds = self.builds.clone();
                if rep % 2 == 1 {
                    builds.reverse();
                }
                for build in builds {
                    out.push(RunSlot {
                        cell: Cell { build, point: point.clone() },
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

/// Check pattern parameters with the same parser the extension uses.
fn check_pattern_params(pattern: &str, params: &str) -> std::result::Result<(), String> {
    arena_poc_patterns::parse(pattern, params).map(|_| ()).map_err(|e| e.0)
}

/// The extension's pattern parser, compiled into the CLI too, so that a bad
/// `--pattern-params` is refused before anything runs.
#[path = "../poc-ext/src/patterns.rs"]
#[allow(dead_code)]
mod arena_poc_patterns;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> RunArgs {
        let mut v = vec!["arena-sweep"];
        v.extend_from_slice(extra);
        crate::cli::Cli::try_parse_from(v).unwrap().run
    }

    #[test]
    fn runs_pair_builds_and_alternate_their_order() {
        let plan = Plan::from_args(&args(&["--python-threads", "2", "--rust-threads", "4", "--reps", "2"])).unwrap();
        let runs = plan.runs();
        let order: Vec<(Build, u32)> = runs.iter().map(|r| (r.cell.build, r.rep)).collect();
        assert_eq!(order, vec![(Build::Gil, 0), (Build::Nogil, 0), (Build::Nogil, 1), (Build::Gil, 1)]);
    }

    #[test]
    fn bad_pattern_params_are_refused_with_the_flag() {
        let err = Plan::from_args(&args(&["--pattern", "seed", "--pattern-params", "sz=1"])).unwrap_err();
        assert!(err.to_string().contains("--pattern-params") && err.to_string().contains("sz"), "{err}");
        assert_eq!(crate::error::exit_code(&err), 2);
    }
}
