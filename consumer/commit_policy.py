"""When to commit: at most every ``interval_s`` seconds, or sooner after ``every_messages``.

What to commit (each partition's watermark) falls out of consumer.in_flight.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommitPolicy"]


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """Commit at most every ``interval_s`` seconds, or sooner after ``every_messages``.

    Revokes and shutdown always commit, whatever the policy says.
    """

    interval_s: float
    every_messages: int

    def due(self, now: float, last_commit: float, settled_since: int) -> bool:
        if settled_since == 0:
            return False
        return settled_since >= self.every_messages or now - last_commit >= self.interval_s
