"""UUIDv7 (RFC 9562): version and variant bits, millisecond timestamp, ordering by time."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from huikuan_events import uuid7, uuid7_texts

MAX_MS = 2**48 - 1
millis = st.integers(min_value=0, max_value=MAX_MS)


@given(millis)
def test_version_and_variant_bits(ms: int) -> None:
    value = uuid7(ms)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert (value.int >> 76) & 0xF == 0x7
    assert (value.int >> 62) & 0b11 == 0b10


@given(millis)
def test_timestamp_is_the_top_48_bits(ms: int) -> None:
    assert uuid7(ms).int >> 80 == ms


@given(millis, millis)
def test_ids_sort_by_their_millisecond(a: int, b: int) -> None:
    first, second = uuid7(a), uuid7(b)
    if a < b:
        assert first < second
        assert str(first) < str(second)  # the text form sorts the same way
    elif a > b:
        assert first > second


def test_default_timestamp_is_now() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_are_unique_within_one_millisecond() -> None:
    ids = {uuid7(1_700_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000


def test_ids_made_later_sort_later() -> None:
    earlier = uuid7()
    start = time.monotonic_ns()
    while (later := uuid7()).int >> 80 == earlier.int >> 80:
        assert time.monotonic_ns() - start < 1_000_000_000, "clock did not advance"
    assert earlier < later


@given(millis, st.integers(min_value=0, max_value=50))
def test_texts_are_uuid7s_of_one_millisecond(ms: int, count: int) -> None:
    texts = uuid7_texts(count, ms)
    assert len(texts) == count
    for text in texts:
        value = uuid.UUID(text)
        assert str(value) == text  # the canonical form
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert value.int >> 80 == ms


def test_texts_are_unique_and_now_by_default() -> None:
    before = time.time_ns() // 1_000_000
    texts = uuid7_texts(10_000)
    after = time.time_ns() // 1_000_000
    assert len(set(texts)) == 10_000
    assert all(before <= uuid.UUID(t).int >> 80 <= after for t in texts)
