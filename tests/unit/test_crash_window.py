"""Where a crash can double an activity: only between Freshdesk's 200 and the one ledger write.

A "crash" is simulated by an exception that escapes the delivery task at a chosen point, the way
SIGKILL stops a process there; a second owner (the restarted consumer, sharing the ledger) then
redelivers the same message once the first owner's lease has run out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery.answers import Answer, Reply
from consumer.delivery.deliverer import Deliverer
from consumer.job import Job
from consumer.ledger import MemoryLedger
from consumer.message import Message
from consumer.outcomes import Delivery


class Crash(BaseException):
    """The process dies here (BaseException: nothing in the pipeline may catch it)."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Freshdesk:
    """Stores every post it accepts; can die before or after storing."""

    url = "http://fake"

    def __init__(self, crash: str | None = None):
        self.timeline: list[bytes] = []
        self.crash = crash
        self.order: list[str] = []

    async def post(self, body: bytes) -> Reply:
        if self.crash == "before_post":
            raise Crash
        self.timeline.append(body)
        self.order.append("freshdesk stored")
        if self.crash == "after_200":
            raise Crash  # the 200 was sent; we died before reading it
        return Reply(Answer.DELIVERED, 200, "{}")


class RecordingLedger(MemoryLedger):
    def __init__(self, *args, crash_after_write: bool = False, order: list[str], **kw):
        super().__init__(*args, **kw)
        self.crash_after_write = crash_after_write
        self.order = order

    async def claim(self, key):
        self.order.append("claim")
        return await super().claim(key)

    async def delivered(self, key):
        await super().delivered(key)
        self.order.append("ledger write")
        if self.crash_after_write:
            raise Crash


SETTINGS = FreshdeskSettings(base_url="http://127.0.0.1:1", api_key="k",
                             retry=RetrySettings(initial_backoff_s=0.001))
JOB_MSG = Message("orders", 0, 7, None, b"{}", (), None)


def the_job() -> Job:
    return Job(JOB_MSG, (Delivery("orders:evt-1", "email:r@example.com", b"body"),))


async def deliver_once(client, ledger) -> list:
    deliverer = Deliverer(client, SETTINGS, ledger=ledger)
    done = concurrent.futures.Future()
    deliverer.start([(the_job(), done)])
    return [await asyncio.wait_for(asyncio.wrap_future(done), 10)]


@pytest.mark.parametrize(("crash_at", "copies"), [
    ("before_post", 1),            # claimed, never sent: the next owner posts it once
    ("after_200", 2),              # THE window: stored by Freshdesk, not yet in the ledger
    ("after_ledger_write", 1),     # recorded: the next owner skips it
])
def test_a_crash_doubles_an_activity_only_between_the_200_and_the_ledger_write(crash_at, copies):
    clock = Clock()
    order: list[str] = []
    store = RecordingLedger(lease_s=60, clock=clock, order=order,
                            crash_after_write=crash_at == "after_ledger_write")
    freshdesk = Freshdesk(crash=crash_at if crash_at != "after_ledger_write" else None)
    freshdesk.order = order
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(Crash):
            loop.run_until_complete(_first_owner(freshdesk, store))
        clock.now += 61  # the dead owner's lease runs out
        freshdesk.crash = None
        restarted = store.for_owner("restarted")
        settled = loop.run_until_complete(deliver_once(freshdesk, restarted))
    finally:
        loop.close()
    assert settled == [None]
    assert len(freshdesk.timeline) == copies


async def _first_owner(freshdesk, ledger):
    """Run the first owner's delivery and let its crash escape, as SIGKILL would end it."""
    deliverer = Deliverer(freshdesk, SETTINGS, ledger=ledger)
    deliverer.start([(the_job(), concurrent.futures.Future())])
    (run,) = deliverer._runs.values()
    await asyncio.wait({run.task})
    run.task.result()  # re-raises the Crash


def test_the_window_is_one_write_right_after_the_200():
    order: list[str] = []
    freshdesk = Freshdesk()
    freshdesk.order = order
    ledger = RecordingLedger(order=order)
    settled = asyncio.run(deliver_once(freshdesk, ledger))
    assert settled == [None]
    assert order == ["claim", "freshdesk stored", "ledger write"], (
        "nothing may stand between Freshdesk storing the activity and the ledger write")
