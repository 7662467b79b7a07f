#!/usr/bin/env bash
# The project's test command (the README's second command; .ci/run calls it).
# It installs the Debian packages the tests need, provisions a GIL + free-threaded
# CPython pair (built once into arena-sweep's cache), then runs formatting, lints,
# every test and a fuzz pass.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Debian packages (only the missing ones are installed)"
scripts/setup-debian.sh

echo "== provisioning a GIL + free-threaded CPython 3.13 pair (cached after the first time)"
cargo run --release --quiet -- pythons install 3.13

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (the fixture tier, then with the system tier's tests)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --features arena-sweep/system-tests -- -D warnings

echo "== cargo test (unit tests, and both tiers of tests/integration)"
# One test at a time: several tests measure concurrency and timing on a 2-CPU machine.
# system-tests turns on the integration tests that run the real CPython pair, gcc,
# Chromium, Prometheus, Slurm and the fidelity guard (plain `cargo test` runs the
# fixture tier only).
cargo test --workspace --release --features arena-sweep/system-tests -- --test-threads=1

echo "== wheels: build them, install into a fresh venv, run with no Rust on PATH; cargo install"
scripts/test-wheels.sh

echo "== Kubernetes manifest and image recipe (offline schema check)"
scripts/test-deploy.sh

echo "== fuzz pass (proptest, 20000 cases per property)"
# --lib: the fuzz properties are unit tests of every crate (the CLI, the arena reader,
# the extension), so every test binary this runs has some and the closing line counts
# them (not "0 passed ... filtered out").
PROPTEST_CASES=20000 cargo test --workspace --release --lib fuzz -- --test-threads=2
