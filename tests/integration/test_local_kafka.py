"""The local Kafka launcher against a real broker: what the other integration tests stand on."""

from __future__ import annotations

import socket
import stat
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from consumer_devtools import local_kafka
from consumer_devtools.local_kafka import KAFKA_VERSION, LocalKafka, ensure_kafka_jars

pytestmark = pytest.mark.integration


def _consumer(bootstrap: str, group: str | None = None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group or f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def _consume(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None:
            assert msg.error() is None, msg.error()
            got.append(msg)
    assert len(got) == count, f"consumed {len(got)} of {count} messages in {timeout} s"
    return got


def test_round_trip_on_three_partitions_keeps_key_value_headers_and_order(
    kafka_broker, topic_factory, produce
):
    topic = topic_factory(partitions=3)
    sent = [(b"k%d" % i, b"v%d" % i, [("n", b"%d" % i)], i % 3) for i in range(30)]
    produce(topic, sent)

    consumer = _consumer(kafka_broker.bootstrap)
    consumer.subscribe([topic])
    try:
        got = _consume(consumer, 30)
    finally:
        consumer.close()

    assert sorted((m.partition(), m.key(), m.value(), m.headers()) for m in got) == sorted(
        (p, k, v, h) for k, v, h, p in sent
    )
    for partition in range(3):
        offsets = [m.offset() for m in got if m.partition() == partition]
        assert offsets == list(range(10)), f"partition {partition} out of order: {offsets}"


def test_second_consumer_in_group_resumes_from_committed_offset(
    kafka_broker, topic_factory, produce, committed_offsets, end_offsets
):
    topic = topic_factory(partitions=2)
    produce(topic, [(None, b"m%d" % i, None, i % 2) for i in range(10)])
    group = f"resume-{uuid.uuid4().hex[:8]}"

    first = _consumer(kafka_broker.bootstrap, group)
    first.subscribe([topic])
    _consume(first, 10)
    first.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 3)],
                 asynchronous=False)  # fmt: skip
    first.close()
    assert committed_offsets(group, topic) == {0: 3, 1: 3}

    second = _consumer(kafka_broker.bootstrap, group)
    second.subscribe([topic])
    try:
        rest = _consume(second, 4)
        assert second.poll(1.0) is None, "resumed consumer saw more than the uncommitted tail"
        second.commit(asynchronous=False)
    finally:
        second.close()

    assert sorted((m.partition(), m.offset()) for m in rest) == [(0, 3), (0, 4), (1, 3), (1, 4)]
    assert committed_offsets(group, topic) == end_offsets(topic) == {0: 5, 1: 5}


def test_data_survives_restart_and_crash_on_the_same_port(tmp_path):
    # Its own broker: restarting or killing the session broker would disturb other tests.
    log = tmp_path / "broker.log"
    kafka = LocalKafka(tmp_path / "work", log_path=log).start()
    try:
        bootstrap = kafka.bootstrap
        kafka.create_topic("survivors")
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        producer.produce("survivors", b"before-restart")
        assert producer.flush(30) == 0

        kafka.restart()
        assert kafka.bootstrap == bootstrap
        producer.produce("survivors", b"before-crash")
        assert producer.flush(30) == 0
        kafka.kill()
        kafka.start()

        consumer = _consumer(kafka.bootstrap)
        consumer.assign([TopicPartition("survivors", 0, 0)])
        try:
            assert [m.value() for m in _consume(consumer, 2)] == [b"before-restart", b"before-crash"]
        finally:
            consumer.close()
    finally:
        kafka.cleanup()
    assert log.read_text().count("Kafka Server started") == 3, "the log should span all 3 runs"


def test_broker_that_cannot_bind_fails_with_the_log_tail(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        kafka = LocalKafka(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="exited with code") as failure:
            kafka.start(timeout=60)
    kafka.cleanup()
    assert "Address already in use" in str(failure.value)


def test_ensure_kafka_jars_second_call_does_not_run_maven(monkeypatch):
    libs = ensure_kafka_jars()
    assert (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file()
    monkeypatch.setenv("PATH", "/nonexistent")  # Maven, if run, would now fail loudly
    began = time.monotonic()
    assert ensure_kafka_jars(progress=pytest.fail) == libs
    assert time.monotonic() - began < 0.5


@pytest.fixture
def fake_mvn(tmp_path, monkeypatch) -> Path:
    """A stand-in `mvn` on PATH that records each run; FAKE_MVN_FAIL makes it fail like Maven."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "mvn"
    script.write_text(
        "#!/bin/sh\n"
        f"echo run >> {tmp_path}/mvn-runs\n"
        'if [ -n "$FAKE_MVN_FAIL" ]; then echo "[ERROR] Could not resolve kafka_2.13"; exit 1; fi\n'
        f"mkdir -p libs && touch libs/kafka_2.13-{KAFKA_VERSION}.jar\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("ACTIVITY_CONSUMER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(local_kafka._require('java', '')).parent}")
    return tmp_path / "mvn-runs"


def test_cut_short_download_is_redone_and_a_finished_one_is_not(fake_mvn):
    lines: list[str] = []
    libs = ensure_kafka_jars(progress=lines.append)
    ensure_kafka_jars(progress=lines.append)
    assert fake_mvn.read_text().count("run") == 1
    assert len(lines) == 1 and KAFKA_VERSION in lines[0]

    (libs.parent / "libs.complete").unlink()  # as if the first download had been interrupted
    ensure_kafka_jars(progress=lines.append)
    assert fake_mvn.read_text().count("run") == 2


def test_failing_maven_is_reported_with_its_output(fake_mvn, monkeypatch):
    monkeypatch.setenv("FAKE_MVN_FAIL", "1")
    with pytest.raises(RuntimeError, match="exited 1") as failure:
        ensure_kafka_jars(progress=lambda _: None)
    assert "Could not resolve kafka_2.13" in str(failure.value)
    assert not (local_kafka.cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs.complete").exists()


def test_missing_maven_is_named(fake_mvn, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_mvn.parent / "empty"))
    with pytest.raises(RuntimeError, match="`mvn` is not on PATH"):
        ensure_kafka_jars(progress=lambda _: None)
