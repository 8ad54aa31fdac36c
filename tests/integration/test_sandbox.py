"""The Freshdesk sandbox answers as the contract says Freshdesk does, over real HTTP."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import pytest

from consumer_devtools.sandbox import SandboxServer
from tests.fixtures.sandbox import SandboxFactory

pytestmark = pytest.mark.integration

API = "/api/v2/contact-activities"
AUTH = ("sandbox-key", "X")
RATE_HEADERS = ("X-RateLimit-Total", "X-RateLimit-Remaining", "X-RateLimit-Used-CurrentRequest")

# The contract's example body, verbatim.
EXAMPLE: dict[str, Any] = {
    "activity": {
        "name": "Transaction failed",
        "timestamp": "2020-10-01T14:00:00Z",
        "description": "Transaction for order 84637930 failed",
        "actor": {"id": "918mI2k1", "name": "Rachel", "type": "contact"},
        "source": {"name": "shopify", "id": "7819e8k1119"},
        "object": {"type": "transaction", "id": "1234",
                   "link": "https://shop.example/orders/84637930"},
        "context": {"Items": 2, "Amount": "50", "Currency": "USD",
                    "Item description": {"item1": {"Item name": "White Ace Sneakers",
                                                   "Size": "10 UK"}}},
    },
    "contact": {"email": "rachel@example.com"},
}


def body(**activity_changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(EXAMPLE)
    found["activity"].update(activity_changes)
    return found


def post(sandbox: SandboxServer, payload: Any, auth: Any = AUTH, **kwargs: Any) -> httpx.Response:
    return httpx.post(sandbox.base_url + API, json=payload, auth=auth, timeout=10, **kwargs)


def test_contract_example_is_accepted_and_stored(sandbox: SandboxServer) -> None:
    answer = post(sandbox, EXAMPLE)

    assert answer.status_code == 200
    assert answer.json()["activity"] == EXAMPLE["activity"]
    stored = httpx.get(sandbox.base_url + "/_sandbox/activities").json()
    assert len(stored) == 1
    assert stored[0]["id"] == answer.json()["id"]
    assert stored[0]["contact"] == {"email": "rachel@example.com"}
    assert stored[0]["activity"] == EXAMPLE["activity"]
    assert stored[0]["received_at"].endswith("Z") and len(stored[0]["received_at"]) == 24
    assert sandbox.activities() == stored


def test_activities_can_be_filtered_by_contact(sandbox: SandboxServer) -> None:
    other = copy.deepcopy(EXAMPLE)
    other["contact"] = {"unique_external_id": "cust-42"}
    assert post(sandbox, EXAMPLE).status_code == 200
    assert post(sandbox, other).status_code == 200

    only = httpx.get(sandbox.base_url + "/_sandbox/activities",
                     params={"contact": "cust-42"}).json()
    assert [a["contact"] for a in only] == [{"unique_external_id": "cust-42"}]
    assert len(sandbox.activities(contact="rachel@example.com")) == 1


@pytest.mark.parametrize("auth", [("wrong-key", "X"), ("sandbox-key", "password"), None],
                         ids=["wrong key", "wrong password", "no auth"])
def test_bad_or_missing_credentials_are_401(sandbox: SandboxServer, auth: Any) -> None:
    answer = post(sandbox, EXAMPLE, auth=auth)

    assert answer.status_code == 401
    assert answer.json() == {"code": "invalid_credentials",
                             "message": "You have to be logged in to perform this action."}
    assert sandbox.activities() == []


def test_forbidden_key_is_403(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(forbidden_keys=("agent-key",))

    answer = post(sandbox, EXAMPLE, auth=("agent-key", "X"))

    assert answer.status_code == 403
    assert answer.json()["code"] == "access_denied"


def test_api_keys_can_be_changed_at_runtime(sandbox: SandboxServer) -> None:
    sandbox.set_api_keys(["rotated"], forbidden=["sandbox-key"])

    assert post(sandbox, EXAMPLE).status_code == 403
    assert post(sandbox, EXAMPLE, auth=("rotated", "X")).status_code == 200


def test_non_json_content_type_is_415(sandbox: SandboxServer) -> None:
    answer = httpx.post(sandbox.base_url + API, auth=AUTH, content=b"activity=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert answer.status_code == 415
    assert answer.json()["code"] == "invalid_content_type"


def _without(path: str) -> dict[str, Any]:
    found = copy.deepcopy(EXAMPLE)
    *parents, leaf = path.split(".")
    target = found
    for key in parents:
        target = target[key]
    del target[leaf]
    return found


def _with(path: str, value: Any) -> dict[str, Any]:
    found = copy.deepcopy(EXAMPLE)
    *parents, leaf = path.split(".")
    target = found
    for key in parents:
        target = target[key]
    target[leaf] = value
    return found


@pytest.mark.parametrize(("payload", "field", "code"), [
    (_without("activity.name"), "name", "missing_field"),
    (_without("activity.actor"), "actor", "missing_field"),
    (_without("contact"), "contact", "missing_field"),
    (_with("priority", "high"), "priority", "invalid_field"),
    (_with("activity.actor.email", "r@example.com"), "email", "invalid_field"),
    (_with("activity.colour", "red"), "colour", "invalid_field"),
    (_with("activity.object.id", 1234), "id", "datatype_mismatch"),
    (_with("activity.context", "not an object"), "context", "datatype_mismatch"),
    (_with("activity.name", "x" * 256), "name", "invalid_value"),
    (_with("activity.timestamp", "2020-10-01 14:00"), "timestamp", "invalid_value"),
    (_with("activity.timestamp", "2020-10-01T14:00:00+02:00"), "timestamp", "invalid_value"),
    (_with("contact.phone", "+44 20 7946 0000"), "contact", "invalid_value"),
    (_with("contact", {}), "contact", "missing_field"),
    (_with("contact.email", "rachel(at)example.com"), "email", "invalid_value"),
], ids=["missing name", "missing actor", "missing contact", "unknown top-level field",
        "unknown actor field", "unknown activity field", "id as number", "context not object",
        "name too long", "timestamp not ISO", "timestamp not UTC", "two identifiers",
        "no identifier", "bad email"])
def test_invalid_body_is_400_with_field_error(sandbox: SandboxServer, payload: dict[str, Any],
                                              field: str, code: str) -> None:
    answer = post(sandbox, payload)

    assert answer.status_code == 400
    assert answer.json()["description"] == "Validation failed"
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in answer.json()["errors"]]
    assert sandbox.activities() == []


def test_validation_lists_every_problem_at_once(sandbox: SandboxServer) -> None:
    payload = _with("activity.actor.id", 7)
    payload["extra"] = True
    del payload["activity"]["source"]

    errors = post(sandbox, payload).json()["errors"]

    assert sorted((e.get("nested_field", e["field"]), e["code"]) for e in errors) == [
        ("activity.actor.id", "datatype_mismatch"),
        ("activity.source", "missing_field"),
        ("extra", "invalid_field"),
    ]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]"], ids=["broken", "empty", "list"])
def test_body_that_is_not_a_json_object_is_400_invalid_json(sandbox: SandboxServer,
                                                           raw: bytes) -> None:
    answer = httpx.post(sandbox.base_url + API, auth=AUTH, content=raw,
                        headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "invalid_json"


def test_every_answer_carries_rate_headers_and_429_says_when_to_retry(
        sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(rate_limit=3, window_seconds=1.5)

    ok = post(sandbox, EXAMPLE)
    invalid = post(sandbox, _without("activity.name"))
    unauthorised = post(sandbox, EXAMPLE, auth=("wrong", "X"))  # every call counts
    limited = post(sandbox, EXAMPLE)

    assert [a.status_code for a in (ok, invalid, unauthorised, limited)] == [200, 400, 401, 429]
    for answer in (ok, invalid, unauthorised, limited):
        assert all(name in answer.headers for name in RATE_HEADERS)
        assert answer.headers["X-RateLimit-Total"] == "3"
        assert answer.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    assert [a.headers["X-RateLimit-Remaining"] for a in (ok, invalid, unauthorised)] == \
        ["2", "1", "0"]
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] in ("1", "2")
    assert "message" in limited.json()
    assert "Retry-After" not in ok.headers
    assert len(sandbox.activities()) == 1


def test_rate_window_resets_after_window_seconds(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(rate_limit=2, window_seconds=1.0)
    assert [post(sandbox, EXAMPLE).status_code for _ in range(3)] == [200, 200, 429]

    time.sleep(1.05)
    again = post(sandbox, EXAMPLE)

    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "1"
    log = sandbox.requests()
    first_429 = next(r for r in log if r["status"] == 429)
    assert log[-1]["at"] - first_429["at"] >= 1.0


def test_error_rate_answers_error_status_and_stores_nothing(sandbox: SandboxServer) -> None:
    sandbox.set_faults(error_rate=1.0, error_status=502)

    answer = post(sandbox, EXAMPLE)

    assert answer.status_code == 502
    assert "message" in answer.json()
    assert all(name in answer.headers for name in RATE_HEADERS)
    assert sandbox.activities() == []
    faults = httpx.get(sandbox.base_url + "/_sandbox/faults").json()
    assert faults["injected"]["error"] == 1


def test_dropped_connection_is_a_transport_error_and_stores_nothing(
        sandbox: SandboxServer) -> None:
    httpx.post(sandbox.base_url + "/_sandbox/faults", json={"drop_rate": 1.0}).raise_for_status()

    with pytest.raises(httpx.TransportError):
        post(sandbox, EXAMPLE)

    assert sandbox.activities() == []
    assert sandbox.requests()[-1]["status"] is None


def test_slow_answer_takes_slow_seconds_then_is_handled(sandbox: SandboxServer) -> None:
    sandbox.set_faults(slow_rate=1.0, slow_seconds=0.4)

    started = time.monotonic()
    answer = post(sandbox, EXAMPLE)

    assert time.monotonic() - started >= 0.4
    assert answer.status_code == 200  # slow is not failed: a client that gave up duplicates
    assert len(sandbox.activities()) == 1


def test_script_is_consumed_in_order_and_faulted_requests_store_nothing(
        sandbox: SandboxServer) -> None:
    sandbox.set_faults(script=[{"status": 429, "retry_after": 2}, {"status": 500},
                               {"drop": True}, {"delay": 0.3}])

    limited = post(sandbox, EXAMPLE)
    failed = post(sandbox, EXAMPLE)
    with pytest.raises(httpx.TransportError):
        post(sandbox, EXAMPLE)
    started = time.monotonic()
    delayed = post(sandbox, EXAMPLE)
    delay = time.monotonic() - started
    normal = post(sandbox, EXAMPLE)

    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert failed.status_code == 500
    assert (delayed.status_code, normal.status_code) == (200, 200)
    assert delay >= 0.3
    assert [a["id"] for a in sandbox.activities()] == [delayed.json()["id"], normal.json()["id"]]
    assert [r["status"] for r in sandbox.requests()] == [429, 500, None, 200, 200]
    assert sandbox.faults()["injected"] == {
        "error": 1, "rate_limit": 1, "drop": 1, "slow": 0, "delay": 1}


def test_fault_settings_are_checked(sandbox: SandboxServer) -> None:
    answer = httpx.post(sandbox.base_url + "/_sandbox/faults", json={"eror_rate": 1})

    assert answer.status_code == 400
    assert "eror_rate" in answer.json()["message"]
    with pytest.raises(ValueError, match="script entry"):
        sandbox.set_faults(script=[{"status": 500, "drop": True}])


def test_seeded_faults_repeat(sandbox_factory: SandboxFactory) -> None:
    def statuses(sandbox: SandboxServer) -> list[int]:
        sandbox.set_faults(error_rate=0.5)
        return [post(sandbox, EXAMPLE).status_code for _ in range(12)]

    first, second = statuses(sandbox_factory(seed=7)), statuses(sandbox_factory(seed=7))

    assert first == second
    assert set(first) == {200, 503}


def test_reset_empties_the_account(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(rate_limit=1)
    post(sandbox, EXAMPLE)
    sandbox.set_faults(error_rate=1.0)

    httpx.post(sandbox.base_url + "/_sandbox/reset").raise_for_status()

    assert sandbox.activities() == [] and sandbox.requests() == []
    assert sandbox.faults()["error_rate"] == 0.0
    assert post(sandbox, EXAMPLE).status_code == 200  # the rate window started over
    assert httpx.get(sandbox.base_url + "/_sandbox/contacts").json()[0]["activities"] == 1


def test_timeline_shows_activities_newest_first_and_escaped(sandbox: SandboxServer) -> None:
    older = body(name="Order placed", timestamp="2020-10-01T13:00:00Z")
    newer = body(name="<script>alert(1)</script> refund", timestamp="2020-10-02T09:30:00Z")
    for payload in (newer, older):  # arrival order must not decide the timeline order
        assert post(sandbox, payload).status_code == 200

    index = httpx.get(sandbox.base_url + "/")
    assert index.status_code == 200 and "rachel@example.com" in index.text
    page = httpx.get(sandbox.base_url + "/contacts/1").text

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; refund" in page
    assert page.index("refund") < page.index("Order placed")
    assert "<details>" in page and "Item description" in page and "White Ace Sneakers" in page
    assert httpx.get(sandbox.base_url + "/contacts/99").status_code == 404


def test_slow_answer_after_the_client_gave_up_is_dropped_unprocessed(sandbox):
    """`slow` models a request queued in front of Freshdesk; a scripted `delay` models one that
    was processed while its answer came too late (the duplicate no client can prevent)."""
    sandbox.set_faults(slow_rate=1.0, slow_seconds=0.6)
    body = {"activity": {"name": "Held", "actor": {"id": "1", "name": "R", "type": "contact"},
                         "source": {"name": "s", "id": "1"}}, "contact": {"email": "held@example.com"}}
    with pytest.raises(httpx.TimeoutException):
        httpx.post(sandbox.base_url + "/api/v2/contact-activities", json=body,
                   auth=("sandbox-key", "X"), timeout=0.2)
    time.sleep(0.8)
    assert sandbox.activities() == []
    assert sandbox.requests()[-1]["fault"] == "slow_abandoned"

    sandbox.set_faults(slow_rate=0.0, script=[{"delay": 0.6}])
    with pytest.raises(httpx.TimeoutException):
        httpx.post(sandbox.base_url + "/api/v2/contact-activities", json=body,
                   auth=("sandbox-key", "X"), timeout=0.2)
    time.sleep(0.8)
    assert len(sandbox.activities()) == 1, "a delayed request is processed all the same"
    answered = [r for r in sandbox.requests() if r["status"] == 200]
    assert answered[-1]["client_gone"] is True, "its 200 reached no one, and the log says so"
