"""``activity-consumer redrive``: send dead letters back to their topics once the cause is fixed.

A dead letter is the original message plus ``dlq.*`` headers (consumer.dead_letters.producer), so a redrive
is a plain re-produce: the original key, value, headers and timestamp, to the original topic and
partition, without the ``dlq.*`` headers and with two of its own:

- ``redrive.count``: 1, or one more than the record already carried (a dead letter that failed
  again after a redrive shows how often it went round);
- ``redrive.from``: ``<dead-letter topic>/<partition>@<offset>``, the record it came from.

The timestamp matters: a transform falls back to the Kafka timestamp when an event has no time
of its own, and the activity's time (and a payload-hash idempotency key) must not become the
time of the redrive.

Exactly what it reads: the dead-letter topic from the redrive group's committed offsets (or the
beginning) up to the end offsets taken at start, so dead letters that arrive while it runs (the
redriven ones failing again, say) wait for the next run instead of looping. Progress is committed
per partition only after the broker acknowledged every re-produced record before it (idempotent
producer, acks=all), so a second run does not redrive the same record again, and a crash
mid-run redrives at most the unacknowledged tail again. Records not selected by ``--reason`` are
passed over *for this group*; the default group is named after the selection
(``activity-consumer-redrive.rejected``) so a later redrive of another reason still finds
its records. Activities that were delivered meanwhile are not posted twice: the ledger knows them.
Do not run two redrives with the same group at once (partitions are assigned, not balanced).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from consumer.config.kafka import client_settings
from consumer.outcomes import REASONS

__all__ = ["add_parser", "redriven_headers", "run"]

log = logging.getLogger("consumer.redrive")

_BATCH = 500
_IDLE_LIMIT_S = 30.0  # no record and no end-of-partition for this long: the broker is unreachable
Headers = list[tuple[str, str | bytes | None]]  # as Producer.produce takes them


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "redrive", help="re-produce dead letters to their original topics after a fix",
        description="Reads a dead-letter topic and re-produces the selected dead letters to the "
                    "topic they came from, with their original key, value and headers.")
    p.add_argument("--from", dest="source", required=True, metavar="TOPIC.dlq",
                   help="the dead-letter topic to read")
    p.add_argument("--reason", action="append", dest="reasons", choices=sorted(REASONS),
                   metavar="REASON",
                   help=f"only dead letters with this dlq.reason (repeatable; default: all). "
                        f"One of {', '.join(REASONS)}")
    p.add_argument("--dry-run", action="store_true", help="print what would be redriven; change nothing")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--bootstrap", metavar="HOST:PORT", help="the Kafka cluster, unauthenticated")
    where.add_argument("--config", "-c", metavar="FILE",
                       help="a subscription file: its kafka section (security settings included)")
    p.add_argument("--group", help="the consumer group that remembers progress on the dead-letter "
                                   "topic (default: activity-consumer-redrive.<reasons or all>)")
    p.add_argument("--progress-every", type=int, default=1000, metavar="N",
                   help="print a progress line every N records read")
    p.set_defaults(func=run)
    return p


def redriven_headers(headers: list[tuple[str, bytes | None]], came_from: str) -> Headers:
    """The original headers for a re-produce: ``dlq.*`` and old ``redrive.*`` out, new ones in."""
    previous = 0
    for k, v in headers:
        if k == "redrive.count" and v is not None:
            try:
                previous = int(v)
            except ValueError:
                previous = 0
    kept = [(k, v) for k, v in headers
            if v is not None and not k.startswith("dlq.") and k not in ("redrive.count", "redrive.from")]
    return [*kept, ("redrive.count", str(previous + 1).encode()), ("redrive.from", came_from.encode())]


@dataclass
class Summary:
    read: int = 0
    redriven: int = 0  # acknowledged by the broker (dry run: would be)
    skipped: Counter[str] = field(default_factory=Counter)  # by dlq.reason
    failed: list[str] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        verb = "would redrive" if dry_run else "redriven"
        skipped = sum(self.skipped.values())
        text = f"read {self.read}, {verb} {self.redriven}, skipped {skipped}"
        if skipped:
            text += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped.items())) + ")"
        if self.failed:
            text += f", failed {len(self.failed)}"
        return text


@dataclass
class _Pending:
    """One record of the current batch: ``ok`` is None until the broker answered its re-produce."""

    offset: int
    ok: bool | None = None


def run(args: argparse.Namespace) -> int:
    """Returns 0 when everything selected was redriven, 1 when some failed, 2 on a usage problem."""
    kafka = _kafka_settings(args)
    if kafka is None:
        return 2
    reasons = sorted(set(getattr(args, "reasons", None) or ()))
    group = getattr(args, "group", None) or f"activity-consumer-redrive.{'+'.join(reasons) or 'all'}"
    dry_run = bool(getattr(args, "dry_run", False))
    redrive = _Redrive(kafka, group, args.source, set(reasons), dry_run,
                       every=max(1, int(getattr(args, "progress_every", 1000) or 1000)))
    try:
        ends = redrive.plan()
        if ends is None:
            return 2
        if ends:
            _say(f"redrive {args.source} → original topics, group {group}{_selection(reasons, dry_run)}: "
                 f"{_records(sum(e - s for s, e in ends.values()))} to read")
            redrive.run(ends)
    except KafkaException as e:
        error = e.args[0] if e.args else e
        redrive.summary.failed.append(
            f"kafka: {error.str() if isinstance(error, KafkaError) else error}")
    finally:
        redrive.close()
    summary = redrive.summary
    _say(f"redrive {args.source} done: {summary.line(dry_run)}")
    for failure in summary.failed[:20]:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if summary.failed else 0


def _selection(reasons: list[str], dry_run: bool) -> str:
    return (f", reasons {','.join(reasons)}" if reasons else "") + (" (dry run)" if dry_run else "")


def _say(line: str) -> None:
    print(line, flush=True)


def _kafka_settings(args: argparse.Namespace) -> dict[str, Any] | None:
    if getattr(args, "config", None):
        from consumer import logs
        from consumer.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as e:
            print(f"configuration error\n{e}", file=sys.stderr)
            return None
        for secret in config.secrets():
            logs.register_secret(secret)
        return client_settings(config.kafka)
    if getattr(args, "bootstrap", None):
        return {"bootstrap.servers": args.bootstrap}
    print("redrive needs --bootstrap HOST:PORT or --config FILE", file=sys.stderr)
    return None


class _Redrive:
    """One run: reads ``source`` from the group's offsets to the ends taken at start."""

    def __init__(self, kafka: dict[str, Any], group: str, source: str, reasons: set[str],
                 dry_run: bool, every: int):
        librdkafka_log = logging.getLogger("librdkafka.redrive")
        self.reader = Consumer({**kafka, "group.id": group, "enable.auto.commit": False,
                                "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                                "enable.partition.eof": True, "logger": librdkafka_log})
        self.producer = None if dry_run else Producer(
            {**kafka, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
             "logger": librdkafka_log})
        self.source, self.reasons, self.dry_run, self.every = source, reasons, dry_run, every
        self.summary = Summary()
        self._partitions_of: dict[str, int | None] = {}  # original topic → partitions (None: missing)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(30)
        self.reader.close()

    def plan(self) -> dict[int, tuple[int, int]] | None:
        """{partition: (first offset to read, end offset at start)} for partitions with work left."""
        source, reader = self.source, self.reader
        topic = reader.list_topics(source, timeout=10).topics.get(source)
        if topic is None or topic.error is not None:
            why = topic.error.str() if topic is not None and topic.error is not None else "not found"
            print(f"dead-letter topic {source!r}: {why}; check --from (dead letters go to "
                  f"'<topic>.dlq' unless dead_letter.topic says otherwise)", file=sys.stderr)
            return None
        parts = [TopicPartition(source, p) for p in sorted(topic.partitions)]
        committed = {tp.partition: tp.offset for tp in reader.committed(parts, timeout=10)}
        plan = {}
        for tp in parts:
            low, high = reader.get_watermark_offsets(tp, timeout=10)
            start = max(low, committed.get(tp.partition, -1))  # never committed: < 0
            if start < high:
                plan[tp.partition] = (start, high)
        return plan

    def run(self, ends: dict[int, tuple[int, int]]) -> None:
        self.reader.assign([TopicPartition(self.source, p, start) for p, (start, _) in ends.items()])
        open_parts = set(ends)
        idle_since = time.monotonic()
        summary = self.summary
        while open_parts:
            batch = self._read_batch(ends, open_parts)
            if batch:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > _IDLE_LIMIT_S:
                summary.failed.append(f"no record from {self.source} for {_IDLE_LIMIT_S:.0f}s "
                                      f"(partitions {sorted(open_parts)} unfinished)")
                return
            if self.producer is not None and (left := self.producer.flush(60)):
                summary.failed.append(f"{left} re-produced records not acknowledged within 60 s")
            if not self.dry_run:
                _commit(self.reader, self.source, batch)
            if summary.failed:
                return  # the next run starts at the first record that was not acknowledged

    def _read_batch(self, ends: dict[int, tuple[int, int]], open_parts: set[int]
                    ) -> dict[int, list[_Pending]]:
        """Read one batch and redrive what it selects; closes partitions that reached their end."""
        batch: dict[int, list[_Pending]] = {}
        for m in self.reader.consume(_BATCH, 1.0):
            p, offset = m.partition(), m.offset()
            if not self._is_record(m, open_parts):
                continue
            assert p is not None and offset is not None  # a record always has both
            if p not in open_parts or offset >= ends[p][1]:
                open_parts.discard(p)  # past the end taken at start: next run's work
                continue
            if offset == ends[p][1] - 1:
                open_parts.discard(p)
            pending = _Pending(offset)
            batch.setdefault(p, []).append(pending)
            self.summary.read += 1
            self._one(m, pending)
            if self.summary.read % self.every == 0:
                _say(f"redrive {self.source}: {self.summary.line(self.dry_run)}")
            if self.summary.failed:
                break  # stop taking more; what was sent is flushed and committed
        return batch

    def _is_record(self, m: Any, open_parts: set[int]) -> bool:
        err = m.error()
        if err is None:
            return True
        if err.code() == KafkaError._PARTITION_EOF:
            open_parts.discard(m.partition())
        elif err.fatal():
            raise KafkaException(err)
        else:
            log.warning("reading %s/%s: %s", self.source, m.partition(), err.str())
        return False

    def _one(self, m: Any, pending: _Pending) -> None:
        headers = list(m.headers() or ())
        dlq = {k: (v or b"").decode(errors="replace") for k, v in headers if k.startswith("dlq.")}
        where = f"{self.source}/{m.partition()}@{m.offset()}"
        topic = dlq.get("dlq.original.topic")
        reason = dlq.get("dlq.reason", "unknown") if topic else "not_a_dead_letter"
        if topic is None or (self.reasons and reason not in self.reasons):
            self.summary.skipped[reason] += 1
            pending.ok = True
            return
        extra = self._target(topic, dlq)
        if extra is None:
            self.summary.failed.append(f"{where}: original topic {topic!r} does not exist")
            pending.ok = False
        elif self.dry_run:
            _say(f"would redrive {where} → {topic}/{extra.get('partition', 'by key')} "
                 f"(reason {reason}, original offset {dlq.get('dlq.original.offset', '?')})")
            self.summary.redriven += 1
            pending.ok = True
        else:
            self._produce(m, pending, topic, headers, where, extra)

    def _target(self, topic: str, dlq: dict[str, str]) -> dict[str, Any] | None:
        """Where in ``topic`` the record goes back (its original partition and timestamp);
        None when the topic does not exist."""
        if topic not in self._partitions_of:
            meta = self.reader.list_topics(topic, timeout=10).topics.get(topic)
            self._partitions_of[topic] = (len(meta.partitions)
                                          if meta is not None and meta.error is None else None)
        count = self._partitions_of[topic]
        if count is None:
            return None
        extra: dict[str, Any] = {}
        original_partition = _int(dlq.get("dlq.original.partition"))
        if original_partition is not None and 0 <= original_partition < count:
            extra["partition"] = original_partition  # else: the key decides, as for a new record
        if timestamp := _int(dlq.get("dlq.original.timestamp")):
            extra["timestamp"] = timestamp
        return extra

    def _produce(self, m: Any, pending: _Pending, topic: str, headers: list[Any], where: str,
                 extra: dict[str, Any]) -> None:
        summary = self.summary

        def acknowledged(err: KafkaError | None, _record: Any) -> None:
            pending.ok = err is None
            if err is None:
                summary.redriven += 1
            else:
                summary.failed.append(f"{where} → {topic}: {err.str()}")

        assert self.producer is not None
        self.producer.produce(topic, value=m.value(), key=m.key(), on_delivery=acknowledged,
                              headers=redriven_headers(headers, where), **extra)
        self.producer.poll(0)


def _commit(reader: Consumer, source: str, batch: dict[int, list[_Pending]]) -> None:
    """Commit each partition up to (not including) its first record not acknowledged."""
    offsets = []
    for p, records in batch.items():
        done = None
        for r in records:
            if not r.ok:
                break
            done = r.offset
        if done is not None:
            offsets.append(TopicPartition(source, p, done + 1))
    if offsets:
        reader.commit(offsets=offsets, asynchronous=False)


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
