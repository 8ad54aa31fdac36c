"""The Freshdesk Activity API client and the classifier of its answers.

One client per Freshdesk account. It only posts and classifies; what to do about an answer
(wait, retry, dead-letter, halt) is the delivery station's business, so the rules of
shared/freshdesk-contract.md live in exactly one table here (:func:`classify`).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from consumer.config import FreshdeskSettings, RetrySettings

__all__ = ["PATH", "Answer", "FreshdeskClient", "Reply", "classify"]

PATH = "/api/v2/contact-activities"
_BODY_KEEP = 2048  # enough of an error body for a dead letter, never a whole page


class Answer(enum.Enum):
    DELIVERED = "delivered"  # 200: on the timeline
    REJECTED = "rejected"  # 400 and other permanent 4xx: dead-letter with Freshdesk's reason
    THROTTLED = "throttled"  # 429: wait Retry-After, then again; never dead-letter
    TRANSIENT = "transient"  # 5xx, 408, timeout, connection error: back off and retry
    HALT = "halt"  # 401/403/404: our credentials or address are wrong; stop everything


@dataclass(frozen=True, slots=True)
class Reply:
    answer: Answer
    status: int | None  # None when no HTTP answer came (timeout, connection error)
    detail: str  # the response body (trimmed) or the transport error
    retry_after: float | None = None
    budget_total: int | None = None
    budget_remaining: int | None = None
    budget_used: int | None = None  # X-RateLimit-Used-CurrentRequest: what this call cost
    # False only when we know the request never left (the connection could not be made): then
    # nothing can be on the timeline. A timeout or a dropped connection may have been stored.
    sent: bool = True


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


_RETRY_STATUSES = RetrySettings().statuses  # one source: the config default


def classify(status: int, headers: httpx.Headers, body: str,
             retry_statuses: frozenset[int] = _RETRY_STATUSES) -> Reply:
    """Map an HTTP answer to what the consumer must do about it (the contract's table)."""
    total = _int_header(headers, "X-RateLimit-Total")
    remaining = _int_header(headers, "X-RateLimit-Remaining")
    used = _int_header(headers, "X-RateLimit-Used-CurrentRequest")
    detail = body[:_BODY_KEEP]
    if 200 <= status < 300:
        answer = Answer.DELIVERED
    elif status == 429:
        retry_after = _int_header(headers, "Retry-After")
        # Freshdesk always sends Retry-After with a 429; if a proxy ate it, a minute is the
        # longest a per-minute window can make us wait.
        wait = float(retry_after) if retry_after is not None and retry_after >= 0 else 60.0
        return Reply(Answer.THROTTLED, status, detail, wait, total, remaining, used)
    elif status in (401, 403, 404):
        answer = Answer.HALT
    elif status in retry_statuses:
        answer = Answer.TRANSIENT
    else:  # 400, 409, 413, 415, 422, 501, …: sending the same body again cannot succeed
        answer = Answer.REJECTED
    return Reply(answer, status, detail, None, total, remaining, used)


def _transport_failure(e: BaseException) -> str:
    """'timed out: …' or 'connection failed: …', judged by the original error: the aiohttp
    transport reports a dropped connection as httpx.ConnectTimeout."""
    cause = e.__cause__ or e
    timed_out = isinstance(cause, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)) or (
        cause is e and isinstance(e, httpx.TimeoutException))
    kind = "timed out" if timed_out else "connection failed"
    return f"{kind}: {type(cause).__name__}: {cause}"[:_BODY_KEEP]


def _may_have_been_sent(e: BaseException) -> bool:
    """False when the connection was never made (refused, DNS, TLS handshake): the request did
    not leave. Everything else (timeouts, a connection dropped mid-request) is unknown."""
    never = (httpx.ConnectError, aiohttp.ClientConnectorError, ConnectionRefusedError)
    return not (isinstance(e, never) or isinstance(e.__cause__, never))


class FreshdeskClient:
    """Posts activity bodies (already encoded JSON) to one account."""

    def __init__(self, settings: FreshdeskSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.url = settings.url + PATH
        self._retry_statuses = settings.retry.statuses
        limits = httpx.Limits(
            max_connections=settings.max_in_flight, max_keepalive_connections=settings.max_in_flight
        )
        if transport is None:
            # httpx's API on aiohttp's HTTP/1.1 engine: bench/http_client.py measured ~10x less
            # CPU per POST than httpx's own transport at 32 in flight (304 vs 3,141 µs here).
            transport = AiohttpTransport(limits=limits)
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(settings.api_key.get_secret_value(), "X"),
            headers={"Content-Type": "application/json",
                     "User-Agent": "freshdesk-activity-consumer"},
            timeout=httpx.Timeout(settings.timeout_s),
            limits=limits,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"FreshdeskClient(url={self.url!r})"  # never the API key

    async def post(self, body: bytes) -> Reply:
        try:
            response = await self._http.post(self.url, content=body)
        except (TimeoutError, httpx.TransportError, aiohttp.ClientError, OSError) as e:
            return Reply(Answer.TRANSIENT, None, _transport_failure(e), sent=_may_have_been_sent(e))
        return classify(response.status_code, response.headers, response.text, self._retry_statuses)

    async def aclose(self) -> None:
        await self._http.aclose()
