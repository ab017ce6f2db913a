"""Loading and saving a tenant's dunning policies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import InvalidInput, NotFound
from reminders.domain.policy import Policy, PolicyError, Step, in_force, validate_steps
from reminders.render import Renderer, TemplateProblem, sample_values, tenant_text
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


async def list_policies(pool: asyncpg.Pool, tenant: str) -> list[Policy]:
    """The policies in force for the tenant, by id."""
    async with pool.acquire() as conn:
        found = await policies(conn, tenant)
    return [p for _, p in sorted(found.items())]


async def get_policy(pool: asyncpg.Pool, tenant: str, policy_id: str) -> Policy:
    async with pool.acquire() as conn:
        found = await policies(conn, tenant)
    if policy_id not in found:
        raise NotFound(f"no dunning policy {policy_id!r}")
    return found[policy_id]


async def render_errors(renderer: Renderer, steps: Sequence[Step]) -> list[PolicyError]:
    """Each step's own templates tried on sample data: what cannot be rendered."""
    errors: list[PolicyError] = []
    for i, step in enumerate(steps):
        for lang in step.overrides:
            own = tenant_text(step, lang)
            if own is None:
                continue
            try:
                await renderer.render_tenant(*own, sample_values(step.name))
            except TemplateProblem as exc:
                where = f"steps.{i}.templates.{lang}.{exc.part or 'body'}"
                errors.append(PolicyError(where, exc.message))
    return errors


def _refuse(errors: Sequence[PolicyError]) -> None:
    if errors:
        raise InvalidInput(
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )


async def put(
    pool: asyncpg.Pool,
    renderer: Renderer,
    tenant: str,
    policy_id: str,
    grades: list[str],
    steps: list[Step],
    at: datetime,
) -> Policy:
    """A tenant's new version of a policy: validated, its own templates tried on sample
    data (outside any transaction), then saved. Invalid input is a 422, nothing written."""
    _refuse(validate_steps(steps, grades) or await render_errors(renderer, steps))
    async with unit_of_work(pool) as conn:
        return await save(conn, tenant, policy_id, grades, steps, at)


async def save(
    conn: asyncpg.Connection,
    tenant: str,
    policy_id: str,
    grades: list[str],
    steps: list[Step],
    at: datetime,
) -> Policy:
    """Validate and store a new version; invalid input is a 422 and nothing is written."""
    _refuse(validate_steps(steps, grades))
    ordered = sorted(steps, key=lambda s: s.offset_days)
    # A tenant's first edit of a shipped policy becomes version 1 (the shipped one is 0).
    version = await dunning.add_policy_version(
        conn, tenant, policy_id, grades, [step_to_json(s) for s in ordered], at, 1
    )
    return Policy(policy_id, version, tuple(grades), tuple(ordered))
