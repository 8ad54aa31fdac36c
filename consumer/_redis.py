"""One way to connect to Redis for the three stores that use it (the ledger, the contact
directory, the shared account budget), and keeping its password out of every text.

Every client: socket and connect timeouts of the store's ``timeout_s``; one retry, on connection
errors only, so that a pooled connection that died with a restarted Redis fails at once and the
retry opens a fresh one; a timeout is never retried (the answer is due within ``timeout_s``).
A URL that does not parse is a ValueError naming the setting, with the password scrubbed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["Scrubber", "connect", "connect_async", "redact_url"]


def connect(url: str, *, timeout_s: float, setting: str) -> Any:
    """A blocking client (the poll thread's directory)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    try:
        return redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))
    except ValueError as e:
        raise ValueError(f"{setting} {redact_url(url)}: {Scrubber(url)(str(e))}") from None


def connect_async(url: str, *, timeout_s: float, setting: str,
                  max_connections: int | None = None) -> Any:
    """An asyncio client (the delivery thread's ledger and budget). With ``max_connections``, a
    blocking pool: above it, calls wait for a connection (within timeout_s) instead of failing."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    options: dict[str, Any] = {
        "socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}
    try:
        if max_connections is None:
            return Redis.from_url(url, **options)
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                               timeout=timeout_s, **options)
        return Redis.from_pool(pool)  # closes the pool with the client
    except ValueError as e:
        raise ValueError(f"{setting} {redact_url(url)}: {Scrubber(url)(str(e))}") from None


def redact_url(url: str) -> str:
    """``redis://user:***@host:6379/0``: the URL with its password replaced, fit for logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return parts._replace(netloc=f"{user}:***@{host}").geturl()
    except ValueError:
        return "<a redis url that does not parse>"


class Scrubber:
    """Replaces a redis:// URL's password (as written and URL-decoded) with *** in error texts:
    redis-py's messages may carry it, and they reach logs and dead letters."""

    def __init__(self, url: str):
        password = urlsplit(url).password
        self._secrets = [p for p in {password, unquote(password or "")} if p]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
