"""`python -m consumer_devtools sandbox`: serve the Freshdesk sandbox in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from consumer_devtools.sandbox.app import make_app
from consumer_devtools.sandbox.settings import DEFAULT_RATE_LIMIT, DEFAULT_WINDOW_SECONDS, SandboxSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `sandbox` subcommand on the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "sandbox", help="serve a local Freshdesk sandbox (contact-activities API + timeline)",
        description="A local server that answers POST /api/v2/contact-activities as "
                    "Freshdesk would, and shows each contact's timeline at /.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    parser.add_argument("--db", default="sandbox.db", metavar="FILE",
                        help="SQLite file holding contacts and activities")
    parser.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                        help="accepted API key (repeatable; default sandbox-key)")
    parser.add_argument("--forbidden-key", action="append", dest="forbidden_keys", default=[],
                        metavar="KEY", help="API key answered 403 access_denied (repeatable)")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, metavar="N",
                        help="calls per window for the whole account")
    parser.add_argument("--window-seconds", type=float, default=DEFAULT_WINDOW_SECONDS,
                        metavar="S", help="length of the rate-limit window")
    parser.add_argument("--window-kind", choices=("fixed", "sliding"), default="fixed",
                        help="fixed: refills at once when the window ends; sliding: counts the "
                             "last window-seconds")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                        help="account seconds per real second (600 with --window-seconds 3600: "
                             "an hourly budget whose hour lasts 6 s)")
    parser.add_argument("--others-share", type=float, default=0.0, metavar="F",
                        help="share of each window another integration spends at random moments")
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help="seed for fault injection, so runs repeat")
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> SandboxSettings:
    return SandboxSettings(
        api_keys=tuple(args.api_keys or ("sandbox-key",)),
        forbidden_keys=tuple(args.forbidden_keys),
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
        window_kind=args.window_kind,
        time_scale=args.time_scale,
        others_share=args.others_share,
        db_path=args.db,
        seed=args.seed,
    )


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(make_app(settings_from(args)), access_log=None,
                           shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
        url = f"http://{args.host}:{runner.addresses[0][1]}"
        print(f"sandbox listening on {url} (timeline: {url}/)", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 when settings are wrong."""
    try:
        settings_from(args)
    except ValueError as exc:
        print(f"sandbox: {exc}")
        return 2
    asyncio.run(_serve(args))
    return 0
