"""The halt gate: closed while Freshdesk refuses our credentials or address (401/403/404).

Nothing is posted while it is closed but one probe (the request that failed, retried every
``halt_probe_interval_s``); the probe's first success reopens it. Nothing is settled meanwhile,
so nothing is committed, and backpressure pauses the partitions. Delivery-loop thread only;
``on_change`` tells the rest of the process (readiness, metrics).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from consumer.delivery.freshdesk import Reply

__all__ = ["HaltGate", "halt_class", "halt_reason"]


class HaltGate:
    def __init__(self, on_change: Callable[[str | None], None] | None = None) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.reason: str | None = None
        self._on_change = on_change

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait(self) -> None:
        await self._open.wait()

    def close(self, reason: str) -> bool:
        """Close it; True if this call closed it (the caller becomes the probe)."""
        if not self._open.is_set():
            return False
        self._open.clear()
        self.reason = reason
        if self._on_change is not None:
            self._on_change(reason)
        return True

    def open(self) -> None:
        self._open.set()
        self.reason = None
        if self._on_change is not None:
            self._on_change(None)


def halt_class(reply: Reply) -> str:
    """The ``halted`` metric's reason label."""
    return {401: "unauthorized", 403: "forbidden"}.get(reply.status or 0, "not_found")


def halt_reason(reply: Reply) -> str:
    what = {401: "the API key is wrong (401 invalid_credentials)",
            403: "the API key's agent may not post activities, or the feature is off (403)",
            404: "wrong Freshdesk domain or path (404)"}.get(
        reply.status or 0, f"status {reply.status}" if reply.status is not None else reply.detail)
    return f"{what}; fix freshdesk.api_key / freshdesk.domain"
