#!/usr/bin/env bash
# Build every wheel into dist/: the PoC extension `arena_poc` for each interpreter of
# the provisioned GIL + free-threaded pair (cp313, cp313t), then the arena-sweep CLI
# wheel, which carries those wheels, the shipped matrices and tunables profiles, its man
# pages and shell completions as data files (under <prefix>/share).
#
#   scripts/build-wheels.sh [--targets x86_64,aarch64] [--python PATH]...
#
# --targets   CPU architectures of the CLI wheel (default: x86_64,aarch64). The
#             extension wheels are built for this machine's architecture only: they need
#             an interpreter of the target to build against.
# --python    build the extension for these interpreters instead of the pair that
#             `arena-sweep pythons list` resolves (repeat the flag).
#
# maturin and zig come from PyPI into target/packaging-venv. zig links against old glibc
# symbol versions, so the CLI wheel is manylinux2014 (glibc 2.17) and the extension
# wheels manylinux_2_34 (they call mallinfo2(), glibc 2.33; auditwheel has no 2.33
# policy); maturin's auditwheel check refuses a wheel that needs more than its tag says.
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_VERSION=1.16.0
ZIG_VERSION=0.17.1
CLI_COMPAT=manylinux2014
EXT_COMPAT=manylinux_2_34

targets=x86_64,aarch64
pythons=()
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets="$2"; shift 2 ;;
    --python) pythons+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build-wheels: unknown argument $1" >&2; exit 2 ;;
  esac
done

root=$(pwd)
dist="$root/dist"
work="$root/target/wheels-build"
data="$root/packaging/wheel-data/data/share"
venv="$root/target/packaging-venv"
started=$SECONDS
step() { echo "== build-wheels: $* ($((SECONDS - started)) s)"; }

step "maturin $MATURIN_VERSION and zig $ZIG_VERSION into $venv"
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  python3 -m venv "$venv"
fi
want="maturin==$MATURIN_VERSION ziglang==$ZIG_VERSION"
have=$("$venv/bin/python" -m pip freeze 2>/dev/null | grep -Ei '^(maturin|ziglang)==' | sort -f | tr '\n' ' ' || true)
if [ "${have% }" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION" "ziglang==$ZIG_VERSION"
fi
# maturin finds zig as `python -m ziglang` with the python on PATH.
export PATH="$venv/bin:$PATH"

step "the arena-sweep binary (for the extension's wheel version, man pages, completions)"
cargo build --release --quiet
cli="$root/target/release/arena-sweep"
ext_version=$("$cli" --version | sed -n 's/^PoC extension: arena_poc \([^ ]*\) .*/\1/p')
[ -n "$ext_version" ] || { echo "build-wheels: \`arena-sweep --version\` names no extension version" >&2; exit 1; }

if [ ${#pythons[@]} -eq 0 ]; then
  list=$("$cli" pythons list)
  pair=$(printf '%s\n' "$list" | sed -n '/^Pair used:/,$p')
  for build in gil nogil; do
    p=$(printf '%s\n' "$pair" | sed -n "s/^  $build  *\(.*\) (CPython .*/\1/p")
    if [ -z "$p" ]; then
      printf '%s\n' "$list" >&2
      echo "build-wheels: no $build interpreter; provision the pair first: cargo run --release -- pythons install 3.13" >&2
      exit 1
    fi
    pythons+=("$p")
  done
fi

step "extension wheels arena_poc $ext_version for ${pythons[*]}"
# The sources the CLI embeds, as a standalone crate whose version carries their hash
# (semver build metadata, which maturin turns into a PEP 440 local version).
stage="$work/poc-ext"
mkdir -p "$stage/src" "$dist"
# Files are replaced only when their content changed, so cargo's fingerprints survive
# a rerun and only what changed is rebuilt.
put() { cmp -s "$1" "$2" || cp "$1" "$2"; }
mkdir -p "$stage/src/patterns"
for f in poc-ext/src/*.rs poc-ext/src/patterns/*.rs; do put "$f" "$stage/${f#poc-ext/}"; done
put poc-ext/pyproject.toml "$stage/pyproject.toml"
put Cargo.lock "$stage/Cargo.lock"
{ sed "0,/^version = \".*\"/s//version = \"$ext_version\"/" poc-ext/Cargo.toml; printf '\n[workspace]\n'; } >"$work/Cargo.toml.new"
grep -q "^version = \"$ext_version\"" "$work/Cargo.toml.new"
put "$work/Cargo.toml.new" "$stage/Cargo.toml"
rm -f "$dist"/arena_poc-*.whl
for p in "${pythons[@]}"; do
  # One target folder per interpreter: pyo3's build configuration differs per ABI.
  abi=$("$p" -c 'import sys, sysconfig; print(sys.implementation.cache_tag + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
  CARGO_TARGET_DIR="$work/target-$abi" maturin build --release --zig --compatibility "$EXT_COMPAT" \
    --auditwheel check -m "$stage/Cargo.toml" -i "$p" -o "$dist"
done
ext_wheels=("$dist"/arena_poc-"$ext_version"-*.whl)
[ ${#ext_wheels[@]} -eq ${#pythons[@]} ] && [ -f "${ext_wheels[0]}" ] || {
  echo "build-wheels: expected ${#pythons[@]} extension wheel(s) of version $ext_version in $dist" >&2; exit 1; }

step "data files of the CLI wheel in packaging/wheel-data"
rm -rf "$data/man" "$data/bash-completion" "$data/zsh" "$data/fish" \
  "$data/arena-sweep/matrices" "$data/arena-sweep/tunables"
# `--matrix NAME` and `--tunables NAME` look here when the current folder has none.
cp -r matrices tunables "$data/arena-sweep/"
"$cli" man --out-dir "$data/man/man1" >/dev/null
mkdir -p "$data/bash-completion/completions" "$data/zsh/site-functions" "$data/fish/vendor_completions.d"
"$cli" completions bash >"$data/bash-completion/completions/arena-sweep"
"$cli" completions zsh >"$data/zsh/site-functions/_arena-sweep"
"$cli" completions fish >"$data/fish/vendor_completions.d/arena-sweep.fish"

rm -f "$dist"/arena_sweep-*.whl
IFS=, read -r -a arches <<<"$targets"
for arch in "${arches[@]}"; do
  triple="$arch-unknown-linux-gnu"
  step "CLI wheel for $triple ($CLI_COMPAT)"
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    if ! err=$(rustup target add "$triple" 2>&1); then
      echo "build-wheels: SKIPPED $triple: \`rustup target add $triple\` failed:" >&2
      printf '%s\n' "$err" >&2
      continue
    fi
  fi
  # Each CLI wheel carries the extension wheels of its own architecture (none for an
  # architecture whose interpreters were not at hand: there the tool builds the extension).
  rm -f "$data"/arena-sweep/wheels/*.whl
  for w in "${ext_wheels[@]}"; do
    case "$w" in *_"$arch".whl) cp "$w" "$data/arena-sweep/wheels/" ;; esac
  done
  maturin build --release --zig --target "$triple" --compatibility "$CLI_COMPAT" \
    --auditwheel check -o "$dist"
done

step "done"
for w in "$dist"/*.whl; do
  printf '  %-90s %6d KiB\n' "$(basename "$w")" $(( $(stat -c %s "$w") / 1024 ))
done
