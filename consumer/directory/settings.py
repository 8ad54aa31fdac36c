"""The ``contacts:`` section of the subscription file, and building the directory from it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from consumer._section import _Section
from consumer.directory._api import ContactDirectory
from consumer.directory._memory import MemoryDirectory
from consumer.directory._redis import RedisDirectory
from consumer.ledger import LedgerSettings, url_password

__all__ = ["ContactSettings", "directory_url", "make_directory"]


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
    # Events waiting at once; a full waiting room refuses and the pipeline decides (see
    # consumer/waiting_room.py).
    max_waiting: int = Field(10_000, ge=1)
    # Where such events wait (consumer/parking.py), so their source partitions can commit past
    # them: one topic per consumer group ("{group}" is kafka group.id). Created at start when
    # missing, with this many partitions (replicas share its partitions like any topic's).
    waiting_topic: str = Field("{group}.waiting", min_length=1)
    waiting_topic_partitions: int = Field(6, ge=1)

    def waiting_topic_for(self, group: str) -> str:
        return self.waiting_topic.replace("{group}", group)
    # JSON Lines of customers loaded at start (see consumer/directory/bootstrap.py); a relative
    # path is from the working directory. check-config tells whether it is there.
    bootstrap_file: Path | None = None

    @model_validator(mode="after")
    def _fits_backend(self) -> ContactSettings:
        if self.backend == "redis" and self.url is not None:
            scheme = urlsplit(self.url.get_secret_value()).scheme
            if scheme not in ("redis", "rediss", "unix"):
                raise ValueError(f"contacts.url must start with redis://, rediss:// or unix:// "
                                 f"(got {scheme or 'no scheme'})")
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


def make_directory(contacts: ContactSettings, ledger: LedgerSettings) -> ContactDirectory:
    if contacts.backend == "redis":
        url = directory_url(contacts, ledger)
        assert url is not None  # config's cross-section check saw to it
        return RedisDirectory(url.get_secret_value(), prefix=contacts.prefix,
                              ttl_s=contacts.ttl_s, timeout_s=contacts.timeout_s,
                              cache_entries=contacts.cache_entries,
                              cache_ttl_s=contacts.cache_ttl_s)
    return MemoryDirectory(contacts.max_entries, contacts.ttl_s)
