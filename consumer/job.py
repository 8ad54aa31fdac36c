"""The unit of delivery work: the activities one Kafka message became, encoded and keyed.

Made on the poll thread by the transform runner, handed to the delivery station, settled as a
whole: a message is done when every one of its activities is delivered (or known delivered),
or when one of them is dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from consumer.message import Message
from consumer.outcomes import Delivery, Failure

__all__ = ["ABANDONED", "Abandoned", "Job", "Result"]


@dataclass(frozen=True, slots=True)
class Job:
    """The activities one Kafka message became, posted in order; settled as a whole."""

    message: Message
    deliveries: tuple[Delivery, ...]
    transform: str = ""  # the subscription's transform name (a metric label)

    @property
    def contacts(self) -> tuple[str, ...]:
        """The distinct contacts of its activities, in first-seen order."""
        return tuple(dict.fromkeys(d.contact for d in self.deliveries))


class Abandoned:
    """A job stopped before it finished (revoke, shutdown, partitions lost): its message stays
    unsettled, so uncommitted, and is redelivered to the partition's next owner."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABANDONED"


ABANDONED = Abandoned()

Result: TypeAlias = Failure | Abandoned | None
"""What a job's future resolves to: None (every activity delivered, or known delivered), the
Failure to dead-letter, or ABANDONED."""
