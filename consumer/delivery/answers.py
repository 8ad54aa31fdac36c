"""What Freshdesk's answers (and the network's failures) mean: the contract's table, in one place.

Every attempt ends as a :class:`Reply` whose :class:`Answer` is one of six, each a different
thing to do (consumer.delivery.attempt decides; shared/freshdesk-contract.md is the source):

- DELIVERED (2xx): on the timeline;
- REJECTED (400, 409, 413, 422, other permanent 4xx): this body cannot succeed: dead-letter;
- THROTTLED (429): the account's budget is spent for ``retry_after``: wait, never dead-letter;
- TRANSIENT (500, 408, a timeout or a dropped connection after the request left, an answer over
  its caps): may be this body's, may be the account's: retried, and when every recent call of
  the account fails the same way it counts as UNAVAILABLE (consumer.delivery.account);
- UNAVAILABLE (refused, DNS, TLS handshake, connect timeout, the proxy unreachable, 502/503/504):
  never the message's: retried without counting against it; when every call of the account
  fails, the account's state: delivery waits and probes, nothing is dead-lettered;
- HALT (401/403/404, a redirect, a proxy refusing our credentials): our configuration is wrong:
  stop everything until a probe succeeds.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDict, CIMultiDictProxy

from consumer.config import RetrySettings

__all__ = ["BODY_KEEP", "Answer", "Reply", "classify", "halt_class", "halt_reason"]

BODY_KEEP = 2048  # enough of an error body for a dead letter, never a whole page
_UNAVAILABLE_STATUSES = frozenset({502, 503, 504})  # a gateway's word for "the service is down"
_RETRY_STATUSES = RetrySettings().statuses  # one source: the config default


class Answer(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    UNAVAILABLE = "unavailable"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class Reply:
    answer: Answer
    status: int | None  # None when no HTTP answer came (timeout, connection error)
    detail: str  # the response body (trimmed) or the transport error
    retry_after: float | None = None
    budget_total: int | None = None
    budget_remaining: int | None = None
    budget_used: int | None = None  # X-RateLimit-Used-CurrentRequest: what this call cost
    # False only when we know the request never left (the connection could not be made): then
    # nothing can be on the timeline. A timeout or a dropped connection may have been stored.
    sent: bool = True
    cause: str = ""  # why it was not delivered, in a word (a metric label): see failure_cause
    location: str | None = None  # a redirect's Location


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def classify(status: int, headers: Mapping[str, str], body: str,
             retry_statuses: frozenset[int] = _RETRY_STATUSES) -> Reply:
    """Map an HTTP answer to what the consumer must do about it (the contract's table).
    ``headers`` is read case-insensitively (a plain dict is copied into a CIMultiDict)."""
    if not isinstance(headers, (CIMultiDictProxy, CIMultiDict)):
        headers = CIMultiDict(headers)
    total = _int_header(headers, "X-RateLimit-Total")
    remaining = _int_header(headers, "X-RateLimit-Remaining")
    used = _int_header(headers, "X-RateLimit-Used-CurrentRequest")
    detail = body[:BODY_KEEP]
    location = None
    if 200 <= status < 300:
        answer, cause = Answer.DELIVERED, ""
    elif status == 429:
        retry_after = _int_header(headers, "Retry-After")
        # Freshdesk always sends Retry-After with a 429; if a proxy ate it, a minute is the
        # longest a per-minute window can make us wait.
        wait = float(retry_after) if retry_after is not None and retry_after >= 0 else 60.0
        return Reply(Answer.THROTTLED, status, detail, wait, total, remaining, used, cause="throttled")
    elif status in (401, 403, 404) or 300 <= status < 400:
        answer, cause = Answer.HALT, halt_class(status)
        location = headers.get("Location") if status >= 300 and status < 400 else None
    elif status in _UNAVAILABLE_STATUSES:
        answer, cause = Answer.UNAVAILABLE, "server_error"
    elif status in retry_statuses:
        answer, cause = Answer.TRANSIENT, "server_error"
    else:  # 400, 409, 413, 415, 422, 501, …: sending the same body again cannot succeed
        answer, cause = Answer.REJECTED, "rejected"
    return Reply(answer, status, detail, None, total, remaining, used, cause=cause,
                 location=location)


def halt_class(status: int | None) -> str:
    """The ``halted`` metric's reason label."""
    if status is not None and 300 <= status < 400:
        return "redirect"
    return {401: "unauthorized", 403: "forbidden", 404: "not_found",
            407: "proxy_auth"}.get(status or 0, "not_found")


def halt_reason(reply: Reply) -> str:
    """What is wrong and what to change, for the log, readiness and the halted metric's users."""
    status = reply.status or 0
    if 300 <= status < 400:
        return (f"Freshdesk answered {status} redirecting to {reply.location or '(no Location)'}: "
                "the account's address has changed (a renamed account, http→https); set "
                "freshdesk.domain or freshdesk.base_url to where it points")
    if status == 407:
        return ("the proxy refused our credentials (407 Proxy Authentication Required); fix the "
                "user and password in freshdesk.proxy or HTTPS_PROXY")
    what = {401: "the API key is wrong (401 invalid_credentials)",
            403: "the API key's agent may not post activities, or the feature is off (403)",
            404: "wrong Freshdesk domain or path (404)"}.get(
        status, f"status {reply.status}" if reply.status is not None else reply.detail)
    return f"{what}; fix freshdesk.api_key / freshdesk.domain"
