"""Documented error responses: every error is RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from huikuan_runtime.problems import ProblemDetails

_DESCRIPTIONS = {
    400: "the body cannot be read (not UTF-8 JSON)",
    401: "missing or invalid credential",
    403: "the credential lacks the scope",
    404: "not found (or not the caller's)",
    409: "the id is taken by different content",
    422: "the request is not valid",
    429: "the key's rate limit for this scope is spent; see Retry-After",
    503: "a service behind the gateway is unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses (503 is always possible);
    the `/v1` router adds 400, 401, 403, 422 and 429 to every call."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": ProblemDetails.model_json_schema()}},
        }
        for status in (*statuses, 503)
    }
