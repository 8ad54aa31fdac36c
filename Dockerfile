# The freshdesk-activity-consumer image.
#
#   docker build -t freshdesk-activity-consumer .                  # from the official python image
#   docker run --read-only --tmpfs /tmp -v ./subscriptions.yaml:/etc/activity-consumer/subscriptions.yaml:ro \
#     -e FRESHDESK_API_KEY freshdesk-activity-consumer
#
# Two stages: the builder installs the package and its dependencies into a virtualenv, the final
# stage copies only that virtualenv onto a fresh base (no compiler, no pip, no caches).
# Where a build step cannot reach a package index (CI here), build the wheels first with
# `pip wheel --wheel-dir dist/wheels .` and the builder installs from them alone, offline;
# without dist/wheels/ it installs from the index as usual. .ci/build-image.sh does the former.

# Any Debian-based image with python3 (3.11+) and its venv module; both stages use the same one,
# because the virtualenv's interpreter is a link to the base's.
ARG BASE_IMAGE=python:3.13-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ARG VERSION=0.1.0
WORKDIR /src
COPY . .
# pip compiles every module to bytecode here, so the read-only image never has to write any.
RUN python3 -m venv /opt/venv \
 && if [ -n "$(ls dist/wheels/ 2>/dev/null)" ]; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --find-links dist/wheels \
        "freshdesk-activity-consumer==${VERSION}"; \
    else \
      /opt/venv/bin/pip install --no-cache-dir . ; \
    fi \
 && /opt/venv/bin/activity-consumer --help >/dev/null \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
# Where this image's source lives and which commit it is: the repository has no fixed public
# address, so the build says it (.ci/build-image.sh passes the clone's remote and HEAD).
ARG SOURCE_URL=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="freshdesk-activity-consumer" \
      org.opencontainers.image.description="Consumes order and payment events from Kafka and puts them on Freshdesk contact timelines, once." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed non-root identity, so the chart's runAsUser/fsGroup and file modes can name it.
# Written directly: the minimal Debian base has no useradd.
RUN echo "consumer:x:10001:10001:activity consumer:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "consumer:x:10001:" >> /etc/group
COPY --from=builder /opt/venv /opt/venv
# TMPDIR: the only writable place under a read-only root file system (an emptyDir in the chart);
# nothing the consumer does writes there today, it is for whatever a library might.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /
# /metrics, /healthz and /readyz (metrics.port)
EXPOSE 9102
# `activity-consumer run` handles SIGTERM itself (drain, final commit, leave the group) and runs
# as PID 1 without an init: it installs its own handlers, so the kernel's PID-1 rule (no default
# action) does not swallow the signal. tests/container proves it with `podman stop`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["activity-consumer"]
CMD ["run", "--config", "/etc/activity-consumer/subscriptions.yaml"]
