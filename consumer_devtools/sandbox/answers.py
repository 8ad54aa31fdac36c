"""The bodies Freshdesk answers with, word for word where its docs give them."""

from __future__ import annotations

from typing import Any

from consumer_devtools.sandbox.validation import FieldError

INVALID_CREDENTIALS = {"code": "invalid_credentials",
                       "message": "You have to be logged in to perform this action."}
ACCESS_DENIED = {"code": "access_denied",
                 "message": "You are not authorized to perform this action."}


def invalid_content_type(sent: str | None) -> dict[str, str]:
    return {"code": "invalid_content_type",
            "message": f"Content-Type header is set to {sent or 'nothing'}. "
                       f"It should be set to application/json"}


def validation_failed(errors: list[FieldError]) -> dict[str, Any]:
    return {"description": "Validation failed", "errors": errors}


def invalid_json(reason: str) -> dict[str, Any]:
    return validation_failed([{"field": "body", "message": reason, "code": "invalid_json"}])


def rate_limited(limit: int, window_seconds: float, retry_after: int) -> dict[str, str]:
    return {"code": "rate_limit_exceeded",
            "message": f"You have exceeded the limit of {limit} requests per "
                       f"{window_seconds:g} seconds. Retry after {retry_after} seconds."}


def injected(status: int) -> dict[str, Any]:
    """The body for a fault-injected status: Freshdesk's own for the statuses it defines,
    so a consumer cannot tell an injected 401 from a real one."""
    if status == 401:
        return INVALID_CREDENTIALS
    if status == 403:
        return ACCESS_DENIED
    if status == 404:
        return {"code": "not_found", "message": "Requested resource not found"}
    if status == 400:
        return validation_failed([{"field": "body", "message": "Injected by the sandbox",
                                   "code": "invalid_value"}])
    return {"code": "sandbox_fault",
            "message": f"Injected HTTP {status} from the Freshdesk sandbox"}
