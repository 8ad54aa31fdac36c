"""The emulated endpoint, POST /api/v2/contact-activities, and the app that serves it.

A request goes through the same gates, in the same order, as on Freshdesk:
injected fault (stands in for the network and load balancer), account budget (every call
counts, so it is checked before credentials), API key, Content-Type, JSON, validation.
Only a request that clears them all is stored and answered 200.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import orjson
from aiohttp import web

from consumer_devtools.sandbox import answers
from consumer_devtools.sandbox.admin import add_admin_routes
from consumer_devtools.sandbox.faults import Fault
from consumer_devtools.sandbox.page import add_page_routes
from consumer_devtools.sandbox.ratelimit import Spend
from consumer_devtools.sandbox.settings import SandboxSettings
from consumer_devtools.sandbox.state import STATE, SandboxState
from consumer_devtools.sandbox.validation import (
    contact_identifier,
    parse_utc_timestamp,
    validate_activity_request,
)

API_PATH = "/api/v2/contact-activities"


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload),
                        content_type="application/json", headers=headers)


def _contact_hint(raw: bytes) -> str | None:
    """The contact a request was about, for the request log, even when it was refused."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    found = contact_identifier(body.get("contact")) if isinstance(body, dict) else None
    return found[1] if found else None


def _api_key(authorization: str | None) -> str | None:
    """The key from `Basic base64(key:X)`; None unless the header is exactly that shape.
    The password must be the letter X as the contract says, stricter than needed."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, colon, password = decoded.partition(":")
    return key if colon and password == "X" and key else None


def _answer_fault(request: web.Request, state: SandboxState, fault: Fault,
                  raw: bytes) -> web.StreamResponse:
    contact = _contact_hint(raw)
    if fault.kind == "drop":
        # Abort: the client sees the connection reset with no status line at all.
        if request.transport is not None:
            request.transport.abort()
        state.log_request(None, contact, "drop")
        return web.Response(status=499)  # never written: the transport is gone
    assert fault.status is not None
    peek = state.budget.peek()
    if fault.status == 429:
        peek = Spend(False, peek.total, 0, fault.retry_after or 1)
    headers = peek.headers()
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    state.log_request(fault.status, contact, fault.kind)
    return _json(fault.status, answers.injected(fault.status), headers)


async def post_contact_activity(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    raw = await request.read()
    fault = state.faults.next_fault()
    if fault is not None:
        if fault.kind not in ("slow", "delay"):
            return _answer_fault(request, state, fault, raw)
        await asyncio.sleep(fault.seconds)
        if fault.kind == "slow" and (request.transport is None or request.transport.is_closing()):
            # `slow` is a request held in front of Freshdesk (a queueing gateway): a client that
            # gave up meanwhile finds it never processed. A scripted `delay` is the other case,
            # processed while its answer comes too late, so a retry can double it: the window no
            # client can close without an idempotency key (see README, guarantees).
            state.log_request(None, _contact_hint(raw), "slow_abandoned")
            return web.Response(status=499)  # nobody reads it

    def refuse(status: int, payload: Any, spend: Spend) -> web.Response:
        state.log_request(status, _contact_hint(raw))
        return _json(status, payload, spend.headers())

    spend = state.budget.spend()
    if not spend.allowed:
        b = state.budget
        return refuse(429, answers.rate_limited(b.limit, b.window_seconds, spend.retry_after),
                      spend)
    key = _api_key(request.headers.get("Authorization"))
    if key is not None and key in state.forbidden_keys:
        return refuse(403, answers.ACCESS_DENIED, spend)
    if key is None or key not in state.api_keys:
        return refuse(401, answers.INVALID_CREDENTIALS, spend)
    if request.content_type != "application/json":
        sent = request.headers.get("Content-Type")
        return refuse(415, answers.invalid_content_type(sent), spend)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return refuse(400, answers.invalid_json("Request body has invalid json format"), spend)
    if not isinstance(body, dict):
        return refuse(400, answers.invalid_json("Request body should be a JSON object"), spend)
    errors = validate_activity_request(body)
    if errors:
        return refuse(400, answers.validation_failed(errors), spend)

    identifier = contact_identifier(body["contact"])
    assert identifier is not None  # validation guarantees exactly one
    activity = body["activity"]
    # Stored exactly as posted (no timestamp filled in), so tests can see what was sent;
    # the timeline falls back to the time received, as Freshdesk does.
    happened_at = parse_utc_timestamp(activity["timestamp"]) if "timestamp" in activity else None
    record = state.store.add_activity(*identifier, activity, happened_at)
    # Whether anyone is left to read this 200: a client that timed out or died meanwhile never
    # learns the activity is stored, and its retry (or its successor) posts it again.
    gone = request.transport is None or request.transport.is_closing()
    state.log_request(200, identifier[1], activity_id=record["id"], client_gone=gone)
    return _json(200, record, spend.headers())


def make_app(settings: SandboxSettings) -> web.Application:
    """The sandbox as an aiohttp app; its store closes when the app is cleaned up."""
    app = web.Application()
    state = SandboxState.from_settings(settings)
    app[STATE] = state
    app.router.add_post(API_PATH, post_contact_activity)
    add_admin_routes(app)
    add_page_routes(app)

    async def close_store(_: web.Application) -> None:
        state.store.close()

    app.on_cleanup.append(close_store)
    return app
