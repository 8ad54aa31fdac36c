"""``activity-consumer try``: run a transform or a subscription on events from files, no Kafka.

Two ways to name what runs:

- ``-t TRANSFORM``: a built-in or ``package.module:function``, on JSON events;
- ``-c FILE --topic T``: the subscription of that topic in the subscription file, exactly as
  ``run`` routes it (its format, envelope, mapping or transform; the same Router). An event file
  may then be a bare value or ``{"headers": {…}, "key": …, "value": …, "timestamp": ms}``, so
  binary CloudEvents and outbox headers can be tried. For registry formats (avro, protobuf,
  json_schema) the file holds the value as JSON: ``try`` encodes nothing, the decoding itself is
  tested end to end instead.

Prints, for every event, the activity it becomes (the key and the request body, validated with
``encode()`` exactly as the consumer would), or why it is filtered or rejected; ``--post`` sends
each activity to a Freshdesk (or sandbox) and prints the answer. Events are run in order through
one contact directory, as the consumer would: what an event teaches (``learned``) resolves the
customer of later ones, and an event whose customer nobody named yet says what it waits for.
``--contacts FILE`` fills the directory first (the ``contacts.bootstrap_file`` format).
An event the transform's probe filters from its bytes (transforms.probe) is shown filtered
without being decoded, as the consumer settles it.

Exit code 0 when every event became an activity, was filtered or waits for its contact, 1 when
any was rejected (by the transform, the contract or Freshdesk), 2 when the transform or a file
cannot be found.

A FILE holds one JSON event (it may span lines) or JSON Lines, one event per line; ``-`` is stdin.
A UTF-8 byte order mark at the start of a file is not part of its JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from consumer.contacts.directory import BootstrapError, MemoryDirectory, load_bootstrap_file
from consumer.contacts.parking_lot import LearningDirectory
from consumer.message import Headers, Message
from consumer.outcomes import Failure, Outcome, Unavailable, Waiting
from consumer.transform_runner import decode, run_transform
from transforms import EventMeta, Filtered, Link
from transforms import resolve as resolve_transform
from transforms.probe import probe_of

__all__ = ["add_parser", "run"]

PATH = "/api/v2/contact-activities"  # as consumer.delivery.freshdesk.PATH, without importing its settings


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "try", help="show the activity each event in FILE becomes (no Kafka needed)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="a JSON event, or JSON Lines (one event per line); - reads stdin")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--transform", "-t",
                      help="a built-in name (orders, payments, shopify, stripe, …) or an import "
                           "path like mypackage.module:function")
    what.add_argument("--config", "-c", metavar="FILE",
                      help="a subscription file: run the subscription of --topic as run would")
    parser.add_argument("--header", "-H", action="append", default=[], metavar="K=V",
                        help="a Kafka message header for every event, e.g. "
                             "X-Shopify-Topic=orders/create (repeatable)")
    parser.add_argument("--topic", default="try", help="the Kafka topic the events seem to come "
                                                       "from (with -c: whose subscription runs)")
    parser.add_argument("--post", metavar="URL",
                        help=f"also POST each activity to URL{PATH}, e.g. a sandbox "
                             "http://127.0.0.1:8080 (or https://acme.freshdesk.com)")
    parser.add_argument("--contacts", metavar="FILE",
                        help="a JSON Lines file of customers to learn first "
                             "(contacts.bootstrap_file format)")
    parser.add_argument("--api-key", default=os.environ.get("FRESHDESK_API_KEY", "sandbox-key"),
                        help="for --post (default: $FRESHDESK_API_KEY, else sandbox-key)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        outcome_of = _subscription(args) if args.config else _transform(args.transform)
        headers = tuple(_header(h) for h in args.header)
        client = _Poster(args.post, args.api_key) if args.post else None
    except (LookupError, ValueError) as e:
        print(f"error: {e}", file=out)
        return 2
    directory = LearningDirectory(MemoryDirectory())
    rejected = 0
    try:
        if args.contacts:
            loaded = load_bootstrap_file(directory.directory, args.contacts)
            print(f"contacts: learned {loaded.links} links from {args.contacts}", file=out)
        for offset, (where, raw, event) in enumerate(_events(args.files)):
            print(f"== {where}", file=out)
            msg = _message(args.topic, offset, raw, event, headers, wrapped=bool(args.config))
            outcome = outcome_of(msg, directory)
            rejected += _show(outcome, directory, client, out)
    except (OSError, BootstrapError) as e:
        print(f"error: {e}", file=out)
        return 2
    finally:
        if client is not None:
            client.close()
    return 1 if rejected else 0


OutcomeOf = Callable[[Message, LearningDirectory], Outcome]


def _transform(spec: str) -> OutcomeOf:
    """``-t``: the transform alone, its probe first (as the consumer settles from the bytes)."""
    transform = resolve_transform(spec)
    probe = probe_of(transform)

    def outcome_of(msg: Message, directory: LearningDirectory) -> Outcome:
        assert msg.value is not None
        filtered = probe(msg.value) if probe is not None else None
        if filtered is not None:
            return filtered
        event = decode(msg.value)
        if isinstance(event, Failure):
            return event
        meta = EventMeta(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.headers)
        return run_transform(transform, spec, event, meta, directory)
    return outcome_of


def _subscription(args: argparse.Namespace) -> OutcomeOf:
    """``-c FILE``: the Router run builds from the file, and the route of ``--topic``."""
    from consumer.config import ConfigError, load_config
    from consumer.routing import Router

    try:
        config = load_config(args.config)
        router = Router.from_config(config, args.config)
    except ConfigError as e:
        raise ValueError(f"configuration error\n{e}") from None
    route = router.route_for(args.topic)
    if route is None:
        topics = ", ".join(sub.topic for sub in config.subscriptions)
        raise LookupError(f"no subscription of {args.config} claims topic {args.topic!r} "
                          f"(its topics: {topics}); give --topic")
    registry_format = route.decode is not None

    def outcome_of(msg: Message, directory: LearningDirectory) -> Outcome:
        early = router.triage(route, msg.topic, msg.value)
        if early is not None:
            return early
        if registry_format:  # the file holds the JSON the registry's format decodes to
            value = decode(msg.value or b"null")
            if isinstance(value, Failure):
                return value
            return router.transform(msg, route, directory, decoded=value)
        return router.transform(msg, route, directory)
    return outcome_of


def _message(topic: str, offset: int, raw: bytes, event: Any, headers: Headers,
             wrapped: bool) -> Message:
    """The Kafka message an event file describes: a bare value, or (with -c) headers, key and
    value as the file gives them."""
    now = int(datetime.now(UTC).timestamp() * 1000)
    if not (wrapped and _is_message(event)):
        return Message(topic, 0, offset, None, raw, headers, now)
    timestamp = event.get("timestamp")
    key = event.get("key")
    given = tuple((str(k), None if v is None else str(v).encode())
                  for k, v in (event.get("headers") or {}).items())
    value = event["value"]
    return Message(topic, 0, offset, None if key is None else str(key).encode(),
                   None if value is None else orjson.dumps(value), headers + given,
                   timestamp if isinstance(timestamp, int) else now)


def _is_message(event: Any) -> bool:
    """``{"value": …}`` with only headers, key, timestamp (ms) and topic (ignored: --topic
    names it) beside it: a Kafka message, not a bare event."""
    return isinstance(event, dict) and "value" in event and \
        set(event) <= {"headers", "key", "value", "timestamp", "topic"}


def _show(outcome: Outcome, directory: LearningDirectory, client: _Poster | None,
          out: TextIO) -> int:
    """Prints what an event became; returns 1 when it was rejected, else 0."""
    learned, directory.learned = directory.learned, []
    for link in learned:
        print(f"learned   {link.ref} → {_target(link)}", file=out)
    if isinstance(outcome, Waiting):
        print(f"waiting (contact unknown): {outcome.describe()}; the consumer parks it until an "
              "event names that customer", file=out)
        return 0
    if isinstance(outcome, Filtered):
        _filtered(outcome, out)
        return 0
    if isinstance(outcome, Unavailable):
        print(f"waiting ({outcome.what} unavailable): {outcome.error}", file=out)
        return 1
    if isinstance(outcome, Failure):
        print(f"rejected ({_SHOWN_AS.get(outcome.reason, outcome.reason)}): {outcome.error}",
              file=out)
        return 1
    failed = 0
    for delivery in outcome:
        print(f"activity  key={delivery.key}", file=out)
        print(orjson.dumps(orjson.loads(delivery.body), option=orjson.OPT_INDENT_2).decode(),
              file=out)
        if client is not None:
            failed |= client.post(delivery.body, out)
    return failed


def _filtered(outcome: Filtered, out: TextIO) -> None:
    print(f"filtered ({outcome.reason}): {outcome.detail or 'not for the timeline'}", file=out)


def _target(link: Link) -> str:
    if link.alias_of is not None:
        return link.alias_of
    identifier = link.contact.identifier() if link.contact is not None else None
    return f"{identifier[0]} {identifier[1]}" if identifier else "(nothing)"


_SHOWN_AS = {"validation": "contract"}  # the dead-letter reason, in the words of a transform author


class _Poster:
    """``--post``: the consumer's own FreshdeskClient on a loop of its own, so an answer means
    what it means to the consumer (a 429 is a wait, not a failure)."""

    def __init__(self, base_url: str, api_key: str):
        from pydantic import ValidationError

        from consumer.config import FreshdeskSettings
        from consumer.delivery.freshdesk import FreshdeskClient

        try:
            settings = FreshdeskSettings(base_url=base_url, api_key=api_key)
        except ValidationError as e:
            raise ValueError("; ".join(err["msg"].removeprefix("Value error, ")
                                       for err in e.errors())) from None
        self._runner = asyncio.Runner()
        self._client = FreshdeskClient(settings)
        self.url = self._client.url

    def post(self, body: bytes, out: TextIO) -> int:
        """Posts; prints what the consumer would do with the answer; 1 unless delivered or
        throttled (the consumer waits and posts it again)."""
        from consumer.delivery.answers import Answer

        reply = self._runner.run(self._client.post(body))
        said = f"{reply.status}" if reply.status is not None else "no answer"
        print(f"posted to {self.url}: {said} {_meaning(reply)}", file=out)
        return 0 if reply.answer in (Answer.DELIVERED, Answer.THROTTLED) else 1

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


def _meaning(reply: Any) -> str:
    """What the consumer would do with this answer, in words."""
    from consumer.delivery.answers import Answer, halt_reason

    detail = reply.detail[:500]
    if reply.answer is Answer.DELIVERED:
        return "delivered: on the timeline"
    if reply.answer is Answer.THROTTLED:
        return f"throttled: the consumer would wait {reply.retry_after:g} s (Retry-After) and post it again"
    if reply.answer is Answer.REJECTED:
        return f"rejected: the consumer would dead-letter it: {detail}"
    if reply.answer is Answer.HALT:
        return f"halt: {halt_reason(reply)}"
    if reply.answer is Answer.UNAVAILABLE:
        return f"Freshdesk unreachable: the consumer would wait and probe: {detail}"
    return f"failed: the consumer would retry it: {detail}"


def _events(paths: list[str]) -> Iterator[tuple[str, bytes, Any]]:
    """``(where, raw bytes, event)`` for every event: the whole file as one JSON value when it
    is one, else one per non-empty line."""
    for path in paths:
        name = "<stdin>" if path == "-" else path
        text = sys.stdin.buffer.read() if path == "-" else _read(path)
        text = text.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is not JSON
        try:
            yield name, text, orjson.loads(text)
            continue
        except orjson.JSONDecodeError:
            pass
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    event = None  # the consumer's own decode says why, after the probe
                yield f"{name}:{number}", line, event


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _header(spec: str) -> tuple[str, bytes]:
    name, sep, value = spec.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--header {spec!r}: expected NAME=VALUE, e.g. X-Shopify-Topic=orders/create")
    return name.strip(), value.encode()
