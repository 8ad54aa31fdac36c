#!/usr/bin/env bash
# What the tests need from Debian, installed once (idempotent): redis-server (the shared ledger,
# directory and budget), prometheus (promtool and a real scrape), podman with runc (the default
# crun fails on this machine's hybrid cgroups), uidmap and mmdebstrap (a base image without a
# registry), chromium (the sandbox's timeline page, rendered headless), squid (a real forward
# proxy: CONNECT, proxy auth with basic_ncsa_auth), openssl (that proxy's password hash and the
# cluster's certificates), and for tests/k8s's node containerd (the kubelet's container runtime),
# the CNI bridge and host-local plugins and iptables (kube-proxy). The tests start their own
# instances on random ports, never the services.
set -euo pipefail
need=()
for pkg in redis-server prometheus podman runc uidmap mmdebstrap chromium squid openssl \
           containerd containernetworking-plugins iptables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "== ci: installing ${need[*]} (Debian)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Another apt on the machine holds the lock for a while: wait for it rather than fail.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
fi
echo "== ci: $(redis-server --version | cut -d' ' -f1-3), $(prometheus --version 2>&1 | head -1)" >&2
echo "== ci: $(podman --version), runc $(runc --version | head -1 | awk '{print $3}'), mmdebstrap $(mmdebstrap --version | awk '{print $2}')" >&2
echo "== ci: $(chromium --version 2>/dev/null | head -1), $(squid -v | head -1)" >&2
echo "== ci: containerd $(containerd --version | awk '{print $3}'), $(iptables --version)" >&2
