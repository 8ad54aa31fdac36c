#!/usr/bin/env bash
# helm, built from its Go module (the Go module proxy is reachable here; no binary download is)
# into a versioned cache directory, once. Prints the binary's path on stdout.
#   .ci/install-helm.sh            -> ~/.cache/freshdesk-activity-consumer/helm-v4.3.2/helm
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/freshdesk-activity-consumer/helm-${HELM_VERSION}"
if [ ! -x "$dir/helm" ]; then
  echo "== ci: building helm ${HELM_VERSION} from helm.sh/helm/v4/cmd/helm (once, cached in $dir)" >&2
  mkdir -p "$dir"
  # CGO off: a static binary that needs nothing from the machine.
  CGO_ENABLED=0 GOBIN="$dir" go install "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}" >&2
fi
echo "== ci: helm ${HELM_VERSION} (go install helm.sh/helm/v4/cmd/helm@${HELM_VERSION}): $dir/helm" >&2
echo "$dir/helm"
