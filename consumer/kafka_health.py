"""Whether the consumer can fetch, told from librdkafka's errors and from positive signs.

librdkafka keeps trying by itself when the brokers are down, refuse our credentials or the
group has no coordinator: it reports each through ``error_cb`` and carries on, so without this
the pod stayed Ready, lag read 0 and the log repeated the same line 20 times a second.

- :meth:`KafkaHealth.error` (librdkafka's ``error_cb``, served on the poll thread by consume())
  notes what went wrong and since when;
- :meth:`KafkaHealth.stats` (librdkafka's ``stats_cb``, every ``statistics.interval.ms``: 5 s)
  reads the brokers' and the group's states: no broker up is something wrong even when
  librdkafka reported no error, and a broker up with the group joined is the positive sign
  that ends it (an idle topic fetches nothing to tell otherwise);
- :meth:`KafkaHealth.healthy` is called on the other positive signs: a message fetched,
  partitions assigned;
- once something has been wrong for ``grace_s`` with no positive sign since, readiness says
  what (cause ``kafka``) and ``kafka_unhealthy{cause}`` is 1; the first positive sign ends it;
- readiness's ``starting`` holds until the first positive sign: a replica whose brokers refuse
  its password from the start was Ready for the grace, until the error was shown (seen by the
  kubelet on a real node).

Owned by the poll thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import KafkaError

from consumer.metrics import Metrics
from consumer.readiness import Readiness

__all__ = ["KafkaHealth"]

log = logging.getLogger("consumer.kafka")

_CAUSES: dict[int, str] = {}
for _name, _cause in (
        ("_ALL_BROKERS_DOWN", "brokers_down"), ("_TRANSPORT", "brokers_down"),
        ("_RESOLVE", "brokers_down"), ("_AUTHENTICATION", "authentication"),
        ("SASL_AUTHENTICATION_FAILED", "authentication"), ("_SSL", "authentication"),
        ("TOPIC_AUTHORIZATION_FAILED", "authorization"),
        ("GROUP_AUTHORIZATION_FAILED", "authorization"),
        ("CLUSTER_AUTHORIZATION_FAILED", "authorization"),
        ("COORDINATOR_NOT_AVAILABLE", "coordinator"), ("NOT_COORDINATOR", "coordinator"),
        ("COORDINATOR_LOAD_IN_PROGRESS", "coordinator")):
    if hasattr(KafkaError, _name):
        _CAUSES[getattr(KafkaError, _name)] = _cause
CAUSES = tuple(dict.fromkeys(_CAUSES.values()))
_WHAT = {"brokers_down": "cannot reach the Kafka brokers",
         "authentication": "the Kafka brokers refuse our credentials (SASL/TLS)",
         "authorization": "the Kafka brokers refuse us the topic or the group (ACLs)",
         "coordinator": "the consumer group has no coordinator"}


class KafkaHealth:
    def __init__(self, readiness: Readiness, metrics: Metrics, grace_s: float = 15.0,
                 clock: Callable[[], float] = time.monotonic):
        self._readiness, self._metrics = readiness, metrics
        self._grace_s, self._clock = grace_s, clock
        self._since: float | None = None  # when something first went wrong, since the last good sign
        self._cause: str | None = None
        self._error = ""
        self.shown = False  # readiness says so now
        self._answered = False  # a positive sign since start: "starting" is over

    def wired(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The consumer's settings with this tracker's callbacks (statistics every 5 s unless
        the file says otherwise; a user's own callbacks are not possible in YAML anyway)."""
        return {"statistics.interval.ms": 5000, **settings, "error_cb": self.error,
                "stats_cb": self.stats}

    @property
    def unhealthy(self) -> bool:
        return self.shown

    def error(self, err: Any) -> None:
        """librdkafka's error_cb: a KafkaError about the client as a whole."""
        cause = _CAUSES.get(err.code())
        if cause is None:
            log.warning("kafka: %s", err.str())
            return
        if self._since is None:
            self._since = self._clock()
        self._cause, self._error = cause, err.str()

    def stats(self, raw: str) -> None:
        """librdkafka's statistics: healthy when a broker is UP and the group is up."""
        try:
            data = orjson.loads(raw)
            brokers = data.get("brokers", {}).values()
            up = any(b.get("state") == "UP" and b.get("nodeid", -1) >= 0 for b in brokers)
            group = data.get("cgrp", {}).get("state", "up")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if up and group == "up":
            self.healthy()
        elif not up and self._since is None:
            self._since, self._cause = self._clock(), "brokers_down"
            self._error = "no broker is up (" + ", ".join(
                f"{b.get('name')}: {b.get('state')}" for b in brokers)[:300] + ")"
        elif up and self._since is None:
            self._since, self._cause, self._error = self._clock(), "coordinator", f"group {group}"

    def healthy(self) -> None:
        if not self._answered:
            self._answered = True
            self._readiness.set("starting", None)
        if self._since is None:
            return
        self._since = None
        if self.shown:
            log.warning("kafka: fetching again (%s is over)", self._cause)
            self._show(None)

    def check(self) -> None:
        """Each loop round: show what has been wrong for grace_s."""
        if self._since is None or self.shown:
            return
        if self._clock() - self._since >= self._grace_s:
            self._show(self._cause)

    def _show(self, cause: str | None) -> None:
        self.shown = cause is not None
        for known in CAUSES:
            self._metrics.kafka_unhealthy.labels(known).set(1 if known == cause else 0)
        if cause is None:
            self._readiness.set("kafka", None)
            return
        self._readiness.set("starting", None)  # what keeps it unready is said by "kafka" now
        why = f"{_WHAT[cause]} for {self._clock() - (self._since or 0):.0f}s: {self._error}"
        log.error("kafka: %s; not ready until it fetches again", why)
        self._readiness.set("kafka", why)
