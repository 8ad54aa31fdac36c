"""Where a consumer group stands: committed offsets against the end of its topics.

Tests, the demo and the chaos proof wait on this positive signal ("the group committed
everything"), never on a timer.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, TopicPartition

__all__ = ["offsets_settled", "wait_until_committed"]


def offsets_settled(bootstrap: str, group: str, topics: tuple[str, ...]) -> tuple[int, int]:
    """(committed, end) summed over every partition of ``topics`` for ``group``."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "enable.auto.commit": False, "logger": logging.getLogger("librdkafka.probe")})
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in probe.list_topics(t, timeout=10).topics[t].partitions]
        committed = probe.committed(parts, timeout=10)
        end = sum(probe.get_watermark_offsets(tp, timeout=10)[1] for tp in parts)
        return sum(max(tp.offset, 0) for tp in committed), end
    finally:
        probe.close()


def wait_until_committed(bootstrap: str, group: str, topics: tuple[str, ...],
                         timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        committed, end = offsets_settled(bootstrap, group, topics)
        if committed >= end:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"group {group} committed {committed} of {end} messages "
                               f"within {timeout:.0f}s")
        time.sleep(0.25)
