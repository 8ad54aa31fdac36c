"""``redrive`` against the real broker: dead letters go back exactly once, as they were."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, TopicPartition

from consumer.dead_letters.redrive import add_parser
from consumer.message import Message
from consumer.outcomes import Failure

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000  # the original records' timestamps: must survive the redrive


def redrive(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["redrive", *argv])
    return args.func(args)


def dead_letter(topic: str, partition: int, offset: int, reason: str, *, key: bytes,
                value: bytes, headers: list[tuple[str, bytes]] = ()) -> tuple:
    """A record as consumer.dead_letters.producer writes it: the original plus dlq.* headers."""
    msg = Message(topic, partition, offset, key, value, tuple(headers), T0 + offset)
    failure = Failure(reason, f"test failure {reason}", status=400 if reason == "rejected" else None)
    return (key, value, failure.headers(msg, "g-original"), 0)


def read_all(bootstrap: str, topic: str) -> list:
    """Every record of ``topic``, all partitions, read to the end."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex[:8]}",
                       "enable.partition.eof": True, "enable.auto.commit": False})
    try:
        parts = reader.list_topics(topic, timeout=10).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, 0) for p in parts])  # fresh topics start at 0
        open_parts, found = set(parts), []
        while open_parts:
            m = reader.poll(10)
            assert m is not None, f"no record or end of {topic} within 10 s"
            if m.error() is not None:
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                open_parts.discard(m.partition())
            else:
                found.append(m)
        return sorted(found, key=lambda m: (m.partition(), m.offset()))
    finally:
        reader.close()


@pytest.fixture
def topics(kafka_broker, topic_factory):
    """An original topic with 2 partitions and its dead-letter topic."""
    original = topic_factory(partitions=2, prefix="orders")
    dlq = f"{original}.dlq"
    kafka_broker.create_topic(dlq, 1)
    return original, dlq


def test_redrive_sends_back_only_the_selected_dead_letters_as_they_were(
        kafka_broker, topics, produce, committed_offsets, capsys):
    original, dlq = topics
    boot = kafka_broker.bootstrap
    produce(dlq, [
        dead_letter(original, 1, 5, "rejected", key=b"k-a", value=b'{"event_id": "a"}',
                    headers=[("trace-id", b"t-a"), ("content-type", b"application/json")]),
        dead_letter(original, 0, 6, "validation", key=b"k-b", value=b'{"event_id": "b"}'),
        dead_letter(original, 1, 7, "rejected", key=b"k-c", value=b'{"event_id": "c"}',
                    headers=[("redrive.count", b"1"), ("redrive.from", b"old.dlq/3@9")]),
        (b"stray", b"not a dead letter", [("x", b"y")], 0),
    ])

    assert redrive("--from", dlq, "--bootstrap", boot, "--reason", "rejected", "--dry-run") == 0
    out = capsys.readouterr().out
    planned = [line for line in out.splitlines() if line.startswith("would redrive ")]
    assert planned == [f"would redrive {dlq}/0@0 → {original}/1 (reason rejected, original offset 5)",
                       f"would redrive {dlq}/0@2 → {original}/1 (reason rejected, original offset 7)"]
    assert "read 4, would redrive 2, skipped 2 (not_a_dead_letter: 1, validation: 1)" in out
    assert read_all(boot, original) == [], "a dry run changes nothing"
    assert committed_offsets("activity-consumer-redrive.rejected", dlq) == {0: -1001}

    assert redrive("--from", dlq, "--bootstrap", boot, "--reason", "rejected",
                   "--progress-every", "2") == 0
    out = capsys.readouterr().out
    assert f"redrive {dlq}: read 2" in out, "a progress line every 2 records"
    assert "read 4, redriven 2, skipped 2 (not_a_dead_letter: 1, validation: 1)" in out
    got = read_all(boot, original)
    assert [(m.partition(), m.key(), m.value(), m.timestamp()[1]) for m in got] == [
        (1, b"k-a", b'{"event_id": "a"}', T0 + 5),
        (1, b"k-c", b'{"event_id": "c"}', T0 + 7),
    ]
    assert got[0].headers() == [("trace-id", b"t-a"), ("content-type", b"application/json"),
                                ("redrive.count", b"1"), ("redrive.from", f"{dlq}/0@0".encode())]
    assert got[1].headers() == [("redrive.count", b"2"), ("redrive.from", f"{dlq}/0@2".encode())]
    assert committed_offsets("activity-consumer-redrive.rejected", dlq) == {0: 4}

    assert redrive("--from", dlq, "--bootstrap", boot, "--reason", "rejected") == 0
    assert "read 0, redriven 0" in capsys.readouterr().out
    assert len(read_all(boot, original)) == 2, "a second run redrives nothing again"

    # Another selection has its own group: the validation dead letter is still there for it.
    assert redrive("--from", dlq, "--bootstrap", boot, "--reason", "validation") == 0
    got = read_all(boot, original)
    assert [(m.partition(), m.key()) for m in got] == [(0, b"k-b"), (1, b"k-a"), (1, b"k-c")]


def test_redrive_picks_up_new_dead_letters_only_and_counts_rounds(
        kafka_broker, topics, produce):
    original, dlq = topics
    boot = kafka_broker.bootstrap
    produce(dlq, [dead_letter(original, 0, 1, "retries_exhausted", key=b"k", value=b"{}")])
    assert redrive("--from", dlq, "--bootstrap", boot, "--group", "g-redrive") == 0
    [first] = read_all(boot, original)
    # It failed again: the consumer dead-letters the redriven record, keeping its headers.
    again = Message(original, 0, first.offset(), first.key(), first.value(),
                    tuple(first.headers()), first.timestamp()[1])
    failure = Failure("retries_exhausted", "still failing")
    produce(dlq, [(again.key, again.value, failure.headers(again, "g-original"), 0)])
    assert redrive("--from", dlq, "--bootstrap", boot, "--group", "g-redrive") == 0
    first_again, second = read_all(boot, original)
    assert first_again.offset() == first.offset()
    assert dict(second.headers())["redrive.count"] == b"2"
    assert dict(second.headers())["redrive.from"] == f"{dlq}/0@1".encode()
    assert second.timestamp()[1] == T0 + 1


def test_a_failed_redrive_commits_nothing_past_the_failure_and_a_rerun_finishes_it(
        kafka_broker, kafka_admin, topics, produce, committed_offsets, tmp_path: Path, capsys):
    original, dlq = topics
    missing = f"gone-{uuid.uuid4().hex[:8]}"
    produce(dlq, [
        dead_letter(original, 0, 1, "rejected", key=b"k1", value=b"1"),
        dead_letter(missing, 0, 2, "rejected", key=b"k2", value=b"2"),
        dead_letter(original, 0, 3, "rejected", key=b"k3", value=b"3"),
    ])
    config = tmp_path / "subscriptions.yaml"
    config.write_text(yaml.safe_dump({
        "kafka": {"bootstrap.servers": "${TEST_BOOTSTRAP}", "group.id": "the-consumers-group",
                  "session.timeout.ms": 10000, "auto.offset.reset": "latest"},
        "freshdesk": {"base_url": "http://127.0.0.1:1", "api_key": "k"},
        "subscriptions": [{"topic": original, "transform": "orders"}],
    }))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEST_BOOTSTRAP", kafka_broker.bootstrap)
        assert redrive("--from", dlq, "--config", str(config)) == 1
        err = capsys.readouterr().err
        assert f"original topic {missing!r} does not exist" in err
        assert [m.key() for m in read_all(kafka_broker.bootstrap, original)] == [b"k1"]
        assert committed_offsets("activity-consumer-redrive.all", dlq) == {0: 1}
        assert committed_offsets("the-consumers-group", dlq) == {0: -1001}, "its own group only"

        kafka_broker.create_topic(missing, 1)
        assert redrive("--from", dlq, "--config", str(config)) == 0
    assert [m.key() for m in read_all(kafka_broker.bootstrap, original)] == [b"k1", b"k3"]
    assert [m.key() for m in read_all(kafka_broker.bootstrap, missing)] == [b"k2"]
    assert committed_offsets("activity-consumer-redrive.all", dlq) == {0: 3}


def test_an_unknown_dead_letter_topic_is_a_usage_error(kafka_broker, capsys):
    assert redrive("--from", f"nope-{uuid.uuid4().hex[:8]}.dlq",
                   "--bootstrap", kafka_broker.bootstrap) == 2
    assert "check --from" in capsys.readouterr().err
