#!/usr/bin/env bash
# Build the project's image with podman the way CI can here: no container registry is reachable,
# so the base image is made with mmdebstrap (Debian bookworm's python3, cached as a tarball)
# and the wheels are built on the host by pip (which has the package index settings and CA
# bundle that a build step would not) and handed to the Dockerfile in dist/wheels/.
# A user builds the same Dockerfile unchanged from the official python image:
#   docker build -t freshdesk-activity-consumer .
# Prints the image reference on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-localhost/freshdesk-activity-consumer:ci}"
BASE="localhost/fdac-base:bookworm-python3"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/freshdesk-activity-consumer/image"
PY="${PYTHON:-.venv/bin/python}"
# runc and cgroupfs: podman's default crun fails on this machine's hybrid cgroup layout.
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
mkdir -p "$cache"

if ! "${podman[@]}" image exists "$BASE"; then
  tar="$cache/base-bookworm-python3.tar"
  if [ ! -s "$tar" ]; then
    echo "== ci: making the base image with mmdebstrap (once, about 90 s; cached in $tar)" >&2
    # The security suite too, so the base carries Debian's current python3 fixes.
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
      --format=tar bookworm "$tar.part" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main" >&2
    mv "$tar.part" "$tar"
  fi
  "${podman[@]}" import --quiet --change 'CMD ["python3"]' "$tar" "$BASE" >/dev/null
fi

# The wheels are resolved by the base image's own interpreter (its python3 may be older than the
# host's, and dependencies carry markers such as python_full_version < "3.11.3"), in a throwaway
# container that gets the host's package-index settings passed in explicitly, and pip's cache.
echo "== ci: wheels for the image, resolved by the base's python3 (pip cache: ~/.cache/pip)" >&2
rm -rf dist/wheels && mkdir -p dist/wheels ~/.cache/pip
# The project's own wheel; its file times from the last commit, so the same source makes the
# same wheel and podman's layer cache holds.
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
  "$PY" -m pip wheel --quiet --no-deps --wheel-dir dist/wheels . >&2
pip_env=(); pip_mounts=()
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_FIND_LINKS PIP_DEFAULT_TIMEOUT \
           HTTPS_PROXY HTTP_PROXY NO_PROXY https_proxy http_proxy no_proxy; do
  if [ -n "${!var:-}" ]; then pip_env+=(--env "$var"); fi
done
for path in "${PIP_CERT:-}" "${PIP_FIND_LINKS:-}" /etc/pip.conf; do
  if [ -n "$path" ] && [ -e "$path" ]; then pip_mounts+=(--volume "$path:$path:ro"); fi
done
# The host's CA bundle, for an index behind a TLS-inspecting proxy (pip.conf may name it).
if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ "${PIP_CERT:-}" != /etc/ssl/certs/ca-certificates.crt ]; then
  pip_mounts+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi
"${podman[@]}" run --rm --network=host --ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit nproc=4096:4096 \
  "${pip_env[@]}" "${pip_mounts[@]}" --volume "$HOME/.cache/pip:/root/.cache/pip" \
  --volume "$PWD/dist/wheels:/wheels" "$BASE" \
  sh -c 'python3 -m venv /tmp/venv && /tmp/venv/bin/pip wheel --quiet --disable-pip-version-check \
         --wheel-dir /wheels /wheels/*.whl 2>&1' >&2

version=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
echo "== ci: podman build $IMAGE (version $version) from $BASE" >&2
"${podman[@]}" build --quiet --tag "$IMAGE" \
  --build-arg "BASE_IMAGE=$BASE" --build-arg "VERSION=$version" \
  --build-arg "SOURCE_URL=$(git config --get remote.origin.url || echo unknown)" \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" . >/dev/null
# Every changed source leaves its builder stage behind (~300 MB): keep a day of layer cache.
"${podman[@]}" image prune --force --filter until=24h >/dev/null
echo "$IMAGE"
