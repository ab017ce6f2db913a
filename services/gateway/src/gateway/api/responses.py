"""Documented error responses: every error is RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from huikuan_contracts.problems import ProblemDetails
from huikuan_runtime.problems import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    RateLimited,
    Unauthorized,
    UpstreamFailed,
    UpstreamUnavailable,
)

_DESCRIPTIONS = {
    400: "the body cannot be read (not UTF-8 JSON)",
    401: "missing or invalid credential",
    403: "the credential lacks the scope",
    404: "not found (or not the caller's)",
    409: "the id is taken by different content",
    422: "the request is not valid",
    429: "the key's rate limit for this scope is spent; see Retry-After",
    502: "a service behind the gateway failed to handle this request (its 5xx other than 503)",
    503: "a service behind the gateway is unavailable (down, not answering in time, or its 503)",
}


# One example per status, rendered by the same code that renders real problems.
_INSTANCE = "/v1/invoices/INV-2026-0001"
_EXAMPLES: dict[int, Problem] = {
    400: Problem("the body is not UTF-8 JSON"),
    401: Unauthorized("the API key is unknown or revoked"),
    403: Forbidden("this call needs the scope 'ledger:write'", required_scope="ledger:write"),
    404: NotFound("no invoice INV-2026-0001"),
    409: Conflict("invoice INV-2026-0001 exists with other content"),
    422: InvalidInput(
        "amount: CNY has 2 decimal places",
        errors=[{"field": "amount", "message": "CNY has 2 decimal places"}],
    ),
    429: RateLimited("this credential may make 100 'ledger:write' calls a second"),
    502: UpstreamFailed("the ledger service failed to handle this request (status 500)"),
    503: UpstreamUnavailable("the ledger service is unavailable"),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses (502 and 503 are always
    possible); the `/v1` router adds 400, 401, 403, 422 and 429 to every call."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {
                "application/problem+json": {
                    "schema": ProblemDetails.model_json_schema(),
                    "example": _EXAMPLES[status].body(instance=_INSTANCE),
                }
            },
        }
        for status in (*statuses, 502, 503)
    }
