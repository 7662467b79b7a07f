#!/usr/bin/env bash
# The install paths a user takes, end to end (scripts/test.sh runs this):
# 1. scripts/build-wheels.sh builds the extension and CLI wheels into dist/;
# 2. a fresh virtual environment installs arena-sweep from dist/ alone
#    (`pip install --no-index --find-links dist arena-sweep`);
# 3. with cargo and rustc NOT on PATH, the installed CLI runs the headline comparison
#    against the provisioned interpreter pair, installing the extension from the wheels
#    it carries; a wheel of other extension sources is refused; `--ext-from source`
#    says that it needs cargo;
# 4. `cargo install --path .` into a temporary root gives a working binary.
# Every check prints what it saw when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$SECONDS
fail() { echo "test-wheels: FAIL: $*" >&2; exit 1; }
pass() { echo "test-wheels: ok: $*"; }
# `expect FILE TEXT WHAT`: the file holds TEXT (fixed string), else fail showing it.
expect() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3: no \"$2\" in the output above"; }; }

# Only this machine's architecture: the CLI wheel for it is the one installed below.
scripts/build-wheels.sh --targets "$(uname -m)"
echo "test-wheels: wheels built in $((SECONDS - started)) s"

work="$root/target/wheel-test"
rm -rf "$work"
mkdir -p "$work"

# The interpreter pair, resolved by the tool (default cache) before cargo leaves PATH.
list=$(target/release/arena-sweep pythons list)
gil=$(printf '%s\n' "$list" | sed -n '/^Pair used:/,$p' | sed -n 's/^  gil  *\(.*\) (CPython .*/\1/p')
nogil=$(printf '%s\n' "$list" | sed -n '/^Pair used:/,$p' | sed -n 's/^  nogil  *\(.*\) (CPython .*/\1/p')
[ -x "$gil" ] && [ -x "$nogil" ] || { printf '%s\n' "$list" >&2; fail "no provisioned interpreter pair"; }
want_version=$(target/release/arena-sweep --version | sed -n 's/^PoC extension: arena_poc \([^ ]*\) .*/\1/p')

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-index --find-links dist arena-sweep
[ -x "$work/venv/bin/arena-sweep" ] || fail "pip installed no arena-sweep executable"
ls "$work/venv/share/arena-sweep/wheels/arena_poc-$want_version"-cp313-cp313-*.whl \
  "$work/venv/share/arena-sweep/wheels/arena_poc-$want_version"-cp313-cp313t-*.whl >/dev/null \
  || fail "the CLI wheel does not carry both extension wheels of version $want_version"
[ -f "$work/venv/share/man/man1/arena-sweep.1" ] || fail "no man page in the CLI wheel"
[ -f "$work/venv/share/bash-completion/completions/arena-sweep" ] || fail "no bash completion in the CLI wheel"
pass "pip installed arena-sweep and its data files from dist/ alone"

# A PATH without the Rust toolchain (rustup's ~/.cargo/bin), and no cargo/rustc
# variables; a fresh cache, so the extension has to be installed now.
clean_path="$work/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
run() {
  env -u CARGO -u RUSTC -u RUSTUP_TOOLCHAIN -u CARGO_HOME -u RUSTUP_HOME \
    PATH="$clean_path" ARENA_SWEEP_CACHE="$work/cache" \
    ARENA_SWEEP_PYTHON_GIL="$gil" ARENA_SWEEP_PYTHON_NOGIL="$nogil" "$@"
}
if run bash -c 'command -v cargo || command -v rustc'; then
  fail "cargo or rustc is still on the test PATH"
fi
pass "cargo and rustc are not on PATH"

out="$work/headline.txt"
run arena-sweep --python-threads 2 --rust-threads 4 --reps 1 --no-install \
  --out "$work/reports" >"$out" 2>&1 || { cat "$out" >&2; fail "the installed arena-sweep failed"; }
cat "$out"
expect "$out" "Installed the PoC extension (glibc) for CPython 3.13.5 from wheel arena_poc-$want_version-cp313-cp313-" "the GIL build's extension"
expect "$out" "Installed the PoC extension (glibc) for CPython 3.13.5t from wheel arena_poc-$want_version-cp313-cp313t-" "the free-threaded build's extension"
expect "$out" "2 Python threads x 4 Rust threads per call" "the point"
expect "$out" "GIL (CPython 3.13.5)" "the GIL column"
expect "$out" "nogil (CPython 3.13.5t)" "the nogil column"
grep -qE '^  native amplification +[0-9]+\.[0-9]+x( \[95% CI [^]]*\])? = net nogil' "$out" || { cat "$out" >&2; fail "no native amplification line"; }
grep -qE "^  the talk's gross ratio +[0-9]+\.[0-9]+x( \[95% CI [^]]*\])? = nogil delta" "$out" || { cat "$out" >&2; fail "no gross ratio line"; }
if grep -q "Building the PoC extension" "$out"; then fail "it built the extension from source"; fi
plan=$(ls "$work"/reports/*/plan.json)
python3 - "$plan" "$want_version" <<'EOF' || fail "plan.json provenance"
import json, sys
plan = json.load(open(sys.argv[1]))
exts = plan["provenance"]["extensions"]
assert len(exts) == 2, exts
for e in exts:
    assert e["origin"] == "wheel", e
    assert e["wheel"]["file"].startswith("arena_poc-" + sys.argv[2] + "-cp313-"), e
    assert len(e["wheel"]["sha256"]) == 64, e
    assert e["rustc"] is None, e
print("test-wheels: plan.json records", ", ".join(e["wheel"]["file"] for e in exts))
EOF
pass "the installed CLI ran both builds with the extension from its wheels, no Rust"

# A second run reuses the installed extension and says nothing about installing.
run arena-sweep --python-threads 1 --rust-threads 2 --reps 1 --no-install \
  --out "$work/reports2" >"$out" 2>&1 || { cat "$out" >&2; fail "the second run failed"; }
if grep -q "Installed the PoC extension" "$out"; then cat "$out" >&2; fail "the second run installed again"; fi
expect "$out" "amplification" "the second run"
pass "a second run reuses the installed extension"

# Named matrices and profiles come from the wheel's share/arena-sweep, from a folder
# that has no matrices/ or tunables/ of its own.
(cd "$work" && run arena-sweep run --tunables no-such-profile --no-install --out "$work/reports-x") >"$out" 2>&1 \
  && { cat "$out" >&2; fail "an unknown profile was accepted"; }
expect "$out" "$work/venv/share/arena-sweep/tunables" "the installed profiles folder is searched"
expect "$out" "arena-max-2" "the installed profiles are listed"
(cd "$work" && run arena-sweep run --matrix quick --python-threads 1 --rust-threads 2 --reps 1 \
  --tunables arena-max-2 --no-install --out "$work/reports-m") >"$out" 2>&1 || { cat "$out" >&2; fail "--matrix quick --tunables arena-max-2"; }
expect "$out" "profile arena-max-2" "the named profile ran"
pass "named matrices and profiles resolve from the wheel's share folder"

# A wheel of other extension sources (an older build) is refused, not installed. The
# binary is copied out of the environment, so it has no wheels of its own next to it.
mkdir -p "$work/bare/bin" "$work/stale-wheels"
cp "$work/venv/bin/arena-sweep" "$work/bare/bin/"
stale="$work/stale-wheels"
for w in "$work"/venv/share/arena-sweep/wheels/arena_poc-*.whl; do
  b=$(basename "$w")
  cp "$w" "$stale/${b/$want_version/0.1.0+src0000000000000000}"
done
run env ARENA_SWEEP_CACHE="$work/cache-stale" "$work/bare/bin/arena-sweep" --python-threads 1 \
  --rust-threads 2 --reps 1 --no-install --ext-from wheel --ext-wheels "$stale" \
  --out "$work/reports3" >"$out" 2>&1 && { cat "$out" >&2; fail "a stale wheel was accepted"; }
expect "$out" "were built from other extension sources (0.1.0+src0000000000000000), not this arena-sweep's ($want_version)" "the stale wheel"
[ ! -e "$work/reports3" ] || fail "a refused extension still left a report folder"
# The same folder with the real wheels added: pip picks the one that fits each build.
cp "$work"/venv/share/arena-sweep/wheels/arena_poc-*.whl "$stale/"
run env ARENA_SWEEP_CACHE="$work/cache-stale" "$work/bare/bin/arena-sweep" --python-threads 1 \
  --rust-threads 2 --reps 1 --no-install --ext-from wheel --ext-wheels "$stale" \
  --out "$work/reports3" >"$out" 2>&1 || { cat "$out" >&2; fail "--ext-wheels with fitting wheels"; }
expect "$out" "for CPython 3.13.5 from wheel arena_poc-$want_version-cp313-cp313-" "--ext-wheels, GIL build"
expect "$out" "for CPython 3.13.5t from wheel arena_poc-$want_version-cp313-cp313t-" "--ext-wheels, nogil build"
pass "a wheel of other extension sources is refused; --ext-wheels is searched"

# Asked to build from source without cargo, it says so.
run env ARENA_SWEEP_CACHE="$work/cache-src" arena-sweep --python-threads 1 --rust-threads 2 --reps 1 \
  --no-install --ext-from source --out "$work/reports4" >"$out" 2>&1 \
  && { cat "$out" >&2; fail "a source build succeeded without cargo"; }
expect "$out" "rustc was not found; the PoC extension is built with Rust" "--ext-from source without Rust"
pass "--ext-from source without a toolchain names what is missing"

# cargo install --path . (the Rust user's install), into a temporary root; --locked
# and the project's target folder reuse the release build.
cargo install --quiet --locked --path . --root "$work/cargo-root" --target-dir "$root/target"
"$work/cargo-root/bin/arena-sweep" --version >"$out"
expect "$out" "PoC extension: arena_poc $want_version" "cargo install --version"
"$work/cargo-root/bin/arena-sweep" --python-threads 1 --rust-threads 2 --reps 1 --no-install \
  --python-gil "$gil" --python-nogil "$nogil" --out "$work/reports5" >"$out" 2>&1 || { cat "$out" >&2; fail "the cargo-installed binary failed"; }
expect "$out" "amplification" "the cargo-installed binary"
pass "cargo install --path . gives a working arena-sweep"

echo "test-wheels: all passed in $((SECONDS - started)) s"
