"""The sections that shape the pipeline: subscriptions, processing limits, dead letters and their
breaker, logs, and the metrics/health server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from consumer.config._section import _Section
from consumer.config.inputs import REGISTRY_FORMATS, Envelope, Format, KeyFormat

__all__ = ["BreakerSettings", "DeadLetterSettings", "LogSettings", "MetricsSettings",
           "ProcessingSettings", "Subscription"]


class ProcessingSettings(_Section):
    # Messages taken from Kafka and not yet settled. Above it partitions are paused
    # (backpressure) so memory stays bounded whatever Freshdesk does.
    max_pending_messages: int = Field(1000, ge=1)
    # ... and the bytes of their keys and values (a backlog of 500 KB events must not outgrow the
    # pod). librdkafka's read-ahead is sized from it too (consumer/config/kafka.py): a quarter.
    # The chart sets it from resources.limits.memory. Waiting rooms get up to half of it.
    max_pending_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)
    commit_interval_s: float = Field(1.0, gt=0)  # commit at most this often ...
    commit_every_messages: int = Field(1000, ge=1)  # ... or after this many settled messages
    drain_timeout_s: float = Field(20.0, gt=0)  # SIGTERM / revoke: time to finish in-flight work
    # SIGTERM, after the drain and the final commit: time allowed to leave the group. librdkafka's
    # close can wait on a coordinator that never answers; past this the process exits anyway
    # (nothing is lost: offsets are committed, the group moves the partitions after
    # session.timeout.ms). Pod grace period ≥ drain_timeout_s + close_timeout_s + a few seconds.
    close_timeout_s: float = Field(30.0, gt=0)
    poll_timeout_s: float = Field(0.1, gt=0, le=5)


class BreakerSettings(_Section):
    """``dead_letter.breaker`` (consumer/dead_letters/breaker.py)."""

    # Dead letters in a row that are still believable as bad luck; one more trips the breaker.
    max_consecutive: int = Field(100, ge=1)
    # The share of the window that may be dead-lettered; above it the breaker trips.
    # 1.0 turns the ratio check off (only max_consecutive remains).
    max_ratio: float = Field(0.5, gt=0, le=1)
    # How many of the latest settled messages the ratio is taken over (per topic).
    window: int = Field(1000, ge=1)
    # Settled messages needed in the window before the ratio is judged at all.
    min_messages: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _min_fits_window(self) -> BreakerSettings:
        if self.min_messages > self.window:
            raise ValueError(f"min_messages ({self.min_messages}) must not exceed window "
                             f"({self.window}): the ratio would never be judged")
        return self


class DeadLetterSettings(_Section):
    # Where a message that cannot become an activity goes, with its reason in headers.
    # "{topic}" is the message's own topic.
    topic: str = "{topic}.dlq"
    # A bad deploy halts instead of draining a whole topic into its dead-letter topic.
    breaker: BreakerSettings = BreakerSettings()

    def topic_for(self, topic: str) -> str:
        return self.topic.replace("{topic}", topic)


class Subscription(_Section):
    # A topic name, or a regex when it starts with "^" (librdkafka's convention).
    topic: str = Field(min_length=1)
    # A built-in transform name ("orders", "stripe") or "package.module:function" ...
    transform: str | None = Field(None, min_length=1)
    # ... or a JSONata mapping (transforms.mapping): a file ending in .jsonata (relative to the
    # subscription file) or an inline expression. Exactly one of the two.
    mapping: str | None = Field(None, min_length=1)
    # The value's wire format: json, or avro / protobuf / json_schema in the Confluent wire
    # format (magic byte 0, 4-byte schema id) through the schema_registry section.
    format: Format = "json"
    # The key's: raw (its bytes, as $key's text), json, or a registry format.
    key_format: KeyFormat = "raw"
    # The envelope around the event: none, debezium (change events: the row, $op, $before,
    # $source), outbox (Debezium's outbox event router), cloudevents (binary or structured).
    envelope: Envelope = "none"
    # debezium: snapshot reads (op "r") are filtered unless include (a first snapshot would
    # otherwise put every row's history on every timeline at once).
    snapshot: Literal["skip", "include"] = "skip"
    # true: the topic only feeds the contact directory (e.g. a compacted customers topic): the
    # Links its events teach are learned, and nothing of it is ever posted.
    learn_only: bool = False

    @model_validator(mode="after")
    def _one_way_to_activities(self) -> Subscription:
        if (self.transform is None) == (self.mapping is None):
            raise ValueError("give exactly one of transform (a built-in or module:function) "
                             "or mapping (a JSONata file or expression)")
        if self.snapshot == "include" and self.envelope != "debezium":
            raise ValueError("snapshot: include only applies to envelope: debezium")
        return self

    @property
    def is_pattern(self) -> bool:
        return self.topic.startswith("^")

    @property
    def needs_registry(self) -> bool:
        return self.format in REGISTRY_FORMATS or self.key_format in REGISTRY_FORMATS

    @property
    def mapping_file(self) -> str | None:
        """The mapping's file name when it names one (``….jsonata``), else None (inline)."""
        return self.mapping if self.mapping and self.mapping.endswith(".jsonata") else None

    @property
    def name(self) -> str:
        """How metrics and logs name what turns its events into activities: the transform, or
        ``mapping:<file>`` / ``mapping:inline``."""
        if self.transform is not None:
            return self.transform
        return f"mapping:{self.mapping_file}" if self.mapping_file else "mapping:inline"


class LogSettings(_Section):
    format: Literal["json", "text"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSettings(_Section):
    """The ``metrics:`` section: the server of consumer/health.py."""

    enabled: bool = True  # serve /metrics, /healthz and /readyz
    host: str = "0.0.0.0"  # every interface: the Prometheus scraper and the kubelet are remote
    port: int = Field(9102, ge=0, le=65535)  # 0: any free port (tests)
    # /healthz fails when the poll loop has not come round for this long (a stuck loop).
    liveness_timeout_s: float = Field(30.0, gt=0)
