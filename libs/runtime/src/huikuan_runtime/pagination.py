"""Cursor pagination: `?limit=&cursor=` -> `{items, next_cursor}`, in a stable order.

A cursor is the sort key of the last item returned, opaque to clients (URL-safe base64 of
JSON). Keyset pagination: the next page is "after this key", so inserts between calls
never shift or repeat items.

A list reads `limit + 1` rows after the cursor's key; `page` keeps `limit` of them and, when
the one more was there, makes the cursor of the next page from the last row kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from huikuan_runtime.problems import InvalidInput

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page")
]


Row = TypeVar("Row")


def page(
    rows: Sequence[Row], limit: int, key: Callable[[Row], list[Any]]
) -> tuple[list[Row], str | None]:
    """The first `limit` of `rows` (read as `limit + 1`) and the cursor of the next page:
    `key` of the last row kept, or None when there is no next page."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return items, encode(key(items[-1])) if more else None


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
