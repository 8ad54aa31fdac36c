"""The sandbox running in a background thread, for tests and the demo."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from consumer_devtools.sandbox.app import make_app
from consumer_devtools.sandbox.settings import SandboxSettings
from consumer_devtools.sandbox.state import STATE, SandboxState

T = TypeVar("T")
_START_TIMEOUT = 10.0


class SandboxServer:
    """A Freshdesk sandbox on `base_url`, served by its own event loop in a daemon thread.

    The Python helpers run on that loop (through run_coroutine_threadsafe), so they see
    and change state exactly as a request would, without locks of their own.
    """

    def __init__(self, settings: SandboxSettings | None = None, host: str = "127.0.0.1",
                 port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.host = host
        self.port = port
        # HTTPS, for a consumer that is not on this host (a pod: the consumer takes plain http
        # only from 127.0.0.1).
        self.ssl_context = ssl_context
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._state: SandboxState | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Serve until stop(); returns once the port is bound (raises if it cannot be)."""
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready, failure),
                                        name="freshdesk-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"sandbox did not start within {_START_TIMEOUT}s")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as exc:  # surfaced to start() in the caller's thread
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

    async def _bind(self) -> None:
        app = make_app(self.settings)
        self._state = app[STATE]
        # A short shutdown grace: tests stop sandboxes with slow requests still in flight.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context).start()
        self.port = self._runner.addresses[0][1]  # the real one when 0 asked for a free port
        self.base_url = f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the store; safe to call twice."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_START_TIMEOUT)
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _on_loop(self, action: Callable[[SandboxState], T]) -> T:
        if self._loop is None or self._state is None or self._thread is None:
            raise RuntimeError("sandbox is not running: call start() first")
        state = self._state

        async def call() -> T:
            return action(state)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(_START_TIMEOUT)

    def activities(self, contact: str | None = None) -> list[dict[str, Any]]:
        """What GET /_sandbox/activities answers: everything stored, oldest first."""
        return self._on_loop(lambda state: state.store.activities(contact))

    def requests(self) -> list[dict[str, Any]]:
        """What GET /_sandbox/requests answers: every API request, in order."""
        return self._on_loop(lambda state: [dict(entry) for entry in state.requests])

    def faults(self) -> dict[str, Any]:
        """What GET /_sandbox/faults answers: settings and faults injected by kind."""
        return self._on_loop(lambda state: state.faults.describe())

    def set_faults(self, **faults: Any) -> None:
        """Same keys as POST /_sandbox/faults; raises ValueError for a bad one."""
        self._on_loop(lambda state: state.faults.configure(**faults))

    def clear_faults(self) -> None:
        self._on_loop(lambda state: state.faults.clear())

    def set_api_keys(self, keys: tuple[str, ...] | list[str],
                     forbidden: tuple[str, ...] | list[str] = ()) -> None:
        self._on_loop(lambda state: state.set_api_keys(keys, forbidden))

    def budget(self) -> dict[str, Any]:
        """What GET /_sandbox/budget answers: the window's settings and the other integration."""
        return self._on_loop(lambda state: state.budget.describe())

    def set_budget(self, **changes: Any) -> None:
        """Same keys as POST /_sandbox/budget; raises ValueError for a bad one."""
        self._on_loop(lambda state: state.set_budget(changes))

    def reset(self) -> None:
        """Empty the account: activities, contacts, requests, faults, the rate window."""
        self._on_loop(lambda state: state.reset())
