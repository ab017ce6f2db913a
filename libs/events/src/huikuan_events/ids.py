"""UUIDv7 identifiers (RFC 9562): time-ordered, so event ids sort by creation."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, version 7, variant 10, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=value)


# A hex digit of random bits -> the first digit of the fourth group: variant 10, then 2 of
# its random bits.
_VARIANT_DIGIT = str.maketrans("0123456789abcdef", "89ab89ab89ab89ab")


def uuid7_texts(count: int, unix_ms: int | None = None) -> list[str]:
    """`count` UUIDv7s of one millisecond (as `uuid7`), in their canonical text form, from
    one read of the random source: for writing many events at once, where the text is what
    is needed (a query parameter, JSON) and a `uuid.UUID` each would cost more than the
    rest of the id."""
    ms = (time.time_ns() // 1_000_000 if unix_ms is None else unix_ms) & 0xFFFF_FFFF_FFFF
    head = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"
    digits = os.urandom(10 * count).hex()  # 20 random hex digits per id, 19 used
    variants = digits[3::20].translate(_VARIANT_DIGIT)
    return [
        f"{head}{digits[k : k + 3]}-{variants[i]}{digits[k + 4 : k + 7]}-{digits[k + 7 : k + 19]}"
        for i, k in enumerate(range(0, 20 * count, 20))
    ]
