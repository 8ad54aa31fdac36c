"""The sandbox's own controls under /_sandbox/: what tests read and switch at runtime.

Not part of Freshdesk. Unauthenticated on purpose: the sandbox only listens on
localhost, and tests and the demo must be able to inspect it without a key.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from consumer_devtools.sandbox.state import STATE


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload),
                        content_type="application/json")


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def list_activities(request: web.Request) -> web.Response:
    """Everything stored, oldest first; ?contact=<identifier value> keeps one contact's."""
    return _json(request.app[STATE].store.activities(request.query.get("contact")))


async def list_contacts(request: web.Request) -> web.Response:
    return _json(request.app[STATE].store.contacts())


async def list_requests(request: web.Request) -> web.Response:
    """Every API request answered: {at (epoch s), status (null if dropped), contact, fault}."""
    return _json(request.app[STATE].requests)


async def show_faults(request: web.Request) -> web.Response:
    return _json(request.app[STATE].faults.describe())


async def set_faults(request: web.Request) -> web.Response:
    """Change the given fault settings, keep the rest; 400 naming the bad key otherwise."""
    faults = request.app[STATE].faults
    try:
        faults.configure(**await _json_object(request))
    except ValueError as exc:
        return _json({"message": str(exc)}, status=400)
    return _json(faults.describe())


async def clear_faults(request: web.Request) -> web.Response:
    faults = request.app[STATE].faults
    faults.clear()
    return _json(faults.describe())


async def show_budget(request: web.Request) -> web.Response:
    """The rate budget's settings and what the other integration spent."""
    return _json(request.app[STATE].budget.describe())


async def set_budget(request: web.Request) -> web.Response:
    """Change rate_limit, window_seconds, window_kind (fixed|sliding), time_scale or
    others_share; the window starts afresh. 400 naming the bad key otherwise."""
    state = request.app[STATE]
    try:
        state.set_budget(await _json_object(request))
    except ValueError as exc:
        return _json({"message": str(exc)}, status=400)
    return _json(state.budget.describe())


async def set_api_keys(request: web.Request) -> web.Response:
    """{"api_keys": [...], "forbidden_keys": [...]}: e.g. revoke a key mid-demo."""
    body = await _json_object(request)
    keys, forbidden = body.get("api_keys", []), body.get("forbidden_keys", [])
    if not all(isinstance(k, list) and all(isinstance(x, str) for x in k)
               for k in (keys, forbidden)):
        return _json({"message": "api_keys and forbidden_keys must be lists of strings"}, 400)
    request.app[STATE].set_api_keys(keys, forbidden)
    return _json({"api_keys": sorted(keys), "forbidden_keys": sorted(forbidden)})


async def reset(request: web.Request) -> web.Response:
    """Empty account: activities, contacts, requests, faults and the rate window."""
    request.app[STATE].reset()
    return _json({"reset": True})


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/activities", list_activities)
    app.router.add_get("/_sandbox/contacts", list_contacts)
    app.router.add_get("/_sandbox/requests", list_requests)
    app.router.add_get("/_sandbox/faults", show_faults)
    app.router.add_post("/_sandbox/faults", set_faults)
    app.router.add_delete("/_sandbox/faults", clear_faults)
    app.router.add_post("/_sandbox/api-keys", set_api_keys)
    app.router.add_get("/_sandbox/budget", show_budget)
    app.router.add_post("/_sandbox/budget", set_budget)
    app.router.add_post("/_sandbox/reset", reset)
