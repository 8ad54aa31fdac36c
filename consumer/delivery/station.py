"""The poll thread's handle on the delivery station, which runs on its own asyncio thread.

Two messages go over (jobs to start, futures to abandon), and one future per job comes back:
the poll thread owns what is in flight (consumer.in_flight) and never reads the delivery side's
state. A batch of jobs costs one wake-up of the delivery loop, not one per message.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol

from consumer.delivery.bridge import AsyncBridge
from consumer.delivery.deliverer import Deliverer
from consumer.job import Job, Result

__all__ = ["DeliveryStation", "Station"]

Future = concurrent.futures.Future


class Station(Protocol):
    """What the pipeline needs from delivery (a fake in the pipeline's unit tests)."""

    def submit(self, jobs: Sequence[Job]) -> list[Future[Result]]: ...

    def abandon(self, futures: Iterable[Future[Result]]) -> None: ...

    def close(self) -> None: ...


class DeliveryStation:
    def __init__(self, make_deliverer: Callable[[], Coroutine[Any, Any, Deliverer]],
                 close_timeout_s: float = 5.0):
        self._bridge = AsyncBridge().start()
        self._deliverer = self._bridge.run(make_deliverer())
        self._close_timeout_s = close_timeout_s
        self.url: str = self._deliverer.client.url

    def submit(self, jobs: Sequence[Job]) -> list[Future[Result]]:
        futures: list[Future[Result]] = [Future() for _ in jobs]
        if jobs:
            self._bridge.call_soon(self._deliverer.start, list(zip(jobs, futures, strict=True)))
        return futures

    def abandon(self, futures: Iterable[Future[Result]]) -> None:
        pending = [f for f in futures if not f.done()]
        if pending:
            self._bridge.call_soon(self._deliverer.abandon, pending)

    def close(self) -> None:
        """Stop what is left (after the drain), close the HTTP client and the ledger, end the thread."""
        try:
            self._bridge.run(self._deliverer.aclose(self._close_timeout_s),
                             timeout=self._close_timeout_s * 2)
        finally:
            self._bridge.stop()
