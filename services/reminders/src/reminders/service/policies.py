"""Loading and saving a tenant's dunning policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from huikuan_runtime.problems import InvalidInput
from reminders.domain.policy import Policy, Step, in_force, validate_steps
from reminders.store import dunning


def step_to_json(s: Step) -> dict[str, Any]:
    return {
        "name": s.name,
        "offset_days": s.offset_days,
        "channels": list(s.channels),
        "template": s.template,
        "action": s.action,
        "templates": {lang: dict(parts) for lang, parts in s.overrides.items()},
    }


def step_from_json(d: dict[str, Any]) -> Step:
    return Step(
        name=d["name"],
        offset_days=d["offset_days"],
        channels=tuple(d["channels"]),
        template=d["template"],
        action=d.get("action", "notify"),
        overrides={k: dict(v) for k, v in (d.get("templates") or {}).items()},
    )


def from_row(row: asyncpg.Record) -> Policy:
    steps = row["steps"]
    return Policy(
        row["policy_id"],
        row["version"],
        tuple(row["grades"]),
        tuple(step_from_json(s) for s in steps),
    )


async def policies(conn: asyncpg.Connection, tenant: str) -> dict[str, Policy]:
    """Every policy in force for the tenant: shipped defaults overlaid by its own versions."""
    return in_force(from_row(r) for r in await dunning.latest_policies(conn, tenant))


async def save(
    conn: asyncpg.Connection,
    tenant: str,
    policy_id: str,
    grades: list[str],
    steps: list[Step],
    at: datetime,
) -> Policy:
    """Validate and store a new version; invalid input is a 422 and nothing is written."""
    errors = validate_steps(steps, grades)
    if errors:
        raise InvalidInput(
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )
    ordered = sorted(steps, key=lambda s: s.offset_days)
    # A tenant's first edit of a shipped policy becomes version 1 (the shipped one is 0).
    version = await dunning.add_policy_version(
        conn, tenant, policy_id, grades, [step_to_json(s) for s in ordered], at, 1
    )
    return Policy(policy_id, version, tuple(grades), tuple(ordered))
