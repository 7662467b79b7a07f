#!/usr/bin/env bash
# Offline checks of the Kubernetes recipe (scripts/test.sh runs this; no cluster or
# Docker engine is needed):
# 1. deploy/job.yaml validates, strictly (unknown fields refused), against the
#    Kubernetes schemas bundled in kubernetes-validate, and a broken copy does not;
# 2. docs/scale-out.md's Indexed Job block is the Job in deploy/job.yaml, field for field;
# 3. deploy/exporter-sidecar.yaml (the exporter as a sidecar) validates too, shares the
#    pod's PID namespace and adds SYS_PTRACE alone;
# 4. deploy/Dockerfile builds the interpreter pair before it copies the sources, and
#    configures CPython with the flags src/python/provision.rs uses.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fail() { echo "test-deploy: FAIL: $*" >&2; exit 1; }
pass() { echo "test-deploy: ok: $*"; }

KUBERNETES_VALIDATE_VERSION=1.37.0
venv="$root/target/deploy-venv"
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -qF "$KUBERNETES_VALIDATE_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
work="$root/target/deploy-test"
rm -rf "$work"
mkdir -p "$work"

"$venv/bin/kubernetes-validate" --strict deploy/job.yaml >"$work/out.txt" 2>&1 || {
  cat "$work/out.txt" >&2; fail "deploy/job.yaml does not validate"; }
cat "$work/out.txt"
grep -q "passed for resource job/arena-sweep" "$work/out.txt" || fail "the Job was not validated"
grep -q "passed for resource persistentvolumeclaim/sweep-results" "$work/out.txt" || fail "the claim was not validated"
# The same check refuses a misspelt field, so its pass above means something.
sed 's/completionMode: Indexed/completionMod: Indexed/' deploy/job.yaml >"$work/broken.yaml"
if "$venv/bin/kubernetes-validate" --strict "$work/broken.yaml" >"$work/out.txt" 2>&1; then
  cat "$work/out.txt" >&2; fail "a misspelt field passed validation"
fi
pass "deploy/job.yaml validates against the Kubernetes schemas; a misspelt field does not"

"$venv/bin/python" - docs/scale-out.md deploy/job.yaml <<'EOF' || fail "docs/scale-out.md's Job and deploy/job.yaml differ"
import sys, yaml
readme, manifest = open(sys.argv[1]).read(), sys.argv[2]
marker = "A Kubernetes Indexed Job"
after = readme[readme.index(marker):]
start = after.index("```yaml\n") + len("```yaml\n")
block = yaml.safe_load(after[start:after.index("```", start)])
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
jobs = [d for d in docs if d.get("kind") == "Job"]
assert len(jobs) == 1, docs
if block != jobs[0]:
    print("docs/scale-out.md:", block, "\ndeploy:", jobs[0], file=sys.stderr)
    sys.exit(1)
claims = {d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"}
used = {v["persistentVolumeClaim"]["claimName"] for v in jobs[0]["spec"]["template"]["spec"]["volumes"]}
assert used <= claims, (used, claims)
args = jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"]
assert args[args.index("--shard") + 1] == str(jobs[0]["spec"]["completions"]), args
EOF
pass "docs/scale-out.md's Indexed Job is deploy/job.yaml's; shards = completions; the claim exists"

"$venv/bin/kubernetes-validate" --strict deploy/exporter-sidecar.yaml >"$work/out.txt" 2>&1 || {
  cat "$work/out.txt" >&2; fail "deploy/exporter-sidecar.yaml does not validate"; }
grep -q "passed for resource deployment/my-service" "$work/out.txt" || fail "the sidecar's Deployment was not validated"
"$venv/bin/python" - deploy/exporter-sidecar.yaml <<'EOF2' || fail "deploy/exporter-sidecar.yaml: the exporter sidecar is not set up as docs/exporter.md says"
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]
assert spec["shareProcessNamespace"] is True, spec
side = [c for c in spec["containers"] if c["args"][0] == "export"]
assert len(side) == 1, spec["containers"]
sc = side[0]["securityContext"]
assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE"]}, sc
assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, sc
EOF2
pass "deploy/exporter-sidecar.yaml validates; it shares the PID namespace and adds SYS_PTRACE alone"

df=deploy/Dockerfile
line() { grep -n -m1 -- "$1" "$df" | cut -d: -f1; }
pair=$(line 'make install')
copy=$(line 'COPY . .')
[ -n "$pair" ] && [ -n "$copy" ] && [ "$pair" -lt "$copy" ] || fail "$df must build CPython before it copies the sources"
grep -q -- '--with-ensurepip=install' "$df" || fail "$df: configure flags differ from provision.rs"
grep -q 'const CONFIGURE_FLAGS: &\[&str\] = &\["--with-ensurepip=install"\];' src/python/provision.rs \
  || fail "provision.rs's configure flags changed: update $df to match"
pass "$df builds the pair (provision.rs's flags) in a layer before the sources"
