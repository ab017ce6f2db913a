"""One page of a keyset list: `limit` rows of the `limit + 1` read, and the cursor of the
next page only when the one more was there."""

from __future__ import annotations

import pytest

from huikuan_runtime import pagination
from huikuan_runtime.problems import InvalidInput


def _key(row: tuple[str, int]) -> list[object]:
    return [row[0], row[1]]


def test_the_row_beyond_the_limit_makes_the_cursor_of_the_last_row_kept() -> None:
    rows = [("a", 1), ("b", 2), ("c", 3)]
    items, cursor = pagination.page(rows, 2, _key)
    assert items == [("a", 1), ("b", 2)]
    assert cursor is not None and pagination.decode(cursor, 2) == ["b", 2]


@pytest.mark.parametrize("rows", [[], [("a", 1)], [("a", 1), ("b", 2)]])
def test_no_row_beyond_the_limit_is_the_last_page(rows: list[tuple[str, int]]) -> None:
    assert pagination.page(rows, 2, _key) == (rows, None)


def test_a_cursor_of_another_size_is_refused() -> None:
    _, cursor = pagination.page([("a", 1), ("b", 2)], 1, _key)
    with pytest.raises(InvalidInput):
        pagination.decode(cursor, 1)
