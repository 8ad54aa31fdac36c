"""How many of the service's files one message's way from poll to commit runs through.

A real broker and the sandbox, a consumer in this process; after a warm-up message, every
function call on every thread is noted (sys.setprofile) while one order event is consumed,
delivered and committed, and the distinct files under consumer/ and transforms/ are counted.
A structural figure, not a timing: `python -m bench.message_path` (from a checkout; set
PYTHONPATH to measure another one).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from consumer.config import parse_config
from consumer_devtools.group_offsets import wait_until_committed
from consumer_devtools.local_kafka import LocalKafka, ensure_kafka_jars
from consumer_devtools.samples import order_event
from consumer_devtools.sandbox import SandboxServer, SandboxSettings

_seen: set[str] = set()
_recording = threading.Event()


def _profile(frame: Any, event: str, _arg: Any) -> None:
    if event == "call" and _recording.is_set():
        _seen.add(frame.f_code.co_filename)


def _consumer(config: Any) -> Any:
    try:
        from consumer import app  # this layout
        return app.build(config)
    except ImportError:  # the layout before consumer/app.py
        from consumer.loop import ActivityConsumer
        return ActivityConsumer(config)


def main() -> int:
    ensure_kafka_jars()
    root = Path(sys.modules["consumer"].__file__ or "").resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp, \
            LocalKafka(workdir=Path(tmp) / "kafka", log_path=Path(tmp) / "kafka.log") as kafka, \
            SandboxServer(SandboxSettings(db_path=str(Path(tmp) / "sandbox.db"))) as sandbox:
        kafka.create_topic("orders", partitions=1)
        group = f"path-{uuid.uuid4().hex[:8]}"
        config = parse_config({
            "kafka": {"bootstrap.servers": kafka.bootstrap, "group.id": group},
            "freshdesk": {"base_url": sandbox.base_url, "api_key": "sandbox-key"},
            "metrics": {"enabled": False},
            "subscriptions": [{"topic": "orders", "transform": "orders"}]}, "<path>", {})
        threading.setprofile(_profile)
        sys.setprofile(_profile)
        consumer = _consumer(config)
        runner = threading.Thread(target=consumer.run, name="consumer")
        runner.start()
        producer = Producer({"bootstrap.servers": kafka.bootstrap})

        def one(n: int) -> None:
            producer.produce("orders", orjson.dumps(order_event(n, email="rachel@example.com")))
            producer.flush(10)
            deadline = time.monotonic() + 60
            while len(sandbox.activities()) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError("the activity did not arrive")
                time.sleep(0.05)
            wait_until_committed(kafka.bootstrap, group, ("orders",))

        try:
            one(1)  # warm-up: imports, connections, assignment
            _recording.set()
            one(2)
            _recording.clear()
        finally:
            consumer.stop()
            runner.join(60)
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
    files = sorted({str(Path(f).resolve().relative_to(root)) for f in _seen
                    if Path(f).resolve().is_relative_to(root / "consumer")
                    or Path(f).resolve().is_relative_to(root / "transforms")})
    for f in files:
        print(f"  {f}")
    print(f"{len(files)} files of consumer/ and transforms/ on one message's way ({root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
