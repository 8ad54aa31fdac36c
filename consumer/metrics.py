"""Every Prometheus metric the consumer exports, in one place, each with what it answers.

Labels are bounded: topic, partition, transform, reason/outcome classes. Never a contact, an
offset or an activity key (unbounded label values would grow the registry without limit).
All names start with ``activity_consumer_``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["METRICS", "REGISTRY", "Children", "Metrics", "PerTopic", "TopicMetrics"]

REGISTRY = CollectorRegistry(auto_describe=True)
_P = "activity_consumer_"

_FAST = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1)
_HTTP = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_PACE = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_E2E = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY):
        self.registry = r = registry
        # --- is it delivering? -------------------------------------------------------------------
        self.consumed = Counter(_P + "messages_consumed_total",
                                "Kafka messages taken from a topic.", ["topic"], registry=r)
        self.delivered = Counter(_P + "activities_delivered_total",
                                 "Activities Freshdesk accepted (200).", ["topic", "transform"],
                                 registry=r)
        self.filtered = Counter(_P + "messages_filtered_total",
                                "Messages not for the timeline, by the transform's reason (a "
                                "built-in reason code; 'other' for codes outside that set).",
                                ["topic", "transform", "reason"], registry=r)
        self.duplicates = Counter(_P + "activities_skipped_duplicate_total",
                                  "Activities not posted because the ledger knew them as delivered.",
                                  ["topic", "transform"], registry=r)
        self.parked = Counter(_P + "events_parked_total",
                              "Events whose contact the directory did not know yet, parked in the "
                              "waiting topic (an expected outcome, not an error).", ["topic"],
                              registry=r)
        self.waiting = Gauge(_P + "events_waiting",
                             "Parked events waiting in this replica for the directory to learn "
                             "their contact.", registry=r)
        self.dead_letters = Counter(_P + "dead_letters_total",
                                    "Messages written to a dead-letter topic, by reason class.",
                                    ["topic", "reason"], registry=r)
        self.transform_seconds = Histogram(_P + "transform_duration_seconds",
                                           "Decode + transform + encode time per message (not the ones the "
                                           "transform's probe filters from the bytes).",
                                           ["transform"], buckets=_FAST, registry=r)
        self.end_to_end_seconds = Histogram(_P + "end_to_end_latency_seconds",
                                            "From the Kafka message timestamp to Freshdesk's 200.",
                                            ["topic"], buckets=_E2E, registry=r)
        # --- is Freshdesk throttling us or failing? ----------------------------------------------
        self.request_seconds = Histogram(_P + "freshdesk_request_duration_seconds",
                                         "Freshdesk API calls by outcome and status class (2xx, "
                                         "4xx, 429, 5xx, none for timeouts/connection errors).",
                                         ["outcome", "status_class"], buckets=_HTTP, registry=r)
        self.retries = Counter(_P + "freshdesk_retries_total",
                               "Requests sent again, by cause (throttled, server_error, timeout, "
                               "connection, halted).", ["cause"], registry=r)
        self.retry_after_seconds = Histogram(_P + "freshdesk_retry_after_seconds",
                                             "Retry-After values received with 429 answers.",
                                             buckets=(1, 2, 5, 10, 20, 30, 60, 120), registry=r)
        self.budget_remaining = Gauge(_P + "freshdesk_budget_remaining",
                                      "X-RateLimit-Remaining of the last answer (written at most "
                                      "twice a second): calls left in the account's window "
                                      "(shared by every replica).", registry=r)
        self.budget_total = Gauge(_P + "freshdesk_budget_total",
                                  "X-RateLimit-Total of the last answer: calls per window.",
                                  registry=r)
        self.unknown_outcomes = Counter(_P + "unknown_outcomes_total",
                                        "Activities given up (dead-lettered or abandoned) after a "
                                        "request whose answer was never read (timeout, dropped "
                                        "connection, shutdown): the claim is kept until its lease "
                                        "runs out, so no other owner posts it meanwhile.",
                                        registry=r)
        self.in_flight = Gauge(_P + "freshdesk_in_flight_requests",
                               "Requests on the wire to Freshdesk now.", registry=r)
        self.halted = Gauge(_P + "halted",
                            "1 while delivery is halted, by reason (unauthorized, forbidden, "
                            "not_found, redirect, proxy_auth: the configuration is wrong; "
                            "dead_letter_breaker: a topic dead-letters too much); 0 otherwise.",
                            ["reason"], registry=r)
        self.unreachable_since = Gauge(_P + "freshdesk_unreachable_since_timestamp_seconds",
                                       "When Freshdesk became unreachable (refused, DNS, TLS, "
                                       "timeouts, 502/503/504, every recent call failing): "
                                       "delivery waits and probes; 0 while it is reachable.",
                                       registry=r)
        self.kafka_unhealthy = Gauge(_P + "kafka_unhealthy",
                                     "1 while the consumer cannot fetch, by cause (brokers_down, "
                                     "authentication, authorization, coordinator): shown after "
                                     "15 s without a message, an assignment or a watermark read.",
                                     ["cause"], registry=r)
        self.dead_letter_write_failures = Counter(
            _P + "dead_letter_write_failures_total",
            "Dead letters the broker did not take (down, refusing, too large even truncated), by "
            "source topic: each is written again after a backoff; its partition waits.",
            ["topic"], registry=r)
        self.partitions_held = Gauge(_P + "partitions_held",
                                     "Partitions waiting for a system their messages need, by "
                                     "what (schema_registry): put back and paused, read again "
                                     "after a backoff; nothing is dead-lettered for it.",
                                     ["what"], registry=r)
        self.unreachable = Gauge(_P + "freshdesk_unreachable",
                                 "1 while Freshdesk is unreachable, by cause (connection, dns, tls, "
                                 "timeout, proxy, server_error, too_large, bad_answer).",
                                 ["cause"], registry=r)
        # --- the account budget (consumer/budget): paced, shared, spent? --------------------------
        self.budget_used = Gauge(_P + "budget_window_used_calls",
                                 "Calls spent in the account's current window by everyone (Total - "
                                 "Remaining of the last answer).", registry=r)
        self.budget_available = Gauge(_P + "budget_window_available_calls",
                                      "Calls per window this consumer paces for: Total less the "
                                      "reserve or what the account's other users are seen spending.",
                                      registry=r)
        self.budget_others = Gauge(_P + "budget_others_calls",
                                   "Calls per window the account's other users are seen spending.",
                                   registry=r)
        self.budget_window_seconds = Gauge(_P + "budget_window_seconds",
                                           "The account's window as configured or learnt from the "
                                           "headers.", registry=r)
        self.budget_calls = Counter(_P + "budget_calls_total",
                                    "Calls made against the account budget, by replica (host name).",
                                    ["replica"], registry=r)
        self.budget_throttled = Counter(_P + "budget_throttled_total",
                                        "429 answers (the budget was spent anyway), by replica.",
                                        ["replica"], registry=r)
        self.budget_delay_seconds = Histogram(_P + "budget_pacing_delay_seconds",
                                              "Time a call waited for the account budget.",
                                              buckets=_PACE, registry=r)
        self.budget_shared = Gauge(_P + "budget_shared",
                                   "1 while calls are paced through the replicas' shared schedule "
                                   "in Redis, 0 while paced locally (backend local, or Redis away).",
                                   registry=r)
        # --- how far behind is it? ---------------------------------------------------------------
        self.lag_messages = Gauge(_P + "lag_messages",
                                  "Messages between the committed offset and the end of the "
                                  "partition.", ["topic", "partition"], registry=r)
        self.time_lag_seconds = Gauge(_P + "time_lag_seconds",
                                      "Age of the oldest message taken and not yet settled "
                                      "(0 when nothing is pending).", ["topic", "partition"],
                                      registry=r)
        self.pending = Gauge(_P + "pending_messages",
                             "Messages taken from Kafka and not yet committed.", registry=r)
        self.paused = Gauge(_P + "paused", "1 while backpressure stops taking messages "
                            "(full; partitions are paused after 1 s).", registry=r)
        # --- the consumer group --------------------------------------------------------------------
        self.commit_seconds = Histogram(_P + "commit_duration_seconds",
                                        "Synchronous offset commits.", buckets=_HTTP, registry=r)
        self.commit_failures = Counter(_P + "commit_failures_total",
                                       "Offset commits that failed (retried with the next one).",
                                       registry=r)
        self.assigned_partitions = Gauge(_P + "assigned_partitions",
                                         "Partitions this replica owns now (0 is normal for a "
                                         "replica beyond the partition count; it stays ready).",
                                         registry=r)
        self.rebalances = Counter(_P + "rebalances_total",
                                  "Partition assignment changes, by kind (assigned, revoked, lost).",
                                  ["kind"], registry=r)
        self.last_poll = Gauge(_P + "last_poll_timestamp_seconds",
                               "When the poll loop last came round (liveness).", registry=r)


class Children:
    """A labelled metric's children, each looked up once: ``labels()`` validates its values and
    takes the metric's lock on every call, which the per-activity path need not pay.
    Owned by one thread (the one that counts)."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child



class TopicMetrics:
    """One topic's labelled children on the poll thread's hot path, made once per topic
    (``labels()`` costs more than a filter). Counted per message, added to the counters once
    per batch (:meth:`flush`: one lock each). Owned by the poll thread."""

    __slots__ = ("_filtered", "_metrics", "consumed", "consumed_n", "filtered_n", "topic",
                 "transform", "transform_seconds")

    def __init__(self, metrics: Metrics, topic: str, transform: str):
        self._metrics, self.topic = metrics, topic
        self.transform = transform  # the topic's transform name: a metric label and the Job's
        self.consumed = metrics.consumed.labels(topic)
        self.transform_seconds = metrics.transform_seconds.labels(transform)
        self._filtered: dict[str, Any] = {}  # by reason: bounded by transforms.FILTER_REASONS
        self.consumed_n = 0
        self.filtered_n: dict[str, int] = {}

    def filtered(self, reason: str) -> None:
        self.filtered_n[reason] = self.filtered_n.get(reason, 0) + 1

    def flush(self) -> None:
        if self.consumed_n:
            self.consumed.inc(self.consumed_n)
            self.consumed_n = 0
        if self.filtered_n:
            for reason, n in self.filtered_n.items():
                child = self._filtered.get(reason)
                if child is None:
                    child = self._filtered[reason] = self._metrics.filtered.labels(
                        self.topic, self.transform, reason)
                child.inc(n)
            self.filtered_n.clear()



class PerTopic:
    """Each topic's :class:`TopicMetrics`, made on first use; ``transform_of(topic)`` names the
    topic's transform (a label). Owned by the poll thread."""

    def __init__(self, metrics: Metrics, transform_of: Callable[[str], str]):
        self._metrics, self._transform_of = metrics, transform_of
        self._topics: dict[str, TopicMetrics] = {}

    def __call__(self, topic: str) -> TopicMetrics:
        if (made := self._topics.get(topic)) is None:
            made = self._topics[topic] = TopicMetrics(self._metrics, topic, self._transform_of(topic))
        return made

    def flush(self) -> None:
        for topic in self._topics.values():
            topic.flush()


METRICS = Metrics()
