"""``activity-consumer``: run the service, check a subscription file, try a transform, redrive.

The service's commands only: the demo and the sandbox are developer tooling
(``python -m consumer_devtools``), not imported here and not in the service's wheel.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

log = logging.getLogger("consumer.cli")


def _load(path: str) -> Any:
    """Config and router, or a printed explanation and exit code 2."""
    from consumer.config import ConfigError, load_config
    from consumer.config.kafka import problems as kafka_problems
    from consumer.routing import Router

    try:
        config = load_config(path)
        if problems := kafka_problems(config.kafka):  # what librdkafka would refuse at start
            raise ConfigError(path, problems)
        return config, Router.from_config(config, path)
    except ConfigError as e:
        print(f"configuration error\n{e}", file=sys.stderr)
        raise SystemExit(2) from None


# SIGTERM/SIGINT before the consumer exists (the heavy imports below take a while on a starved
# pod): remembered here, and the consumer stops as soon as it starts. Exit 0 either way.
_stop_requested = threading.Event()
_on_stop: list[Callable[[], None]] = []


def _request_stop(*_: object) -> None:
    _stop_requested.set()
    for stop in _on_stop:
        stop()


def cmd_run(args: argparse.Namespace) -> int:
    from consumer import app, logs

    config, router = _load(args.config)
    logs.configure(args.log_format or config.log.format, config.log.level)
    for secret in config.secrets():
        logs.register_secret(secret)
    consumer = app.build(config, router)
    _on_stop.append(consumer.stop)
    if _stop_requested.is_set():
        log.info("stopped before it started (SIGTERM during start-up)")
        return 0
    # `kill -USR1 <pid>` prints every thread's stack to stderr: where a stuck process is stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    _tune_gc()
    code = consumer.run()
    if consumer.close_abandoned:  # a thread is stuck in librdkafka: do not wait for it at exit
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code


def _tune_gc() -> None:
    """The cyclic GC, for a process that allocates a few dozen short-lived objects per message
    and frees nearly all of them by reference counting: what start-up made is kept out of every
    collection (gc.freeze), and a young collection runs every 10,000 allocations, not 700. In
    the poll loop's microbenchmark: 732 collections and 10.6 us per message before, 8 and 0.8 after."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def cmd_check_config(args: argparse.Namespace) -> int:
    config, router = _load(args.config)
    from transforms import BUILTIN_TRANSFORMS

    fd = config.freshdesk
    print(f"{args.config}: OK")
    print(f"  kafka       {config.kafka['bootstrap.servers']}  group {config.kafka['group.id']}")
    print(f"  freshdesk   {fd.url}  (API key set, {len(fd.api_key.get_secret_value())} chars)")
    print(f"  dead letters {config.dead_letter.topic}")
    if config.schema_registry is not None:
        print(f"  schema registry {config.schema_registry.url}")
    width = max(len(r.subscription.topic) for r in router.routes)
    for r in router.routes:
        sub = r.subscription
        if sub.transform is not None:
            kind = "built-in" if sub.transform in BUILTIN_TRANSFORMS else "imported"
            what = f"{sub.transform} ({kind})"
        else:
            what = f"{sub.name} (JSONata, compiled)"
        inputs = [f"format {sub.format}"] if sub.format != "json" else []
        inputs += [f"key {sub.key_format}"] if sub.key_format != "raw" else []
        inputs += [f"envelope {sub.envelope}"] if sub.envelope != "none" else []
        print(f"  {sub.topic:<{width}} → {what}" + (f"  [{', '.join(inputs)}]" if inputs else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from consumer.dead_letters.redrive import add_parser as add_redrive_parser
    from consumer.try_command import add_parser as add_try_parser

    parser = argparse.ArgumentParser(
        prog="activity-consumer",
        description="Put order and payment events from Kafka on Freshdesk contact timelines.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="consume and deliver until SIGTERM")
    run.add_argument("--config", "-c", required=True, help="the subscription file (YAML)")
    run.add_argument("--log-format", choices=["json", "text"],
                     help="override log.format from the file")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a subscription file and its transforms")
    check.add_argument("config", help="the subscription file (YAML)")
    check.set_defaults(func=cmd_check_config)

    add_try_parser(sub)
    add_redrive_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"] and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):  # first, before the parser's imports
            signal.signal(sig, _request_stop)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `activity-consumer try … | head`: the reader has gone, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
