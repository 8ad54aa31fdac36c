"""Order events into the real broker from the host, and what reached the sandbox's timelines:
each event's object id (``ord_000042``) counted, so a test can say how many were lost or doubled."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from consumer_devtools.samples import order_event
from consumer_devtools.sandbox import SandboxServer


def make_topic(bootstrap: str, partitions: int, prefix: str = "orders") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)
    return name


def order_id(seq: int) -> str:
    return f"ord_{seq:06d}"


def _event(seq: int, customers: int) -> tuple[bytes, bytes]:
    event = order_event(seq, customer=f"cust-{seq % customers}")
    return event["customer"]["id"].encode(), orjson.dumps(event)


def produce_orders(bootstrap: str, topic: str, seqs: Iterable[int], customers: int = 12) -> int:
    """order.created events, keyed by customer (each customer's events stay in order); acks=all.
    Returns how many the broker acknowledged; raises if any was not."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    failures: list[str] = []
    count = 0
    for seq in seqs:
        key, value = _event(seq, customers)
        producer.produce(topic, value, key, on_delivery=lambda err, _msg: err and failures.append(str(err)))
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0, "events not acknowledged by the broker in 30 s"
    assert not failures, failures[:5]
    return count


def _collect(failures: list[str]):
    return lambda err, _msg: err and failures.append(str(err))


class SteadyProducer:
    """Produces ``rate`` order events a second from a thread until stop(), each acknowledged
    before the next; ``sent`` holds the seqs the broker took. Paced by an Event's timed wait, so
    stop() ends it at once."""

    def __init__(self, bootstrap: str, topic: str, rate: float, first_seq: int = 1, customers: int = 12):
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        self.topic, self.rate, self.customers = topic, rate, customers
        self.sent: list[int] = []
        self._next = first_seq
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-producer", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> SteadyProducer:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.wait(1 / self.rate):
                key, value = _event(self._next, self.customers)
                failures: list[str] = []
                self.producer.produce(self.topic, value, key, on_delivery=_collect(failures))
                assert self.producer.flush(30) == 0 and not failures, f"seq {self._next}: {failures}"
                self.sent.append(self._next)
                self._next += 1
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(60)
        if self.error:
            raise self.error
        return self.sent


def delivered(sandbox: SandboxServer) -> Counter[str]:
    """How many times each order reached a timeline (by the activity's object id)."""
    return Counter(a["activity"]["object"]["id"] for a in sandbox.activities())
