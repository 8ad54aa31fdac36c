"""``python -m consumer_devtools``: the developer's commands, apart from the service.

- ``demo``: a local Kafka broker and Freshdesk sandbox, sample events, the consumer between them;
- ``sandbox``: serve the Freshdesk sandbox in the foreground.

They live here, not in ``activity-consumer``, so the service neither imports nor ships them
(``pip install .`` and the image hold ``consumer`` and ``transforms`` only). Run from a checkout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from consumer_devtools.sandbox.cli import add_parser as add_sandbox_parser


def _demo(args: argparse.Namespace) -> int:
    from consumer_devtools.demo import run_demo

    return run_demo(workdir=args.workdir, keep_open=args.keep_open)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m consumer_devtools",
                                     description="Developer tooling: the demo and the sandbox.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="local Kafka + sandbox + sample events → timelines")
    demo.add_argument("--workdir", default=".demo", help="where the demo keeps its files")
    demo.add_argument("--keep-open", action=argparse.BooleanOptionalAction, default=None,
                      help="keep the sandbox's timeline page up until Ctrl-C "
                           "(default: when run from a terminal)")
    demo.set_defaults(func=_demo)
    add_sandbox_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
