#!/usr/bin/env bash
# A real Kubernetes control plane and node for tests/k8s, built from Go modules (the Go module
# proxy is reachable here; no release binary, container image or registry is) into a versioned
# cache directory, once, as .ci/install-helm.sh builds helm. Prints the bin directory on stdout:
#   .ci/install-k8s.sh   -> ~/.cache/freshdesk-activity-consumer/k8s-v1.37.2/bin
# It holds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl
# from k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3 (the version k8s.io/kubernetes
# requires), a static `pause` for the pod sandbox image, and crds/: the real CustomResource
# definitions of the Prometheus Operator and KEDA from their own modules.
#
# k8s.io/kubernetes is not meant to be a dependency: its go.mod requires every k8s.io/* staging
# module at v0.0.0 and points them into its own tree with replace directives, which a dependent
# module ignores. So a small wrapper module requires it and replaces each of those v0.0.0
# modules with its published release (v0.X.Y for v1.X.Y). The -X flags give the binaries their
# version: without them they report v0.0.0 and helm's kubeVersion check fails.
# Measured on this 2-core machine: 24 CPU-minutes cold with the modules downloaded (37 min of wall
# time beside other builds and tests at a load of 10-15; ~16 on idle cores), 5 GiB of Go build
# cache, 539 MB of binaries; 0.1 s once cached (the .complete marker is written last).
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
PROM_OPERATOR_VERSION="${PROM_OPERATOR_VERSION:-v0.85.0}"
KEDA_VERSION="${KEDA_VERSION:-v2.21.0}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/freshdesk-activity-consumer/k8s-${K8S_VERSION}"
marker="$dir/.complete-${PROM_OPERATOR_VERSION}-${KEDA_VERSION}"

build() {
  local src="$dir/src" staging="v0.${K8S_VERSION#v1.}"
  mkdir -p "$src" "$dir/bin" "$dir/crds"
  echo "== ci: building Kubernetes ${K8S_VERSION} from k8s.io/kubernetes (once, ~16 min on 2 cores; cached in $dir)" >&2
  # The staging modules k8s.io/kubernetes requires at v0.0.0, read from its own go.mod.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    echo "module freshdesk-activity-consumer/k8s-launcher"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print "\t" $1 " => " $1 " '"$staging"'"}' "$gomod"
    echo ")"
  } > "$src/go.mod"
  cat > "$src/pause.go" <<'EOF'
// The pod sandbox's process: waits for SIGTERM or SIGINT (the kubelet stops it so), nothing else.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
EOF
  local cmds=(cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet
              cmd/kube-proxy cmd/kubectl)
  local pkgs=("${cmds[@]/#/k8s.io/kubernetes/}" go.etcd.io/etcd/server/v3)
  (cd "$src" && GOFLAGS=-mod=mod go get "k8s.io/kubernetes@${K8S_VERSION}" >&2)
  local major minor pkg=k8s.io/component-base/version client=k8s.io/client-go/pkg/version
  major=$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v); minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local ldflags="-s -w"
  for p in "$pkg" "$client"; do
    ldflags+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=${major} -X $p.gitMinor=${minor}"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  # -p 2: this machine's two cores (go's own default here too); nice: other work on the machine
  # keeps going while the one-time build runs.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 10 go build -p 2 -trimpath -ldflags "$ldflags" \
      -o "$dir/bin/" "${pkgs[@]}" . >&2)
  # go names a binary after its path's last element (before a /vN suffix).
  mv "$dir/bin/server" "$dir/bin/etcd"
  mv "$dir/bin/k8s-launcher" "$dir/bin/pause"
  crds
  touch "$marker"
}

# The custom resources the chart renders, as their projects publish them: the Prometheus
# Operator's CRD manifests and KEDA's, from their Go modules (the module zip holds the repository).
crds() {
  local prom keda
  prom=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@${PROM_OPERATOR_VERSION}" |
         sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  keda=$(go mod download -json "github.com/kedacore/keda/v2@${KEDA_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -f "$dir"/crds/*.yaml
  for kind in servicemonitors prometheusrules; do
    cp "$prom/example/prometheus-operator-crd-full/monitoring.coreos.com_${kind}.yaml" "$dir/crds/"
  done
  for kind in scaledobjects triggerauthentications; do
    cp "$keda/config/crd/bases/keda.sh_${kind}.yaml" "$dir/crds/"
  done
  chmod u+w "$dir"/crds/*.yaml
}

if [ ! -e "$marker" ]; then
  exec 9>"${dir}.lock" 2>/dev/null || { mkdir -p "$(dirname "$dir")"; exec 9>"${dir}.lock"; }
  flock 9  # parallel runs wait for one build
  if [ ! -e "$marker" ]; then
    started=$(date +%s)
    build
    echo "== ci: Kubernetes ${K8S_VERSION} built in $(( $(date +%s) - started ))s" >&2
  fi
fi
echo "== ci: Kubernetes $("$dir/bin/kube-apiserver" --version | awk '{print $2}'), etcd $("$dir/bin/etcd" --version | awk '/etcd Version/{print $3}'): $dir/bin" >&2
echo "$dir/bin"
