"""The composition root: from a Config to a running consumer and everything it is connected to.

The loop (consumer.loop) knows what it talks to only as a :class:`~consumer.loop.Wiring`; this
module says what those things are in production: librdkafka's Consumer, the delivery station on
its own thread (Freshdesk client, account budget, ledger), the dead-letter producer, the contact
directory (with its bootstrap file), the waiting topic and the health server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer

from consumer.config import Config
from consumer.contacts.directory import (
    BootstrapError,
    ContactDirectory,
    DirectoryUnavailable,
    load_bootstrap_file,
    make_directory,
)
from consumer.contacts.waiting_topic import ensure_waiting_topic
from consumer.dead_letters.producer import DeadLetterProducer
from consumer.delivery.account import HALTED
from consumer.delivery.budget import make_budget
from consumer.delivery.deliverer import Deliverer
from consumer.delivery.freshdesk import FreshdeskClient
from consumer.delivery.station import DeliveryStation, Station
from consumer.health import Check, HealthServer, poll_liveness
from consumer.ledger import make_ledger
from consumer.loop import ActivityConsumer
from consumer.metrics import METRICS, Metrics
from consumer.readiness import Readiness
from consumer.routing import Router

__all__ = ["Wiring", "build", "wiring"]

log = logging.getLogger("consumer.loop")


@dataclass(frozen=True)
class Wiring:
    """What the loop is connected to; each is made when the loop starts (threads, sockets)."""

    kafka_consumer: Callable[[dict[str, Any]], Any]
    station: Callable[[Readiness], Station]
    dead_letters: Callable[[], DeadLetterProducer]
    directory: Callable[[], ContactDirectory]
    ensure_topic: Callable[[dict[str, Any], str, int], None]  # the waiting topic
    health: Callable[[Readiness], HealthServer | None]


def build(config: Config, router: Router | None = None, *, metrics: Metrics = METRICS,
          progress_interval_s: float = 30.0) -> ActivityConsumer:
    """The consumer ``config`` describes, connected to the real things; ``run()`` starts it."""
    return ActivityConsumer(config, router or Router.from_config(config), wiring(config, metrics),
                            metrics=metrics, progress_interval_s=progress_interval_s)


def wiring(config: Config, metrics: Metrics = METRICS) -> Wiring:
    return Wiring(
        kafka_consumer=Consumer,
        station=lambda readiness: delivery_station(config, metrics, readiness),
        dead_letters=lambda: DeadLetterProducer(config.kafka, config.dead_letter.topic_for,
                                                config.group),
        directory=lambda: contact_directory(config),
        ensure_topic=ensure_waiting_topic,
        health=lambda readiness: health_server(config, metrics, readiness),
    )


def delivery_station(config: Config, metrics: Metrics, readiness: Readiness) -> DeliveryStation:
    def account(kind: str, reason: str | None) -> None:  # on the delivery thread, the causes' owner
        if kind == HALTED:
            readiness.set("delivery", None if reason is None else f"delivery halted: {reason}")
        else:
            since = time.strftime("%H:%M:%S UTC", time.gmtime())
            readiness.set("freshdesk", None if reason is None else f"{reason} (since {since})")

    async def make() -> Deliverer:
        client = FreshdeskClient(config.freshdesk)
        budget = make_budget(config.freshdesk, config.ledger, metrics,
                             on_store=lambda why: readiness.set("budget_store", why))
        return Deliverer(client, config.freshdesk, budget=budget, ledger=make_ledger(config.ledger),
                         metrics=metrics, on_account=account,
                         on_ledger=lambda why: readiness.set("ledger", why))
    return DeliveryStation(make)


def contact_directory(config: Config) -> ContactDirectory:
    directory = make_directory(config.contacts, config.ledger)
    path = config.contacts.bootstrap_file
    if path is not None:
        try:
            loaded = load_bootstrap_file(directory, path)
            log.info("contact directory bootstrapped", extra={"file": str(path),
                                                              "links": loaded.links})
        except (BootstrapError, OSError, DirectoryUnavailable) as e:
            log.error("contact directory bootstrap from %s: %s (what could be read was learned; "
                      "the streams fill in the rest)", path, e)
    return directory


def _with_outside(liveness: Check, readiness: Readiness) -> Check:
    """Liveness, with what is wrong outside the process in its detail: a restart cannot fix an
    unreachable Freshdesk, so it never fails liveness, but /healthz says so."""
    def check() -> tuple[bool, str]:
        ok, why = liveness()
        outside = readiness.reason("freshdesk")
        return ok, f"{why}; {outside}" if outside else why
    return check


def health_server(config: Config, metrics: Metrics, readiness: Readiness) -> HealthServer | None:
    settings = config.metrics
    if not settings.enabled:
        return None
    server = HealthServer.from_settings(
        settings, registry=metrics.registry,
        liveness=_with_outside(poll_liveness(settings.liveness_timeout_s, metrics.registry),
                               readiness),
        readiness=readiness.check).start()
    log.info("metrics", extra={"port": server.port, "paths": "/metrics /healthz /readyz"})
    return server
