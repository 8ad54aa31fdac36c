"""The delivery loop's thread: an asyncio loop beside the poll loop.

librdkafka's poll blocks in C and its rebalance callbacks must run on the polling thread, while
HTTP delivery wants an event loop. So the process has two threads with one narrow bridge: the
poll thread hands work over with :meth:`AsyncBridge.call_soon` and gets results back through a
thread-safe queue it drains between polls (see consumer.loop).

The loop is uvloop's (libuv, in C): the delivery thread is the busier half of the process and
most of its time is the loop's own machinery (task steps, timers for every request's timeout,
transport reads and writes). bench/http_client.py: 0.7-0.9x the CPU per POST of asyncio's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

__all__ = ["AsyncBridge"]

T = TypeVar("T")


class AsyncBridge:
    def __init__(self, name: str = "delivery") -> None:
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> AsyncBridge:
        self._thread.start()
        return self

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result from another thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self.loop.is_running():
            self.loop.close()
