"""ok / warn / critical: each pipeline figure judged against a (warn, critical) pair.

The pairs are gateway settings (`GATEWAY_OPS_THRESHOLDS`, JSON, e.g.
`{"consumer_lag": [500, 50000]}`), merged over the defaults below. A figure at or above
`warn` is `warn`, at or above `critical` is `critical`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Status = Literal["ok", "warn", "critical"]
Limits = tuple[float, float]

_ORDER: dict[Status, int] = {"ok": 0, "warn": 1, "critical": 2}

DEFAULT_THRESHOLDS: dict[str, Limits] = {
    # records behind the end of one topic partition, per consumer group
    "consumer_lag": (1_000, 100_000),
    # events written but not yet published, per service
    "outbox_backlog": (1_000, 100_000),
    # seconds the oldest unpublished event has waited
    "outbox_age_seconds": (60, 600),
    # records on one dead-letter topic (kept until Kafka's retention drops them)
    "dead_letters": (1, 1_000),
    # reminders (the caller's tenant's) due now and not sent
    "reminders_due_unsent": (500, 5_000),
    "reminders_due_oldest_seconds": (900, 3_600),
    # reminders and webhook deliveries (judged separately) whose last attempt failed and
    # are being retried
    "deliveries_failing": (1, 50),
    # reminders and webhook deliveries given up on in the last 24 hours
    "deliveries_failed_24h": (1, 20),
}


def merged(overrides: Mapping[str, Limits]) -> dict[str, Limits]:
    """The defaults with `overrides` applied; ValueError names an unknown figure or a pair
    whose warn is above its critical."""
    unknown = sorted(set(overrides) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise ValueError(f"unknown ops thresholds {unknown}; known: {sorted(DEFAULT_THRESHOLDS)}")
    limits = {**DEFAULT_THRESHOLDS, **{k: (float(w), float(c)) for k, (w, c) in overrides.items()}}
    for name, (warn, critical) in limits.items():
        if warn < 0 or warn > critical:
            raise ValueError(f"ops threshold {name}: need 0 <= warn <= critical")
    return limits


def judge(value: float | None, limits: Limits | None) -> Status:
    """The status of one figure; no value or no limits is `ok`."""
    if value is None or limits is None:
        return "ok"
    warn, critical = limits
    if value >= critical:
        return "critical"
    if value >= warn:
        return "warn"
    return "ok"


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=_ORDER.__getitem__, default="ok")
