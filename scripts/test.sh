#!/usr/bin/env bash
# The project's test command (the README's second command; .ci/run calls it).
# It provisions what the tests need (a GIL + free-threaded CPython pair, built once
# into arena-sweep's cache), then runs formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== provisioning a GIL + free-threaded CPython 3.13 pair (cached after the first time)"
cargo run --release --quiet -- pythons install 3.13

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
# One test at a time: several tests measure concurrency and timing on a 2-CPU machine.
cargo test --workspace --release -- --test-threads=1

echo "== fuzz pass (proptest, 20000 cases per property)"
PROPTEST_CASES=20000 cargo test --workspace --release fuzz -- --test-threads=2
