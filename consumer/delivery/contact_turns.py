"""Whose turn it is on each contact: jobs go out one message at a time per contact, in order.

Freshdesk creates a missing contact on first sight, so two parallel first posts for one contact
could create it twice; and an agent reads a timeline in order. So a job (every activity one
message became) takes a turn on each of its contacts, in the order jobs were started, and holds
them until it finishes: all activities of one message for a contact go out before the next
message's. A job with several contacts waits until it is first in line on all of them; since
every line is in start order, no two jobs can wait for each other (no deadlock).

Owned by the delivery loop's thread; nothing else touches it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence

__all__ = ["ContactTurns"]


class ContactTurns:
    def __init__(self) -> None:
        self._lines: dict[str, deque[Hashable]] = {}
        self._ahead: dict[Hashable, int] = {}  # job → lines in which someone is ahead of it

    def join(self, job: Hashable, contacts: Sequence[str]) -> bool:
        """Queue ``job`` on each contact; True when it is first everywhere (it may go now)."""
        ahead = 0
        for contact in contacts:
            line = self._lines.get(contact)
            if line is None:
                self._lines[contact] = deque((job,))
            else:
                line.append(job)
                ahead += 1
        if ahead:
            self._ahead[job] = ahead
        return ahead == 0

    def leave(self, job: Hashable, contacts: Sequence[str]) -> list[Hashable]:
        """``job`` is finished (or abandoned while waiting): the jobs that may go now, in order."""
        self._ahead.pop(job, None)
        ready = []
        for contact in contacts:
            line = self._lines[contact]
            if line[0] is not job:  # abandoned before its turn: those behind it keep waiting
                line.remove(job)
                continue
            line.popleft()
            if not line:
                del self._lines[contact]
                continue
            nxt = line[0]
            self._ahead[nxt] -= 1
            if self._ahead[nxt] == 0:
                del self._ahead[nxt]
                ready.append(nxt)
        return ready

    def __len__(self) -> int:
        """Contacts with a job holding or awaiting them (bounded by the jobs in flight)."""
        return len(self._lines)
