//! arena-sweep as a library: everything the `arena-sweep` binary does, so that the
//! benchmark (`benches/harness.rs`) and tests can call the same code. The binary
//! (`src/main.rs`) only parses flags and dispatches.
//!
//! The outside reader of glibc's arenas and of `/proc` is a crate of its own,
//! `glibc_arena_reader` (crates/arena-reader/), usable without the CLI; its `arena` and
//! `process` are re-exported here, so `crate::arena` and `crate::process` name them.

pub use glibc_arena_reader::{arena, process};

pub mod aggregate;
pub mod amplification;
pub mod cli;
pub mod doctor;
#[cfg(test)]
mod enum_names;
pub mod error;
pub mod exporter;
pub mod ext;
pub mod format;
#[cfg(test)]
mod fuzz;
pub mod grid;
pub mod inspect;
pub mod levers;
pub mod located;
pub mod manual;
pub mod matrix;
pub mod model;
pub mod paths;
/// The extension's pattern parser, compiled into the CLI too, so that a bad pattern
/// is refused while the plan is built instead of in a child.
#[path = "../poc-ext/src/patterns.rs"]
#[allow(dead_code)]
pub mod patterns;
pub mod plan;
pub mod plan_file;
pub mod programs;
pub mod progress;
pub mod provenance;
pub mod python;
pub mod report;
pub mod results;
pub mod risk;
pub mod runner;
pub mod sampler;
pub mod stats;
pub mod tunables;
pub mod units;
pub mod workload;
