//! arena-sweep's integration tests, in one binary (the crate is linked once).
//!
//! Two tiers:
//! - **Fixture tier**, run by plain `cargo test`: reports, summary.json and `compare`
//!   on the result folders committed under tests/fixtures/, their snapshots, refused
//!   input, and the checks on the source's shape. They need no CPython, no C compiler
//!   beyond the linker, no browser and no root.
//! - **System tier**, with `--features system-tests` (scripts/test.sh, which CI runs):
//!   everything that runs the real thing on this machine: the GIL + free-threaded
//!   CPython pair and the PoC extension, gcc and musl-gcc, headless Chromium,
//!   Prometheus, a one-node Slurm cluster with munge, root for perf events and
//!   capabilities, and the fidelity guard against minimal drivers. A module here fails
//!   naming the missing piece rather than skipping itself.
//!
//! One test at a time in the system tier (`-- --test-threads=1`): several tests
//! measure concurrency and timing on a 2-CPU machine.

mod common;

// Fixture tier.
mod code_shape;
mod module_graph;
mod report;
mod summary_json;

// System tier.
#[cfg(feature = "system-tests")]
mod advice;
#[cfg(feature = "system-tests")]
mod allocators;
#[cfg(feature = "system-tests")]
mod arena;
#[cfg(feature = "system-tests")]
mod bad_input;
#[cfg(feature = "system-tests")]
mod browser;
#[cfg(feature = "system-tests")]
mod doctor;
#[cfg(feature = "system-tests")]
mod exporter;
#[cfg(feature = "system-tests")]
mod failures;
#[cfg(feature = "system-tests")]
mod fidelity;
#[cfg(feature = "system-tests")]
mod inspect;
#[cfg(feature = "system-tests")]
mod manual;
#[cfg(feature = "system-tests")]
mod one_cell;
#[cfg(feature = "system-tests")]
mod output_dir;
#[cfg(feature = "system-tests")]
mod patterns;
#[cfg(feature = "system-tests")]
mod rounds;
#[cfg(feature = "system-tests")]
mod security;
#[cfg(feature = "system-tests")]
mod series;
#[cfg(feature = "system-tests")]
mod slurm;
#[cfg(feature = "system-tests")]
mod sweep;
#[cfg(feature = "system-tests")]
mod workload_gil;
#[cfg(feature = "system-tests")]
mod workload_versions;
