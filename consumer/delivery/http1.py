"""A small HTTP/1.1 keep-alive connection pool for one origin: asyncio Protocols + httptools.

Made for one request shape (FreshdeskClient's POST, its header block built once): the caller hands
over the whole request as bytes and gets back the status, the headers it asked for and the body.
No redirects, no cookies, no compression, no pipelining, no retries: a request written once is
never written again here (whether a failed one may be sent again is the caller's business).

- at most ``max_connections`` connections, one request at a time on each;
- idle connections reused last-in first-out, closed after ``keepalive_s`` idle;
- a connection is not reused once the server closed it (EOF), said ``Connection: close``, answered
  in HTTP/1.0 without keep-alive, sent bytes nobody asked for, or a request on it failed or was
  cancelled (a timeout): its state is unknown then, so it is closed.

Timeouts: ``request(data, timeout_s)`` fails with TimeoutError once ``timeout_s`` has passed since
it was called, whatever it was doing (waiting for a connection, connecting, writing, reading).
A request that finds an idle connection and a free slot (nearly all) is not given a timer of its
own: the pool's one watchdog timer, set for the earliest deadline in flight, fails it. That costs
a dict entry instead of asyncio.timeout()'s timer handle (~9 us per request on this machine).

Errors: :class:`ConnectError` when the connection could not be made (refused, DNS, TLS handshake):
nothing was written. Everything after that (:class:`ServerDisconnectedError`,
:class:`InvalidResponseError`, a reset, a cancellation) happened to a request that was written.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from collections.abc import Callable, Iterable

import httptools

__all__ = ["ConnectError", "InvalidResponseError", "Pool", "ServerDisconnectedError"]


class ConnectError(OSError):
    """The connection could not be made (refused, unreachable, DNS, TLS handshake): the request
    was not written."""


class ServerDisconnectedError(ConnectionError):
    """The connection ended (EOF, reset) before a complete response: the request was written."""


class InvalidResponseError(OSError):
    """The server's bytes are not an HTTP/1.x response (httptools refused them)."""


Response = tuple[int, list[tuple[str, str]], bytes]  # status, kept headers (in order), body


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and its response parser; httptools calls the on_* methods."""

    __slots__ = ("_body", "_done", "_framed", "_headers", "_keep", "_loop", "_pool", "_status", "_waiter",
                 "closed", "idle_since", "lost", "parser", "transport")

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] | None = None
        self.closed = False  # EOF seen, lost, or closed by us: never reused
        self.idle_since = 0.0
        self._waiter: asyncio.Future[tuple[int, list[tuple[str, str]], bytes, bool]] | None = None
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._done = False
        self._framed = False  # Content-Length or Transfer-Encoding seen: the body does not end at EOF
        self._keep = pool._keep_headers

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()  # once: each call of it costs a getpid() on 3.11
        self.lost = self._loop.create_future()

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._done:  # bytes nobody asked for: the stream is unusable
            self._unusable()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(InvalidResponseError(f"invalid HTTP response: {type(e).__name__}: {e}"))

    def eof_received(self) -> bool:
        self.closed = True
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended(exc)
        if self.lost is not None and not self.lost.done():
            self.lost.set_result(None)
        self._pool._forget(self)

    # -- httptools callbacks (they must not raise: httptools would wrap the error)

    def on_message_begin(self) -> None:
        if self._done:  # a second response to one request: answered, but the stream is unusable
            self.closed = True
            self._headers, self._body = [], []  # not the lists handed back with the answer

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length" or lower == b"transfer-encoding":
            self._framed = True
        if self._keep is None or lower in self._keep:
            self._headers.append((name.decode("utf-8", "surrogateescape"),
                                  value.strip().decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200 and self._status != 101:  # 100 Continue etc.: the answer follows
            self._reset()
            return
        self._done = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, self._headers, b"".join(self._body),
                               self.parser.should_keep_alive()))

    # -- ours

    def _reset(self) -> None:
        self._status, self._headers, self._body = 0, [], []
        self._done = self._framed = False

    def send(self, data: bytes, deadline: float | None = None
             ) -> asyncio.Future[tuple[int, list[tuple[str, str]], bytes, bool]]:
        """Writes ``data``; the future is the answer. ``deadline`` (loop time): the pool's
        watchdog fails the answer with TimeoutError then, unless it came."""
        self._reset()
        self._waiter = waiter = self._loop.create_future()
        if deadline is not None:
            self._pool._watch(self, deadline)
        self.transport.write(data)  # type: ignore[union-attr]
        return waiter

    def finished(self) -> None:
        self._waiter = None
        self._pool._unwatch(self)

    def timed_out(self) -> None:
        """The watchdog's: no complete answer by the deadline (TimeoutError, as asyncio.timeout
        raises it); the stream's state is unknown, so the connection is not reused."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._fail(TimeoutError())

    def _ended(self, exc: Exception | None) -> None:
        """EOF or the connection lost while a request waits: an answer whose body ends at EOF
        (no Content-Length, not chunked) is complete now; anything else is cut off."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._status and not self._framed and not self._done:
            self._done = True
            waiter.set_result((self._status, self._headers, b"".join(self._body), False))
            return
        error = ServerDisconnectedError(
            "Server disconnected before a complete response" + (f": {exc}" if exc else ""))
        if exc is not None:
            error.__cause__ = exc
        waiter.set_exception(error)

    def _fail(self, error: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self._unusable()

    def _unusable(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Connections to one origin, at most ``max_connections``; usable from one event loop at a
    time (the one its connections were made in)."""

    def __init__(self, scheme: str, host: str, port: int, max_connections: int, *,
                 ssl_context: ssl.SSLContext | None = None, keepalive_s: float = 5.0,
                 keep_headers: Iterable[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        self.host, self.port = host, port
        self._ssl = (ssl_context or ssl.create_default_context()) if scheme == "https" else None
        self._keepalive_s = keepalive_s
        # lower-case names of the headers to hand back; None: all of them
        self._keep_headers = (None if keep_headers is None
                              else frozenset(h.lower().encode("ascii") for h in keep_headers))
        self._clock = clock
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []  # oldest first; taken from the end (LIFO)
        self._all: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._deadlines: dict[_Connection, float] = {}  # requests on the wire: their deadlines
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog_at = 0.0
        self._closed = False
        self._used = False  # a connection was made: aclose() is owed

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_used", False) and not self._closed:  # as aiohttp's "Unclosed client session"
            _warn(f"Unclosed connection pool {self!r}", ResourceWarning, source=self)

    def __repr__(self) -> str:
        return (f"Pool({'https' if self._ssl else 'http'}://{self.host}:{self.port}, "
                f"{len(self._all)} connections, {len(self._idle)} idle)")

    @property
    def connections(self) -> int:
        return len(self._all)

    async def request(self, data: bytes, timeout_s: float | None = None) -> Response:
        """Writes ``data`` (a whole request) on an idle connection or a new one and reads the
        response. Raises ConnectError (nothing written), or ServerDisconnectedError,
        InvalidResponseError, TimeoutError (``timeout_s`` passed), another OSError, or
        CancelledError (written, or may have been)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        if timeout_s is None:
            return await self._request(data, None)
        if self._loop is None:  # the one loop it is used from; asked once (a getpid() each time)
            self._loop = asyncio.get_running_loop()
        deadline = self._loop.time() + timeout_s
        if self._slots.locked() or not self._idle:  # it may wait or connect: a timer of its own
            async with asyncio.timeout_at(deadline):
                return await self._request(data, None)
        return await self._request(data, deadline)

    async def _request(self, data: bytes, deadline: float | None) -> Response:
        async with self._slots:
            conn = self._take_idle()
            if conn is None:
                if deadline is None:
                    conn = await self._connect()
                else:  # the idle ones had expired after all
                    async with asyncio.timeout_at(deadline):
                        conn = await self._connect()
            try:
                status, headers, body, keep = await conn.send(data, deadline)
            except BaseException:
                conn.finished()
                conn._unusable()  # cancelled, timed out or failed: the stream's state is unknown
                raise
            conn.finished()
            if keep and not conn.closed and not self._closed:
                conn.idle_since = self._clock()
                self._idle.append(conn)
                if self._sweeper is None:
                    self._sweeper = asyncio.get_running_loop().call_later(
                        self._keepalive_s, self._sweep)
            else:
                conn.close()
            return status, headers, body

    # -- the watchdog: one timer for every deadline in flight

    def _watch(self, conn: _Connection, deadline: float) -> None:
        self._deadlines[conn] = deadline
        if self._watchdog is None or deadline < self._watchdog_at:
            self._arm(deadline)

    def _unwatch(self, conn: _Connection) -> None:
        self._deadlines.pop(conn, None)

    def _arm(self, at: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog_at = at
        self._watchdog = asyncio.get_running_loop().call_at(at, self._bark)

    def _bark(self) -> None:
        """Fails the requests past their deadline; set again for the earliest one left."""
        self._watchdog = None
        now = asyncio.get_running_loop().time()
        late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
        for conn in late:
            del self._deadlines[conn]
            conn.timed_out()
        if self._deadlines and not self._closed:
            self._arm(min(self._deadlines.values()))

    def _take_idle(self) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if self._clock() - conn.idle_since >= self._keepalive_s:
                # the newest idle one is too old: so are all the others
                conn.close()
                for old in idle:
                    old.close()
                idle.clear()
                return None
            return conn
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(self), self.host, self.port, ssl=self._ssl,
                server_hostname=self.host if self._ssl is not None else None)
        except OSError as e:  # ssl.SSLError and CertificateError are OSErrors too
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: "
                               f"{type(e).__name__}: {e}") from e
        self._all.add(conn)
        self._used = True
        return conn

    def _sweep(self) -> None:
        """Closes the connections idle for keepalive_s or longer; again when the next one will be."""
        self._sweeper = None
        now = self._clock()
        idle = self._idle
        expired = 0
        while expired < len(idle) and now - idle[expired].idle_since >= self._keepalive_s:
            idle[expired].close()
            expired += 1
        del idle[:expired]
        if idle and not self._closed:
            self._sweeper = asyncio.get_running_loop().call_later(
                max(0.0, idle[0].idle_since + self._keepalive_s - now), self._sweep)

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    async def aclose(self) -> None:
        """Closes every connection (a request in flight on one fails) and waits until their
        sockets are closed; request() afterwards raises RuntimeError."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        conns = list(self._all)
        self._idle.clear()
        for conn in conns:
            conn._unusable()
        lost = [c.lost for c in conns if c.lost is not None and not c.lost.done()]
        if lost:
            await asyncio.wait(lost, timeout=5)
