"""Outbound webhooks, the pure part: which events a subscription wants, which secrets sign
a delivery (the signing itself is `huikuan_runtime.webhook_signing`, Standard Webhooks),
when a failed one is tried again and when it is given up, which URLs are accepted.

No I/O and no clock: every time-dependent function takes `now`.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from huikuan_runtime import webhook_signing

ALL_EVENTS = "*"
MAX_URL_LENGTH = 2048

DeliveryState = Literal["pending", "delivered", "failed"]


def wants(event_types: Sequence[str], event_type: str) -> bool:
    """Does a subscription to `event_types` (`*` is every type) want `event_type`?"""
    return ALL_EVENTS in event_types or event_type in event_types


def normalise_event_types(requested: Iterable[str], known: Iterable[str]) -> list[str]:
    """The requested types, sorted and without repeats; `*` alone when `*` is among them.
    ValueError names the types that are not `known`."""
    wanted = set(requested)
    if not wanted:
        raise ValueError("name at least one event type, or '*' for all")
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    unknown = sorted(wanted - set(known))
    if unknown:
        raise ValueError(f"unknown event types {unknown}")
    return sorted(wanted)


def headers(delivery_id: str, keys: Sequence[str], timestamp: int, body: bytes) -> dict[str, str]:
    """The delivery's headers: the Standard Webhooks ones (`webhook-id` is the delivery's
    id, the same on every retry of it) with one signature per secret in `keys`
    (space-separated, the current secret's first) — two while a rotation overlaps."""
    return {
        "Content-Type": "application/cloudevents+json",
        **webhook_signing.headers(delivery_id, keys, timestamp, body),
    }


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets a delivery at `now` is signed with: the current one, and the one it
    replaced while the rotation's overlap lasts (until `previous_until`, excluded)."""
    if previous is not None and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n (1-based) failed -> wait between half and
    all of `min(cap, base * 2 ** (n - 1))`; a delivery older than `max_age` is given up."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, jitter: float) -> timedelta:
        """`jitter` in [0, 1] (random in production, fixed in tests)."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        ceiling: timedelta = min(self.cap, self.base * 2 ** min(attempts - 1, 30))
        return ceiling * (0.5 + 0.5 * jitter)

    def after_failure(
        self, created_at: datetime, attempts: int, now: datetime, jitter: float
    ) -> datetime | None:
        """When to try again after attempt `attempts` failed at `now`; None: give up. The
        last try is at the end of the window, not past it."""
        deadline = created_at + self.max_age
        if now >= deadline:
            return None
        return min(now + self.delay(attempts, jitter), deadline)


def jitter() -> float:
    return random.random()


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None when it can: an absolute http(s) URL
    with a host, no credentials in it and no fragment."""
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs can receive webhooks"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not accepted; verify the signature instead"
    if parts.fragment:
        return "a URL with a fragment (#...) is not accepted"
    if port == 0:
        return "port 0 is not a port"
    if not _valid_host(host):
        return f"{host!r} is not a host name or an IP address"
    return None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and all(c.isalnum() or c == "-" for c in label)
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )
