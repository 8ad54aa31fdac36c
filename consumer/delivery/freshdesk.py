"""The Freshdesk Activity API client and the classifier of its answers.

One client per Freshdesk account. It only posts and classifies; what to do about an answer
(wait, retry, dead-letter, halt) is the delivery station's business, so the rules of
shared/freshdesk-contract.md live in exactly one table here (:func:`classify`).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import importlib
import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message as _MimeHeaders
from typing import TYPE_CHECKING, Any, Literal

import certifi
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery import http1

if TYPE_CHECKING:
    import aiohttp

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


class _Kept(dict[str, str]):
    """The few headers the http1 engine keeps (_ANSWER_HEADERS), by lower-case name; ``get``
    is case-insensitive. Cheaper than a CIMultiDict per answer."""

    __slots__ = ()

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


_RETRY_STATUSES = RetrySettings().statuses  # one source: the config default


def classify(status: int, headers: Mapping[str, str], body: str,
             retry_statuses: frozenset[int] = _RETRY_STATUSES) -> Reply:
    """Map an HTTP answer to what the consumer must do about it (the contract's table).

    ``headers`` is read case-insensitively: aiohttp's CIMultiDictProxy and the http1 engine's
    _Kept as they come, any other mapping (a plain dict in a test) is copied into a CIMultiDict
    first."""
    if not isinstance(headers, (CIMultiDictProxy, CIMultiDict, _Kept)):
        headers = CIMultiDict(headers)
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


def _transport_failure(e: BaseException, timeout_s: float | None = None) -> str:
    """'timed out: …' or 'connection failed: …'. aiohttp's timeouts are all TimeoutError (its
    ServerTimeoutError family and the bare one the total timeout raises, which has no text)."""
    timed_out = isinstance(e, TimeoutError)
    text = str(e)
    if not text and timed_out and timeout_s is not None:
        text = f"no complete answer within {timeout_s:g}s"
    kind = "timed out" if timed_out else "connection failed"
    return f"{kind}: {type(e).__name__}: {text}"[:_BODY_KEEP]


# The connection could not be made (refused, unreachable, DNS, TLS handshake): the http1 engine
# raises ConnectError; aiohttp reports all of these as ClientConnectorError
# (ClientConnectorDNSError, …SSLError, …CertificateError): checked when aiohttp was imported (it
# is only for its engine).
_NEVER_SENT = (http1.ConnectError, ConnectionRefusedError)


def _may_have_been_sent(e: BaseException) -> bool:
    """False when the connection was never made: the request did not leave. Everything else is
    unknown: a timeout (even one that struck while connecting: aiohttp's total timeout does not
    say where it struck), a server that closed the connection mid-request
    (ServerDisconnectedError), a reset or other OSError on a connection that existed."""
    if isinstance(e, _NEVER_SENT):
        return False
    aiohttp_ = sys.modules.get("aiohttp")
    return aiohttp_ is None or not isinstance(e, aiohttp_.ClientConnectorError)


def _ssl_context() -> ssl.SSLContext:
    """The trust httpx gave us (httpx.create_ssl_context(verify=True)): SSL_CERT_FILE or
    SSL_CERT_DIR when set, else certifi's bundle. aiohttp's default would be the system store."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _text(raw: bytes, charset: str | None) -> str:
    """The body as httpx's ``response.text`` gave it: the declared charset if Python knows it,
    else UTF-8; undecodable bytes replaced, never an error."""
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


_charsets: dict[str, str | None] = {}


def _charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, parsed as aiohttp's ``response.charset`` does
    (the email package's parser, too slow for every answer: remembered per distinct value)."""
    if content_type is None:
        return None
    try:
        return _charsets[content_type]
    except KeyError:
        parsed = _MimeHeaders()
        parsed["Content-Type"] = content_type
        param = parsed.get_param("charset")
        charset = param if isinstance(param, str) else None
        if len(_charsets) < 64:
            _charsets[content_type] = charset
        return charset


# The headers the http1 engine keeps of an answer: what classify() and _text() read.
_ANSWER_HEADERS = ("X-RateLimit-Total", "X-RateLimit-Remaining", "X-RateLimit-Used-CurrentRequest",
                   "Retry-After", "Content-Type")

# Idle keep-alive connections are closed after this long: httpx.Limits' keepalive_expiry, which
# the old transport passed on to aiohttp. Short, so we seldom reuse a connection the server is
# closing (a POST on one fails with an unknown outcome).
_KEEPALIVE_S = 5.0


Engine = Literal["aiohttp", "http1"]


class FreshdeskClient:
    """Posts activity bodies (already encoded JSON) to one account.

    Two engines (``freshdesk.http_engine``), the same Replies. ``http1`` (the default):
    consumer.delivery.http1's pool, asyncio Protocols and httptools writing a header block built once here
    (bench/http_client.py: about a quarter of aiohttp's CPU per POST). ``aiohttp``: a bare
    aiohttp.ClientSession, made on first use inside the running loop (the delivery thread's), or
    at once when constructed inside it; aiohttp is imported only for it."""

    def __init__(self, settings: FreshdeskSettings, engine: Engine | None = None):
        engine = settings.http_engine if engine is None else engine
        if engine not in ("aiohttp", "http1"):
            raise ValueError(f"engine must be 'aiohttp' or 'http1', not {engine!r}")
        self.engine = engine
        self.url = settings.url + PATH
        self._url = URL(self.url)  # parsed and encoded once, not per request
        self._retry_statuses = settings.retry.statuses
        self._max_in_flight = settings.max_in_flight
        self._timeout_s = settings.timeout_s
        # httpx.Timeout(t) was four separate limits (connect, each socket read, each write, the
        # wait for a pooled connection), so one request could last several t. One total limit
        # is what freshdesk.timeout_s promises ("per request") and what check-config's
        # ledger.lease_s > freshdesk.timeout_s relies on: no request outlives its claim's lease.
        # Stricter than before only for an answer that trickles in for longer than t.
        userpass = f"{settings.api_key.get_secret_value()}:X".encode()  # httpx.BasicAuth: UTF-8
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(userpass).decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": "freshdesk-activity-consumer",
        }
        self._session: aiohttp.ClientSession | None = None
        self._aiohttp: Any = None  # the module, imported only for this engine (~20 MB of RSS)
        self._closed = False
        self._pool: http1.Pool | None = None
        if engine == "http1":
            self._pool, self._head = self._http1()
            return
        self._aiohttp = aiohttp_ = importlib.import_module("aiohttp")
        self._client_errors = (TimeoutError, aiohttp_.ClientError, OSError)
        self._timeout = aiohttp_.ClientTimeout(total=settings.timeout_s)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # made by the first post(), in the loop that runs it
        else:
            self._open()

    def __repr__(self) -> str:
        return f"FreshdeskClient(url={self.url!r})"  # never the API key

    def _http1(self) -> tuple[http1.Pool, bytes]:
        url = self._url
        host = url.raw_host or ""
        authority = f"[{host}]" if ":" in host else host
        if not url.is_default_port():
            authority += f":{url.port}"
        head = (f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {authority}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in self._headers.items())
                + "Content-Length: ").encode("latin-1")
        pool = http1.Pool(
            url.scheme, host, url.port or (443 if url.scheme == "https" else 80),
            self._max_in_flight, ssl_context=_ssl_context() if url.scheme == "https" else None,
            keepalive_s=_KEEPALIVE_S, keep_headers=_ANSWER_HEADERS)
        return pool, head

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("FreshdeskClient is closed")
        aiohttp = self._aiohttp
        connector = aiohttp.TCPConnector(
            limit=self._max_in_flight,  # as many connections as requests in flight, kept alive
            keepalive_timeout=_KEEPALIVE_S,
            ssl=_ssl_context() if self._url.scheme == "https" else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # Freshdesk's cookies are of no use to us
        )
        return self._session

    async def post(self, body: bytes) -> Reply:
        if self._pool is not None:
            return await self._post_http1(body)
        session = self._session if self._session is not None else self._open()
        try:
            async with session.post(self._url, data=body, allow_redirects=False) as response:
                raw = await response.read()  # all of it: the connection goes back to the pool
        except self._client_errors as e:
            return Reply(Answer.TRANSIENT, None, _transport_failure(e, self._timeout_s),
                         sent=_may_have_been_sent(e))
        return classify(response.status, response.headers, _text(raw, response.charset),
                        self._retry_statuses)

    async def _post_http1(self, body: bytes) -> Reply:
        if self._closed:
            raise RuntimeError("FreshdeskClient is closed")
        request = b"%s%d\r\n\r\n%s" % (self._head, len(body), body)
        try:  # one total timeout, as aiohttp's ClientTimeout
            status, kept, raw = await self._pool.request(request, self._timeout_s)  # type: ignore[union-attr]
        except (TimeoutError, OSError) as e:
            return Reply(Answer.TRANSIENT, None, _transport_failure(e, self._timeout_s),
                         sent=_may_have_been_sent(e))
        headers = _Kept((name.lower(), value) for name, value in reversed(kept))  # first wins
        return classify(status, headers, _text(raw, _charset(headers.get("Content-Type"))),
                        self._retry_statuses)

    async def aclose(self) -> None:
        """Closes the session and its connections; a post() afterwards raises RuntimeError."""
        self._closed = True
        if self._pool is not None:
            await self._pool.aclose()
        if self._session is not None:
            await self._session.close()
