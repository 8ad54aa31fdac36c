"""Leave the consumer group within a deadline, which librdkafka's close() does not have.

Its close can wait for a coordinator indefinitely (confluentinc/librdkafka#3740). So it runs on a
helper thread while the poll thread waits (the revoke callback it calls still runs alone); past
the deadline it is left behind, every thread's stack is printed, and the caller exits without it:
every offset that can be committed was committed just before.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import sys
import threading
import time
from typing import Any

__all__ = ["close_within"]

log = logging.getLogger("consumer.loop")


def close_within(consumer: Any, timeout: float) -> bool:
    """True when the consumer left the group in time; an error from close is raised here."""
    started = time.monotonic()
    failed: list[BaseException] = []

    def close() -> None:
        try:
            consumer.close()
        except BaseException as e:  # raised on the caller's thread, below
            failed.append(e)

    closer = threading.Thread(target=close, name="kafka-close", daemon=True)
    closer.start()
    closer.join(timeout)
    if not closer.is_alive():
        if failed:
            raise failed[0]
        log.info("left the group", extra={"seconds": round(time.monotonic() - started, 2)})
        return True
    log.error("the Kafka consumer did not leave the group within %gs; exiting without it "
              "(offsets are committed; the group moves its partitions after "
              "session.timeout.ms). Its threads' stacks follow on stderr", timeout)
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no real stderr
        faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)  # type: ignore[arg-type]  # None: suppressed above
    return False
