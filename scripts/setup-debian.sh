#!/usr/bin/env bash
# Install the Debian packages arena-sweep needs to build CPython and run its tests.
# Only packages that are missing are installed; nothing else on the system changes.
# man-db and groff-base render the man pages (tests/integration/manual.rs); slurmctld, slurmd,
# slurm-client and munge make the one-node cluster of tests/integration/slurm.rs, which starts and
# stops its own daemons, with its own key, socket, ports and configuration, whatever the
# packages' own services do.
set -euo pipefail
pkgs=(build-essential pkg-config xz-utils curl chromium
      libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev
      libreadline-dev libncurses-dev uuid-dev
      libjemalloc2 libmimalloc2.0 musl-tools
      man-db groff-base prometheus
      slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all Debian packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
