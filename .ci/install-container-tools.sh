#!/usr/bin/env bash
# podman (with runc: the default crun fails on this machine's hybrid cgroups), uidmap and
# mmdebstrap (to make a base image without a registry), from Debian. Idempotent.
set -euo pipefail
need=()
for pkg in podman runc uidmap mmdebstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "== ci: installing ${need[*]} (Debian)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "== ci: $(podman --version), runc $(runc --version | head -1 | awk '{print $3}'), mmdebstrap $(mmdebstrap --version | awk '{print $2}')" >&2
