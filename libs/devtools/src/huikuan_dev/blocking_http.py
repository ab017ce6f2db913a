"""A tiny blocking JSON-over-HTTP client for set-up scripts (no event loop needed): the
stack runner's readiness polls and the demo book. httpx's blocking API, the product's one
HTTP client library."""

from __future__ import annotations

import json
from typing import Any

import httpx

TIMEOUT_SECONDS = 180.0


def http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Send `body` as JSON (if any) and return the status and the parsed answer (None when
    empty), whatever the status. A call that could not be made (refused, reset, timed out)
    raises ConnectionError, an OSError as callers polling a starting server expect."""
    try:
        response = httpx.request(method, url, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.TransportError as exc:
        raise ConnectionError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    raw = response.content
    return response.status_code, json.loads(raw) if raw else None
