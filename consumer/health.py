"""The metrics and health HTTP server: ``/metrics``, ``/healthz`` and ``/readyz``.

It runs in its own daemon thread on the standard library's threading HTTP server, not on the
delivery station's asyncio loop: when that loop (or the poll thread) is stuck, this server must
still answer, so Prometheus sees the gauges that say why and Kubernetes' liveness probe sees
the failure and restarts the pod.

- ``/metrics``: the Prometheus exposition of the registry (OpenMetrics when the scraper asks
  for it, as Prometheus does; the classic text format otherwise).
- ``/healthz``: liveness, 200 ``ok`` or 503 with the reason as text.
- ``/readyz``: readiness, the same with the readiness check.
- anything else: 404.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from consumer.config import MetricsSettings
from consumer.metrics import REGISTRY

__all__ = ["Check", "HealthServer", "MetricsSettings", "poll_liveness"]

log = logging.getLogger("consumer.health")

Check = Callable[[], tuple[bool, str]]  # () -> (ok, reason shown in the probe's answer)

_LAST_POLL = "activity_consumer_last_poll_timestamp_seconds"


def poll_liveness(timeout_s: float, registry: CollectorRegistry = REGISTRY,
                  clock: Callable[[], float] = time.time) -> Check:
    """A liveness check that reads ``activity_consumer_last_poll_timestamp_seconds``.

    Until the loop has polled once, the check is given ``timeout_s`` from its creation (start-up
    is not a failure); after that it fails once the last poll is older than ``timeout_s``.
    """
    created = clock()

    def check() -> tuple[bool, str]:
        last = registry.get_sample_value(_LAST_POLL) or 0.0
        since = last or created
        age = clock() - since
        if age <= timeout_s:
            return True, "ok" if last else "ok (starting: no poll yet)"
        what = "the poll loop has not come round" if last else "the poll loop has not started"
        return False, f"{what} for {age:.0f}s (limit {timeout_s:g}s: metrics.liveness_timeout_s)"

    return check


class HealthServer:
    """``HealthServer(port, liveness=..., readiness=...).start()``; ``stop()`` at shutdown.

    ``port`` is the port actually bound (useful when 0 was given). Checks run on the server's
    request threads: they must be cheap and thread-safe (read a value, do not wait on a lock
    the stuck loop could hold). A check that raises answers 503 with the exception.
    """

    def __init__(self, port: int, host: str = "0.0.0.0", *, registry: CollectorRegistry = REGISTRY,
                 liveness: Check, readiness: Check):
        self.host = host
        self._requested_port = port
        self.registry = registry
        self.liveness = liveness
        self.readiness = readiness
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: MetricsSettings, *, registry: CollectorRegistry = REGISTRY,
                      liveness: Check, readiness: Check) -> HealthServer:
        return cls(settings.port, settings.host, registry=registry,
                   liveness=liveness, readiness=readiness)

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HealthServer:
        if self._server is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self._requested_port), _handler_for(self))
        except OSError as e:
            raise OSError(e.errno, f"cannot serve metrics and health on {self.host}:"
                          f"{self._requested_port}: {e.strerror}; set metrics.port to a free "
                          "port (or metrics.enabled: false)") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics-http", daemon=True)
        self._thread.start()
        log.info("serving /metrics, /healthz, /readyz", extra={"address": f"{self.host}:{self.port}"})
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung scrape must not keep the process alive at exit

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can hang on a
        # pod whose DNS is broken: exactly when the probes must still answer.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler_for(owner: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # seconds a client may take to send its request; bounds idle threads
        server_version = "activity-consumer"

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                try:
                    status, payload = 200, encode(owner.registry)
                except Exception as e:  # a broken collector: say so instead of a reset connection
                    log.exception("collecting metrics failed")
                    status, payload = 500, f"collecting metrics failed: {e}\n".encode()
                    content_type = "text/plain; charset=utf-8"
            elif path in ("/healthz", "/readyz"):
                check = owner.liveness if path == "/healthz" else owner.readiness
                try:
                    ok, reason = check()
                except Exception as e:
                    ok, reason = False, f"{path} check raised {type(e).__name__}: {e}"
                status, payload = (200 if ok else 503), f"{reason}\n".encode()
                content_type = "text/plain; charset=utf-8"
            else:
                status, content_type = 404, "text/plain; charset=utf-8"
                payload = b"not found: try /metrics, /healthz or /readyz\n"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    return Handler
