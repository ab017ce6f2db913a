"""The lists the run's statement returns flattened (`store.runs.Slices`): read back as the
lists they were, whole or by window, without building them all."""

from __future__ import annotations

import pytest

from reminders.store.runs import Slices

LISTS = [["a", "b"], [], ["c"], ["d", "e", "f"]]


def _slices() -> Slices:
    return Slices([x for lst in LISTS for x in lst], [len(lst) for lst in LISTS])


def test_the_lists_come_back_as_they_were() -> None:
    s = _slices()
    assert len(s) == 4 and list(s) == LISTS
    assert s[0] == ["a", "b"] and s[-1] == ["d", "e", "f"] and s[1:3] == [[], ["c"]]
    assert s[::2] == [["a", "b"], ["c"]] and s.lengths() == [2, 0, 1, 3]
    with pytest.raises(IndexError):
        s[4]


def test_a_window_is_a_range_of_them() -> None:
    w = _slices().window(1, 4)
    assert len(w) == 3 and list(w) == LISTS[1:]
    assert w[0] == [] and w[-1] == ["d", "e", "f"] and w[1:] == LISTS[2:]
    assert w.lengths() == [0, 1, 3] and list(w.window(1, 2)) == [["c"]]


def test_items_and_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="3 items for lists of 4"):
        Slices(["a", "b", "c"], [2, 2])
