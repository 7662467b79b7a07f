//! From a sweep to a decision. The amplification ratio and the risk levels are pure
//! functions of measured deltas, in `crate::amplification` (below `aggregate`, which
//! uses them); they are re-exported here.
//!
//! Submodules turn a sweep into a decision: `ranking` (profiles by final and peak RSS
//! with their throughput cost, and the Pareto front), `evidence` (the rule that says
//! whether a profile's difference from glibc-default is real and worth deploying) and
//! `advice` (the recommended profile or "keep the default", its `GLIBC_TUNABLES` or
//! `LD_PRELOAD` line, and deployment snippets).

mod advice;
pub mod diagnosis;
pub mod evidence;
#[cfg(test)]
mod growth_tests;
mod ranking;
mod snippets;

pub use advice::{recommend, Advice, Recommendation, Verdict, MAX_THROUGHPUT_COST};
pub use evidence::Rule as AdviceRule;
/// A small three-profile sweep for other modules' tests.
#[cfg(test)]
pub(crate) use ranking::tests as tests_support;
pub use ranking::{rank_profiles, ProfileRank};

pub use crate::amplification::{amplification, level, RiskLevel, Thresholds, DEFAULT_FLOOR_MIB};
