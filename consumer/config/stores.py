"""The shared stores' sections: ``ledger:`` (what was delivered) and ``contacts:`` (who a vendor
id belongs to), and how their Redis URLs are read. Their behaviour lives in consumer.ledger and
consumer.contacts.directory; these are only the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator

from consumer.config._section import _Section

__all__ = ["ContactSettings", "LedgerSettings", "check_redis_url", "directory_url", "url_password"]


def url_password(url: SecretStr | None) -> str | None:
    """The password inside a redis:// URL, for logs.register_secret; None when it has none."""
    if url is None:
        return None
    password = urlsplit(url.get_secret_value()).password
    return unquote(password) if password else None


def check_redis_url(url: SecretStr, key: str) -> None:
    """Raise ValueError (a config problem) unless ``url`` is a redis://, rediss:// or unix:// URL."""
    scheme = urlsplit(url.get_secret_value()).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"{key} must start with redis://, rediss:// or unix:// "
                         f"(got {scheme or 'no scheme'})")


class LedgerSettings(_Section):
    # memory: this process only, forgotten on restart (the demo). redis: shared by every replica.
    backend: Literal["memory", "redis"] = "memory"
    # redis://[user:password@]host:6379/0, rediss:// for TLS. Put the password in the environment:
    # url: ${LEDGER_REDIS_URL}. Required for backend redis; never logged.
    url: SecretStr | None = None
    prefix: str = "fdac:"  # key prefix in Redis, so several consumers can share one database
    # How long a delivery is remembered: at least the topics' retention plus the redrive horizon.
    ttl_s: float = Field(7 * 86400.0, gt=0)
    # How long a claim holds without being renewed; longer than freshdesk.timeout_s (see
    # consumer/ledger/__init__.py).
    lease_s: float = Field(60.0, gt=0)
    # memory backend: keys held, oldest deliveries forgotten first. About 230 bytes a key
    # (measured, sha256 keys): the default 1,000,000 is about 230 MB of the pod's memory.
    max_keys: int = Field(1_000_000, ge=1)
    timeout_s: float = Field(2.0, gt=0)  # redis backend: per call; then LedgerUnavailable

    @model_validator(mode="after")
    def _url_fits_backend(self) -> LedgerSettings:
        if self.backend == "redis":
            if self.url is None:
                raise ValueError("backend redis needs ledger.url (redis://host:6379/0)")
            check_redis_url(self.url, "ledger.url")
        elif self.url is not None:
            raise ValueError("ledger.url is only read with backend: redis")
        return self

    @property
    def url_password(self) -> str | None:
        """The password inside ``url`` (for logs.register_secret), if any."""
        return url_password(self.url)


class ContactSettings(_Section):
    # memory: this process only, forgotten on restart (one replica; the bootstrap file or the
    # customers topic refills it). redis: shared by every replica, survives restarts.
    backend: Literal["memory", "redis"] = "memory"
    # redis://[user:password@]host:6379/0. Left out with backend redis: the ledger's url (same
    # Redis, other prefix), which is how the two are meant to be deployed. Never logged.
    url: SecretStr | None = None
    # Key prefix in Redis. Not the ledger's ("fdac:"): refs and activity keys look alike
    # ("stripe:…"), so the two must not share a namespace.
    prefix: str = Field("fdac-contacts:", min_length=1)
    # How long a ref is remembered after the last event that named it. 180 days: a dispute
    # reaches its charge up to 120 days after the payment (Visa and Mastercard's usual window),
    # refunds come months after an order, and a customer can be silent for a season between
    # orders. About 160 bytes a ref in Redis (measured: bench/directory_cost.py).
    ttl_s: float = Field(180 * 86400.0, gt=0)
    # memory backend: refs held, the least recently learned forgotten first. About 380 bytes
    # each (measured), so the default is ~190 MB at most; more customers than that: use redis.
    max_entries: int = Field(500_000, ge=1)
    # redis backend: the local cache in front of Redis (~380 bytes a record: ~40 MB) ...
    cache_entries: int = Field(100_000, ge=1)
    # ... and how stale it may be: another replica's update of a known customer shows here
    # after at most this long. Unresolved refs are never cached.
    cache_ttl_s: float = Field(30.0, gt=0)
    # redis backend: per call. The poll thread waits this long at most, so keep it short; a
    # flush of 250 Links takes a few ms, but 0.5 s timed out on this 2-core machine at load 11.
    timeout_s: float = Field(1.0, gt=0, le=5)
    # How long an event whose contact is unknown waits for a Link before it is dead-lettered as
    # contact_unresolved (redrivable). One hour: webhooks arrive out of order and a customers
    # topic may lag by minutes; data that has not come in an hour is missing, not late.
    wait_s: float = Field(3600.0, gt=0)
    # Events waiting at once; a full waiting room refuses and the event is dead-lettered as
    # contact_unresolved (consumer/contacts/waiting_room.py).
    max_waiting: int = Field(10_000, ge=1)
    # Where such events wait (consumer/contacts/parking_lot.py), so their source partitions can
    # commit past them: one topic per consumer group ("{group}" is kafka group.id). Created at
    # start when missing, with this many partitions (replicas share its partitions like any
    # topic's).
    waiting_topic: str = Field("{group}.waiting", min_length=1)
    waiting_topic_partitions: int = Field(6, ge=1)
    # JSON Lines of customers loaded at start (see consumer/contacts/directory/bootstrap.py); a
    # relative path is from the working directory. check-config tells whether it is there.
    bootstrap_file: Path | None = None

    def waiting_topic_for(self, group: str) -> str:
        return self.waiting_topic.replace("{group}", group)

    @model_validator(mode="after")
    def _fits_backend(self) -> ContactSettings:
        if self.backend == "redis" and self.url is not None:
            check_redis_url(self.url, "contacts.url")
        elif self.backend == "memory" and self.url is not None:
            raise ValueError("contacts.url is only read with backend: redis")
        return self

    @property
    def url_password(self) -> str | None:
        """The password inside ``url`` (for logs.register_secret), if any."""
        return url_password(self.url)


def directory_url(contacts: ContactSettings, ledger: LedgerSettings) -> SecretStr | None:
    """The Redis the directory uses: its own url, else the ledger's (None: memory, or no url)."""
    if contacts.backend != "redis":
        return None
    if contacts.url is not None:
        return contacts.url
    return ledger.url if ledger.backend == "redis" else None
