"""The whole subscription file as one frozen value."""

from __future__ import annotations

from pydantic import Field, model_validator

from consumer.config import kafka as kafka_settings
from consumer.config._section import _Section
from consumer.config.freshdesk import FreshdeskSettings
from consumer.config.inputs import SchemaRegistrySettings
from consumer.config.pipeline import (
    DeadLetterSettings,
    LogSettings,
    MetricsSettings,
    ProcessingSettings,
    Subscription,
)
from consumer.config.stores import ContactSettings, LedgerSettings

__all__ = ["Config"]


class Config(_Section):
    # Any librdkafka consumer setting passes through; bootstrap.servers and group.id are required.
    kafka: dict[str, str | int | float | bool]
    freshdesk: FreshdeskSettings
    processing: ProcessingSettings = ProcessingSettings()
    dead_letter: DeadLetterSettings = DeadLetterSettings()
    log: LogSettings = LogSettings()
    ledger: LedgerSettings = LedgerSettings()  # idempotency: what was already delivered
    metrics: MetricsSettings = MetricsSettings()  # /metrics, /healthz, /readyz
    contacts: ContactSettings = ContactSettings()  # the contact directory and the waiting room
    # For subscriptions in avro / protobuf / json_schema (consumer.config.inputs).
    schema_registry: SchemaRegistrySettings | None = None
    subscriptions: list[Subscription] = Field(min_length=1)

    @model_validator(mode="after")
    def _kafka_basics(self) -> Config:
        missing = [k for k in ("bootstrap.servers", "group.id") if not self.kafka.get(k)]
        if missing:
            raise ValueError(f"kafka needs {' and '.join(missing)}")
        return self

    @property
    def group(self) -> str:
        return str(self.kafka["group.id"])

    def kafka_for_display(self) -> dict[str, object]:
        """The Kafka settings with secrets replaced, for logs and errors."""
        return kafka_settings.for_display(self.kafka)

    def secrets(self) -> list[str]:
        """Every secret the file holds, for logs.register_secret: the API key, the Redis
        passwords, the librdkafka secrets (SASL, key passwords)."""
        found = [self.freshdesk.api_key.get_secret_value(), self.ledger.url_password,
                 self.contacts.url_password, self.freshdesk.budget.url_password,
                 self.freshdesk.proxy_password,
                 *kafka_settings.secret_values(self.kafka),
                 *(self.schema_registry.secrets() if self.schema_registry else ())]
        return [s for s in found if s]

    def __repr__(self) -> str:  # never show SASL passwords, even in a debugger
        return f"Config(kafka={self.kafka_for_display()!r}, subscriptions={self.subscriptions!r})"

    __str__ = __repr__
