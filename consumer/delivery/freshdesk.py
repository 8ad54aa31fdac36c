"""The Freshdesk Activity API client: one aiohttp session per account, every answer bounded.

It only posts and classifies (consumer.delivery.answers); what to do about an answer is the
delivery station's business. What the session is given, as aiohttp's own docs advise:

- a TCPConnector with one connection per request in flight, kept alive briefly;
- one total timeout per call (``freshdesk.timeout_s``: connect, send, headers and body), and a
  connect timeout within it, so that a connection never made is told from a request that left;
- answers read through ``response.content`` up to ``freshdesk.max_answer_bytes`` (1 MiB:
  Freshdesk's answers are a few hundred bytes), a larger Content-Length refused before reading,
  the status line and headers capped by aiohttp (8 KiB a line, 128 headers), the connection
  dropped when an answer breaks a cap;
- no redirects followed: a 3xx from the account's URL is a configuration to fix (a halt);
- proxies: ``freshdesk.proxy`` when set, else HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and their
  lower-case forms) from the environment, as curl and every HTTP tool read them
  (``trust_env``); the proxy's credentials never reach a log, a metric or a repr;
- trust: SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's bundle.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from urllib.parse import urlsplit

import aiohttp
import certifi
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from consumer.config import FreshdeskSettings
from consumer.delivery.answers import BODY_KEEP, Answer, Reply, classify

__all__ = ["PATH", "FreshdeskClient", "failure_reply", "proxy_for_display"]

PATH = "/api/v2/contact-activities"
# Idle keep-alive connections are closed after this long. Short, so we seldom reuse a connection
# the server is closing (a POST on one fails with an unknown outcome).
_KEEPALIVE_S = 5.0
_MAX_LINE = 8190  # aiohttp's default for the status line and each header line
_MAX_HEADERS = 128  # Freshdesk sends about 20
_READ_CHUNK = 64 * 1024


class FreshdeskClient:
    """Posts activity bodies (already encoded JSON) to one account. The session is made inside
    the running loop (the delivery thread's) on first use, or at once when made inside it."""

    def __init__(self, settings: FreshdeskSettings):
        self.url = settings.url + PATH
        self._url = URL(self.url)  # parsed and encoded once, not per request
        self._retry_statuses = settings.retry.statuses
        self._max_in_flight = settings.max_in_flight
        self._timeout_s = settings.timeout_s
        self._max_answer = settings.max_answer_bytes
        # One total limit per call (what freshdesk.timeout_s promises, and what check-config's
        # ledger.lease_s > freshdesk.timeout_s relies on: no request outlives its claim's lease).
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_s,
                                              sock_connect=min(settings.timeout_s, 5.0))
        self._headers = {
            "Authorization": aiohttp.encode_basic_auth(settings.api_key.get_secret_value(), "X"),
            "Content-Type": "application/json", "User-Agent": "freshdesk-activity-consumer"}
        self._proxy, self._proxy_headers = _proxy(settings, self._url)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # made by the first post(), in the loop that runs it
        else:
            self._open()

    def __repr__(self) -> str:
        return f"FreshdeskClient(url={self.url!r})"  # never the API key nor the proxy's password

    @property
    def proxy(self) -> str | None:
        """The proxy the posts go through, without its credentials; None: straight there."""
        return None if self._proxy is None else str(self._proxy)

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("FreshdeskClient is closed")
        connector = aiohttp.TCPConnector(
            limit=self._max_in_flight,  # as many connections as requests in flight, kept alive
            keepalive_timeout=_KEEPALIVE_S,
            ssl=_ssl_context() if self._url.scheme == "https" else True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # No default headers: aiohttp merges a session's into the proxy's CONNECT request,
            # and would send the API key to the proxy as its Proxy-Authorization. Per request.
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # Freshdesk's cookies are of no use to us
            # The environment's proxy was read once (_proxy); trust_env would also let .netrc
            # add credentials for the account's host, which must come from freshdesk.api_key.
            trust_env=False,
            max_line_size=_MAX_LINE, max_field_size=_MAX_LINE, max_headers=_MAX_HEADERS)
        return self._session

    async def post(self, body: bytes) -> Reply:
        session = self._session if self._session is not None else self._open()
        try:
            async with session.post(self._url, data=body, headers=self._headers,
                                    allow_redirects=False, proxy=self._proxy,
                                    proxy_headers=self._proxy_headers) as response:
                raw = await self._read(response)
                if raw is None:
                    response.close()  # drop the connection: the rest of the answer stays unread
                    return Reply(Answer.TRANSIENT, None, self._too_large(response), cause="too_large")
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return failure_reply(e, self._timeout_s)
        return classify(response.status, response.headers, _text(raw, response.charset),
                        self._retry_statuses)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The answer's body, or None when it is larger than max_answer_bytes (counted as read:
        a Content-Length may be absent or lie)."""
        length = response.content_length
        if length is not None and length > self._max_answer:
            return None
        chunks, size = [], 0
        while chunk := await response.content.read(_READ_CHUNK):
            size += len(chunk)
            if size > self._max_answer:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, response: aiohttp.ClientResponse) -> str:
        declared = response.content_length
        said = f", Content-Length {declared}" if declared is not None else ""
        return (f"answer over {_size(self._max_answer)} (status {response.status}{said}): not "
                f"read further, the connection dropped (freshdesk.max_answer_bytes)")

    async def aclose(self) -> None:
        """Closes the session and its connections; a post() afterwards raises RuntimeError."""
        self._closed = True
        if self._session is not None:
            await self._session.close()


def failure_reply(e: BaseException, timeout_s: float | None = None) -> Reply:
    """A transport failure as a Reply: UNAVAILABLE when the request cannot have left (the
    account's state), TRANSIENT when it may have (a timeout or a drop after the connection was
    made: the outcome is unknown)."""
    cause, never_sent = _cause(e)
    text = str(e)
    if not text and isinstance(e, TimeoutError) and timeout_s is not None:
        text = f"no complete answer within {timeout_s:g}s"
    kind = "timed out" if isinstance(e, TimeoutError) else "connection failed"
    detail = f"{kind}: {type(e).__name__}: {text}"[:BODY_KEEP]
    if isinstance(e, aiohttp.ClientHttpProxyError) and e.status == 407:
        return Reply(Answer.HALT, 407, detail, sent=False, cause="proxy_auth")
    answer = Answer.UNAVAILABLE if never_sent else Answer.TRANSIENT
    return Reply(answer, None, detail, sent=not never_sent, cause=cause)


def _cause(e: BaseException) -> tuple[str, bool]:
    """(cause label, the request certainly never left)."""
    if isinstance(e, aiohttp.ClientHttpProxyError):  # the proxy answered CONNECT with an error
        return "proxy", True
    if isinstance(e, aiohttp.ClientProxyConnectionError):
        return "proxy", True
    if isinstance(e, aiohttp.ClientConnectorDNSError):
        return "dns", True
    if isinstance(e, aiohttp.ClientSSLError):
        return "tls", True
    if isinstance(e, aiohttp.ClientConnectorError):  # refused, unreachable
        return "connection", True
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return "timeout", True
    if isinstance(e, TimeoutError):  # aiohttp's total timeout: it does not say where it struck
        return "timeout", False
    if isinstance(e, aiohttp.ClientResponseError):  # a status line or header over its cap
        return "bad_answer", False
    return "connection", False  # dropped, reset, a payload cut short: after the request left


def _proxy(settings: FreshdeskSettings, url: URL) -> tuple[URL | None, dict[str, str] | None]:
    """The proxy for the account's URL: freshdesk.proxy, else HTTPS_PROXY / HTTP_PROXY (and
    their lower-case forms) unless NO_PROXY names the host, read once; and its credentials as a
    Proxy-Authorization header (from the URL, or .netrc for the proxy's host)."""
    login: str | None = None
    password = ""
    if settings.proxy is not None:
        proxy = URL(settings.proxy.get_secret_value())
        login, password = proxy.user, proxy.password or ""
        proxy = proxy.with_user(None).with_password(None)
    else:
        try:
            proxy, auth = get_env_proxy_for_url(url)
        except LookupError:  # none set, or NO_PROXY names the host
            return None, None
        if auth is not None:
            login, password = auth.login, auth.password
    if login is None:
        return proxy, None
    return proxy, {"Proxy-Authorization": aiohttp.encode_basic_auth(login, password)}


def proxy_for_display(url: str) -> str:
    """A proxy URL with its password replaced, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def _ssl_context() -> ssl.SSLContext:
    """SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's bundle (aiohttp's default would
    be the system store, which slim images lack)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _text(raw: bytes, charset: str | None) -> str:
    """The body as text: the declared charset if Python knows it, else UTF-8; undecodable bytes
    replaced, never an error."""
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n:,} bytes"
