"""Cursor pagination: `?limit=&cursor=` -> `{items, next_cursor}`, in a stable order.

A cursor is the sort key of the last item returned, opaque to clients (URL-safe base64 of
JSON). Keyset pagination: the next page is "after this key", so inserts between calls
never shift or repeat items.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from huikuan_runtime.problems import InvalidInput

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page")
]


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def decode(cursor: str | None, size: int) -> list[Any] | None:
    """The key inside `cursor`, checked to be a list of `size` values; None for no cursor."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != size:
        raise invalid_cursor()
    return key


def invalid_cursor() -> InvalidInput:
    """The 422 for a cursor this list did not return (also for one whose values do not
    parse as the list's key)."""
    return InvalidInput(
        "cursor: not a cursor this list returned",
        errors=[{"field": "cursor", "message": "invalid cursor"}],
    )
