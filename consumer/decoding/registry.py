"""The Schema Registry as decoding uses it: one client per process, bounded, and every failure
sorted into a message fault or an outage.

confluent-kafka's ``SchemaRegistryClient`` caches every schema it fetched by id (a schema is
fetched once per id for the process's life). Around it this module adds what the poll thread
needs: answers capped in bytes (the client reads whole bodies), no sleeping retries by default
(``max.retries: 0``: the partition waits instead), a short negative cache of ids the registry
said it does not know, and :func:`classify`, which tells "this message names a schema that does
not exist" from "the registry cannot answer now".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

# The client's own httpx (httpx2 on Python >= 3.10, as confluent-kafka[schemaregistry] installs
# it), so the hook below and classify() meet the classes the client really raises. Both ship
# type information, as does confluent-kafka (py.typed): no type: ignore is needed here.
from confluent_kafka.schema_registry.common._httpx_compat import httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError

from consumer.config.inputs import SchemaRegistrySettings
from consumer.decoding.result import RegistryUnavailable, Undecodable

__all__ = ["AnswerTooLarge", "SchemaRegistry", "UnknownSchema", "classify"]

_UNKNOWN_IDS_KEPT = 1024
# Statuses that mean "the registry (or what is in front of it) cannot answer now", not "this
# schema does not exist": the partition waits for them. 401/403: our credentials, an operator's
# fix; dead-lettering every message meanwhile would empty the topic into the DLQ.
_OUTAGE_STATUSES = frozenset({401, 403, 407, 408, 425, 429})


class AnswerTooLarge(Exception):
    """The registry's answer passed ``max_answer_bytes``."""


class UnknownSchema(Exception):
    """The registry answered that it does not know the schema id (its 404 / error 40403)."""


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, cap: int, url: str) -> None:
        self._inner, self._cap, self._url = inner, cap, url

    def __iter__(self) -> Iterator[bytes]:
        read = 0
        for chunk in self._inner:
            read += len(chunk)
            if read > self._cap:
                raise AnswerTooLarge(f"the registry's answer to {self._url} is over "
                                     f"{self._cap} bytes")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class SchemaRegistry:
    """The process's registry client (thread-safe: the client locks its own cache)."""

    def __init__(self, settings: SchemaRegistrySettings) -> None:
        self.settings = settings
        self.client = SchemaRegistryClient(settings.client_config())
        cap = settings.max_answer_bytes

        def capped(response: httpx.Response) -> None:
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > cap:
                raise AnswerTooLarge(f"the registry's answer to {response.request.url.path} is "
                                     f"{length} bytes, over max_answer_bytes ({cap})")
            # The sync client asserts the same before its hooks run (httpx Client.send).
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _CappedStream(response.stream, cap, str(response.request.url.path))

        # The client's one HTTP session (httpx): every answer passes this hook before its body
        # is read. Private, so tests/integration/test_decoding.py proves the cap holds.
        session = self.client._rest_client.session
        session.event_hooks["response"].append(capped)
        # Uncompressed answers, so the cap bounds what is held in memory (no gzip bomb).
        session.headers["Accept-Encoding"] = "identity"
        self._unknown: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()

    def schema(self, schema_id: int) -> Schema:
        """The schema with this id, from the client's cache or the registry. Raises
        UnknownSchema, or whatever the client raised (sort it with :func:`classify`)."""
        ttl = self.settings.unknown_id_ttl_s
        with self._lock:
            said_at = self._unknown.get(schema_id)
        if said_at is not None and time.monotonic() - said_at < ttl:
            raise UnknownSchema(f"schema id {schema_id} is unknown to the registry")
        try:
            return self.client.get_schema(schema_id)
        except SchemaRegistryError as e:
            if e.http_status_code != 404:
                raise
            with self._lock:
                self._unknown[schema_id] = time.monotonic()
                self._unknown.move_to_end(schema_id)
                while len(self._unknown) > _UNKNOWN_IDS_KEPT:
                    self._unknown.popitem(last=False)
            raise UnknownSchema(f"schema id {schema_id} is unknown to the registry "
                                f"({e.error_message})") from e

    def close(self) -> None:
        self.client.close()


def classify(exc: BaseException, where: str) -> Undecodable | RegistryUnavailable | None:
    """A registry failure anywhere in ``exc``'s chain as a message fault or an outage; None when
    the chain holds no registry failure (then the payload itself is at fault).

    ``where`` starts the text, e.g. ``"avro value"``."""
    for cause in _chain(exc):
        if isinstance(cause, UnknownSchema):
            return Undecodable("unknown_schema", f"{where}: {cause}; the producer used a "
                                                 "schema of another registry, or it was deleted")
        if isinstance(cause, AnswerTooLarge):
            return Undecodable("schema_unusable", f"{where}: {cause}")
        if isinstance(cause, SchemaRegistryError):
            status = cause.http_status_code
            text = f"{where}: the registry answered {status}: {cause.error_message}"
            if status >= 500 or status in _OUTAGE_STATUSES or status < 0:
                return RegistryUnavailable(text)
            if status == 404:
                return Undecodable("unknown_schema", text)
            return Undecodable("schema_unusable", text)
        if isinstance(cause, httpx.TimeoutException):
            return RegistryUnavailable(f"{where}: the registry did not answer in time "
                                       f"({type(cause).__name__})")
        if isinstance(cause, httpx.TransportError):
            return RegistryUnavailable(f"{where}: the registry is unreachable "
                                       f"({type(cause).__name__}: {cause})")
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
