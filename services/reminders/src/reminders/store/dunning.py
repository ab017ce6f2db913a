"""SQL for policies, the scheduler's claims, steps taken, reminders and their deliveries,
promises to pay and collector tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from huikuan_runtime.db import xact_lock

# --- policies -----------------------------------------------------------------------------


async def latest_policies(conn: asyncpg.Connection, tenant: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT DISTINCT ON (policy_id) policy_id, version, grades, steps, created_at
           FROM dunning_policy WHERE tenant = $1 ORDER BY policy_id, version DESC""",
        tenant,
    )
    return rows


async def policy_version(
    conn: asyncpg.Connection, tenant: str, policy_id: str, version: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT policy_id, version, grades, steps, created_at FROM dunning_policy
           WHERE tenant = $1 AND policy_id = $2 AND version = $3""",
        tenant,
        policy_id,
        version,
    )


async def add_policy_version(
    conn: asyncpg.Connection,
    tenant: str,
    policy_id: str,
    grades: list[str],
    steps: list[dict[str, Any]],
    at: datetime,
    first_version: int,
) -> int:
    """Store the next version (serialised per policy by an advisory lock)."""
    await xact_lock(conn, f"{tenant}/{policy_id}")
    version: int = await conn.fetchval(
        """INSERT INTO dunning_policy (tenant, policy_id, version, grades, steps, created_at)
           SELECT $1, $2, GREATEST(COALESCE(max(version), 0), $6) + 1, $3, $4::jsonb, $5
           FROM dunning_policy WHERE tenant = $1 AND policy_id = $2
           RETURNING version""",
        tenant,
        policy_id,
        grades,
        steps,
        at,
        first_version - 1,
    )
    return version


# --- steps taken --------------------------------------------------------------------------


async def taken_steps(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> set[tuple[str, int, str]]:
    """Every (invoice, cycle, step) the customer's invoices have taken."""
    rows = await conn.fetch(
        """SELECT x.invoice_id, x.cycle, x.step
           FROM step_taken t
           CROSS JOIN LATERAL unnest(t.invoice_ids, t.cycles, t.steps)
               AS x(invoice_id, cycle, step)
           WHERE t.tenant = $1 AND t.customer_id = $2""",
        tenant,
        customer_id,
    )
    return {(r["invoice_id"], r["cycle"], r["step"]) for r in rows}


# --- reminders ----------------------------------------------------------------------------


async def claim_pending(
    conn: asyncpg.Connection, at: datetime, tenant: str | None = None
) -> asyncpg.Record | None:
    """One pending reminder due for an attempt that no other deliverer holds, with the
    customer's name (for its text) and when its tenant's channel settings last changed
    (`settings_updated_at`, null: none of its own)."""
    return await conn.fetchrow(
        """SELECT r.*, ct.name AS customer_name, cs.updated_at AS settings_updated_at
           FROM reminder r
           LEFT JOIN contact ct ON ct.tenant = r.tenant AND ct.customer_id = r.customer_id
           LEFT JOIN channel_settings cs ON cs.tenant = r.tenant
           WHERE r.status = 'pending' AND r.next_attempt_at <= $1
             AND ($2::text IS NULL OR r.tenant = $2)
           ORDER BY r.next_attempt_at, r.reminder_id LIMIT 1 FOR UPDATE OF r SKIP LOCKED""",
        at,
        tenant,
    )


async def log_attempt(
    conn: asyncpg.Connection, reminder_id: UUID, attempt: int, at: datetime, error: str | None
) -> None:
    await conn.execute(
        """INSERT INTO delivery_attempt (reminder_id, attempt, at, ok, error)
           VALUES ($1, $2, $3, $4, $5)""",
        reminder_id,
        attempt,
        at,
        error is None,
        error,
    )


async def finish_reminder(
    conn: asyncpg.Connection,
    reminder_id: UUID,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    error: str | None,
    sent_at: datetime | None,
    text: tuple[str, str] | None = None,
) -> None:
    """Record an attempt's outcome, and the text it sent when given (kept once set)."""
    await conn.execute(
        """UPDATE reminder SET status = $2, attempts = $3, next_attempt_at = $4,
                  last_error = $5, sent_at = $6,
                  subject = coalesce(subject, $7), body = coalesce(body, $8)
           WHERE reminder_id = $1""",
        reminder_id,
        status,
        attempts,
        next_attempt_at,
        error,
        sent_at,
        text[0] if text else None,
        text[1] if text else None,
    )


async def list_reminders(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A page of reminders in (created_at, reminder_id) order, after the key `after`, with
    the customer's name (for the text of those not yet delivered)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT r.*, ct.name AS customer_name
           FROM reminder r
           LEFT JOIN contact ct ON ct.tenant = r.tenant AND ct.customer_id = r.customer_id
           WHERE r.tenant = $1 AND ($2::text IS NULL OR r.customer_id = $2)
             AND ($3::text IS NULL OR r.status = $3)
             AND ($4::timestamptz IS NULL OR (r.created_at, r.reminder_id) > ($4, $5::uuid))
           ORDER BY r.created_at, r.reminder_id LIMIT $6""",
        tenant,
        customer_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return rows


async def attempts_of(conn: asyncpg.Connection, reminder_ids: list[UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM delivery_attempt WHERE reminder_id = ANY($1::uuid[])
           ORDER BY reminder_id, attempt""",
        reminder_ids,
    )
    return rows


# --- promises -----------------------------------------------------------------------------


async def add_promise(conn: asyncpg.Connection, **row: Any) -> bool:
    cols = list(row)
    placeholders = ", ".join(f"${i + 1}" for i in range(len(cols)))
    done = await conn.fetchval(
        f"""INSERT INTO promise ({", ".join(cols)}) VALUES ({placeholders})
            ON CONFLICT (tenant, promise_id) DO NOTHING RETURNING true""",
        *row.values(),
    )
    return bool(done)


async def promise(conn: asyncpg.Connection, tenant: str, promise_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM promise WHERE tenant = $1 AND promise_id = $2", tenant, promise_id
    )


async def promises(
    conn: asyncpg.Connection, tenant: str, customer_id: str, *, open_only: bool = False
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM promise WHERE tenant = $1 AND customer_id = $2
             AND (NOT $3 OR status = 'open')
           ORDER BY made_on, promise_id""",
        tenant,
        customer_id,
        open_only,
    )
    return rows


async def pay_promises(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    invoice_id: str,
    currency: str,
    amount_minor: int,
    applied_on: date,
) -> list[asyncpg.Record]:
    """Count money applied in time to a promised invoice; the promises it touched."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """UPDATE promise SET paid_minor = paid_minor + $5
           WHERE tenant = $1 AND customer_id = $2 AND status = 'open' AND currency = $4
             AND $3 = ANY(invoice_ids) AND made_on <= $6
             AND $6 <= promised_date + grace_days
           RETURNING *""",
        tenant,
        customer_id,
        invoice_id,
        currency,
        amount_minor,
        applied_on,
    )
    return rows


async def judge_promise(
    conn: asyncpg.Connection, tenant: str, promise_id: str, status: str, on: date
) -> None:
    await conn.execute(
        """UPDATE promise SET status = $3, judged_on = $4
           WHERE tenant = $1 AND promise_id = $2 AND status = 'open'""",
        tenant,
        promise_id,
        status,
        on,
    )


# --- tasks --------------------------------------------------------------------------------


async def worklist(
    conn: asyncpg.Connection, tenant: str, owner: str | None, on: date
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM task WHERE tenant = $1 AND status = 'open' AND due_on <= $3
             AND ($2::text IS NULL OR owner = $2)
           UNION ALL
           SELECT * FROM task WHERE tenant = $1 AND status = 'open' AND due_on <= $3
             AND $2::text IS NOT NULL AND escalated_to = $2 AND owner IS DISTINCT FROM $2""",
        tenant,
        owner,
        on,
    )
    return rows


async def task_for_update(
    conn: asyncpg.Connection, tenant: str, task_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM task WHERE tenant = $1 AND task_id = $2 FOR UPDATE", tenant, task_id
    )


async def complete_task(
    conn: asyncpg.Connection, task_id: UUID, outcome: str, note: str | None, on: date
) -> None:
    await conn.execute(
        """UPDATE task SET status = 'done', outcome = $2, note = $3, completed_on = $4
           WHERE task_id = $1""",
        task_id,
        outcome,
        note,
        on,
    )


async def relock(conn: asyncpg.Connection, reminder_id: UUID, attempts: int) -> bool:
    """Take a pending reminder again after its delivery rolled back: true when it is still
    pending with `attempts` attempts and no other deliverer holds it."""
    found = await conn.fetchval(
        """SELECT 1 FROM reminder
           WHERE reminder_id = $1 AND status = 'pending' AND attempts = $2
           FOR UPDATE SKIP LOCKED""",
        reminder_id,
        attempts,
    )
    return found is not None
