"""SQL of the dunning run: claiming a chunk of customers, what the chunk needs read in bulk,
and the one set-based statement that places every open invoice of the chunk at its step and
records the steps taken, the consolidated reminders and the collector tasks.

The policies travel as parameters (`StepTable`): one row per step of every policy in force
for the chunk, keyed by a small integer the caller gives each policy. A customer's step is
found with `width_bucket(days past due, the policy's offsets)` (the offsets ascend: a saved
policy is sorted), which is `domain.dunning.step_index` done by the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

import asyncpg

# A UUIDv7 made by the database: 48 bits of Unix milliseconds over a random v4, version 7.
_UUID7 = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
    FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"""


@dataclass(slots=True)
class StepTable:
    """Every step of every policy in force, as columns (the statement unnests them)."""

    pkey: list[int] = field(default_factory=list)
    idx: list[int] = field(default_factory=list)  # 1-based, in offset order
    name: list[str] = field(default_factory=list)
    offset_days: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # message channels, comma-joined
    tasks: list[str] = field(default_factory=list)  # task kinds, comma-joined
    action: list[str] = field(default_factory=list)
    policy_id: list[str] = field(default_factory=list)
    version: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Chunk:
    """The customers of a chunk to decide for: each with its policy key and its date."""

    tenant: list[str] = field(default_factory=list)
    customer_id: list[str] = field(default_factory=list)
    pkey: list[int] = field(default_factory=list)
    on: list[date] = field(default_factory=list)


async def claim_customers(
    conn: asyncpg.Connection, tenant: str | None, after: tuple[str, str], limit: int
) -> list[asyncpg.Record]:
    """Customers with something open, after the cursor, that no other run holds: their
    rows stay locked until the caller's transaction ends (FOR UPDATE SKIP LOCKED)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.tenant, c.customer_id, c.grade, c.pinned_policy, c.paused_until,
                  ct.timezone, ct.country
           FROM dunning_customer c
           LEFT JOIN contact ct ON ct.tenant = c.tenant AND ct.customer_id = c.customer_id
           WHERE ($1::text IS NULL OR c.tenant = $1) AND (c.tenant, c.customer_id) > ($2, $3)
             AND (EXISTS (SELECT 1 FROM chased_invoice i
                          WHERE i.tenant = c.tenant AND i.customer_id = c.customer_id
                            AND i.residual_minor > 0 AND NOT i.closed)
                  OR EXISTS (SELECT 1 FROM promise p
                             WHERE p.tenant = c.tenant AND p.customer_id = c.customer_id
                               AND p.status = 'open'))
           ORDER BY c.tenant, c.customer_id
           LIMIT $4
           FOR UPDATE OF c SKIP LOCKED""",
        tenant, after[0], after[1], limit,
    )  # fmt: skip
    return rows


async def open_promises_of(
    conn: asyncpg.Connection, tenants: list[str], customer_ids: list[str]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT p.* FROM unnest($1::text[], $2::text[]) AS k(tenant, customer_id)
           JOIN promise p ON p.tenant = k.tenant AND p.customer_id = k.customer_id
           WHERE p.status = 'open'
           ORDER BY p.tenant, p.customer_id, p.made_on, p.promise_id""",
        tenants, customer_ids,
    )  # fmt: skip
    return rows


async def break_promises(
    conn: asyncpg.Connection, tenants: list[str], promise_ids: list[str], on: list[date]
) -> None:
    """Mark open promises broken and move their invoices one step forward, in bulk."""
    await conn.execute(
        """WITH broken AS (
               UPDATE promise p SET status = 'broken', judged_on = x.on_date
               FROM unnest($1::text[], $2::text[], $3::date[]) AS x(tenant, promise_id, on_date)
               WHERE p.tenant = x.tenant AND p.promise_id = x.promise_id AND p.status = 'open'
               RETURNING p.tenant, p.invoice_ids)
           UPDATE chased_invoice i SET escalate = i.escalate + b.n
           FROM (SELECT tenant, invoice_id, count(*)::int AS n
                 FROM broken, unnest(invoice_ids) AS invoice_id
                 GROUP BY tenant, invoice_id) b
           WHERE i.tenant = b.tenant AND i.invoice_id = b.invoice_id""",
        tenants, promise_ids, on,
    )  # fmt: skip


async def open_tasks_due_before(
    conn: asyncpg.Connection, tenants: list[str], customer_ids: list[str], before: date
) -> list[asyncpg.Record]:
    """Open, not yet escalated tasks of these customers dated before `before`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT t.task_id, t.tenant, t.customer_id, t.kind, t.owner, t.step, t.due_on,
                  t.invoice_ids
           FROM unnest($1::text[], $2::text[]) AS k(tenant, customer_id)
           JOIN task t ON t.tenant = k.tenant AND t.customer_id = k.customer_id
           WHERE t.status = 'open' AND t.escalated_on IS NULL AND t.due_on < $3
           ORDER BY t.tenant, t.customer_id, t.due_on, t.task_id""",
        tenants, customer_ids, before,
    )  # fmt: skip
    return rows


async def mark_escalated(conn: asyncpg.Connection, task_ids: list[UUID], on: list[date]) -> None:
    await conn.execute(
        """UPDATE task t SET escalated_on = x.on_date
           FROM unnest($1::uuid[], $2::date[]) AS x(task_id, on_date)
           WHERE t.task_id = x.task_id""",
        task_ids, on,
    )  # fmt: skip


_DECIDE = f"""
WITH cust AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::date[])
        AS c(tenant, customer_id, pkey, on_date)
), step AS (
    SELECT * FROM unnest($5::int[], $6::int[], $7::text[], $8::int[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::int[])
        AS s(pkey, idx, name, offset_days, messages, tasks, action, policy_id, version)
), pol AS (
    SELECT pkey, array_agg(offset_days ORDER BY idx) AS offsets, count(*)::int AS n
    FROM step GROUP BY pkey
), placed AS (
    -- Open, undisputed invoices not held by an open promise (until its date + grace),
    -- with the index of the latest step reached (0: none yet).
    SELECT i.tenant, i.customer_id, i.invoice_id, i.number, i.due_date, i.currency,
           i.residual_minor, i.cycle, i.escalate, c.pkey, c.on_date, p.n,
           width_bucket(c.on_date - i.due_date, p.offsets) AS reached
    FROM cust c
    JOIN pol p ON p.pkey = c.pkey
    JOIN chased_invoice i ON i.tenant = c.tenant AND i.customer_id = c.customer_id
    WHERE i.residual_minor > 0 AND NOT i.closed AND NOT i.disputed
      AND NOT EXISTS (
          SELECT 1 FROM promise pr
          WHERE pr.tenant = i.tenant AND pr.customer_id = i.customer_id
            AND pr.status = 'open' AND c.on_date <= pr.promised_date + pr.grace_days
            AND i.invoice_id = ANY (pr.invoice_ids))
), due AS (
    -- At a step (moved forward by escalations, capped at the last) not taken in its cycle.
    SELECT pl.*, s.idx, s.name AS step
    FROM placed pl
    JOIN step s ON s.pkey = pl.pkey AND s.idx = LEAST(pl.reached + pl.escalate, pl.n)
    WHERE pl.reached > 0
      AND NOT EXISTS (
          SELECT 1 FROM invoice_step t
          WHERE t.tenant = pl.tenant AND t.invoice_id = pl.invoice_id
            AND t.cycle = pl.cycle AND t.step = s.name)
), taken AS (
    INSERT INTO invoice_step (tenant, invoice_id, cycle, step, taken_on)
    SELECT tenant, invoice_id, cycle, step, on_date FROM due
    ON CONFLICT DO NOTHING
), cur AS (
    SELECT * FROM unnest($14::text[], $15::int[]) AS x(currency, e)
), grouped AS (
    -- One consolidated due per customer, step and currency; invoices by due date, id.
    SELECT d.tenant, d.customer_id, d.pkey, d.idx, d.step, d.currency, d.on_date,
           count(*)::int AS n_invoices, sum(d.residual_minor)::bigint AS residual_minor,
           max(d.on_date - d.due_date) AS overdue,
           array_agg(d.invoice_id ORDER BY d.due_date, d.invoice_id COLLATE "C") AS invoice_ids,
           string_agg(d.invoice_id || '@' || d.cycle, ','
                      ORDER BY d.due_date, d.invoice_id COLLATE "C") AS parts,
           jsonb_agg(jsonb_build_object(
                         'invoice_id', d.invoice_id, 'number', d.number,
                         'due_date', d.due_date,
                         'residual', round(d.residual_minor::numeric
                                           / 10::numeric ^ coalesce(x.e, 2),
                                           coalesce(x.e, 2))::text)
                     ORDER BY d.due_date, d.invoice_id COLLATE "C") AS invoices
    FROM due d LEFT JOIN cur x ON x.currency = d.currency
    GROUP BY d.tenant, d.customer_id, d.pkey, d.idx, d.step, d.currency, d.on_date
), rem AS (
    INSERT INTO reminder (reminder_id, tenant, customer_id, idempotency_key, policy_id,
                          policy_version, step, channel, recipient, language, invoices,
                          currency, residual_minor, as_of, next_attempt_at, created_at)
    SELECT {_UUID7}, g.tenant, g.customer_id,
           encode(sha256(convert_to(g.tenant || '|' || g.customer_id || '|' || g.step || ':'
                                    || g.currency || ':' || g.parts || '|' || ch, 'UTF8')),
                  'hex'),
           s.policy_id, s.version, g.step, ch,
           CASE ch WHEN 'email' THEN ct.email WHEN 'sms' THEN ct.phone END,
           CASE WHEN lower(coalesce(ct.language, '')) LIKE 'en%' THEN 'en' ELSE 'zh' END,
           g.invoices, g.currency, g.residual_minor, g.on_date, $16, $16
    FROM grouped g
    JOIN step s ON s.pkey = g.pkey AND s.idx = g.idx
    CROSS JOIN LATERAL unnest(string_to_array(s.messages, ',')) AS ch
    LEFT JOIN contact ct ON ct.tenant = g.tenant AND ct.customer_id = g.customer_id
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING 1
), tsk AS (
    INSERT INTO task (task_id, tenant, customer_id, idempotency_key, kind, owner, step,
                      due_on, invoice_ids, currency, residual_minor, grade)
    SELECT {_UUID7}, g.tenant, g.customer_id,
           encode(sha256(convert_to(g.tenant || '|' || g.customer_id || '|' || g.step || ':'
                                    || g.currency || ':' || g.parts || '|' || k, 'UTF8')),
                  'hex'),
           k, ct.owner, g.step, g.on_date, g.invoice_ids, g.currency, g.residual_minor,
           dc.grade
    FROM grouped g
    JOIN step s ON s.pkey = g.pkey AND s.idx = g.idx
    CROSS JOIN LATERAL unnest(string_to_array(s.tasks, ',')) AS k
    LEFT JOIN contact ct ON ct.tenant = g.tenant AND ct.customer_id = g.customer_id
    LEFT JOIN dunning_customer dc ON dc.tenant = g.tenant AND dc.customer_id = g.customer_id
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING task_id, tenant, customer_id, kind, owner, step, due_on, invoice_ids
)
SELECT 'task' AS what, t.tenant, t.customer_id, t.task_id, t.kind, t.owner, t.step,
       t.due_on AS on_date, t.invoice_ids, NULL::text AS currency,
       NULL::bigint AS residual_minor, NULL::int AS overdue, NULL::int AS pkey
FROM tsk t
UNION ALL
SELECT 'escalation', g.tenant, g.customer_id, NULL, s.action, NULL, g.step, g.on_date,
       g.invoice_ids, g.currency, g.residual_minor, g.overdue, g.pkey
FROM grouped g JOIN step s ON s.pkey = g.pkey AND s.idx = g.idx
WHERE s.action IN ('request_credit_hold', 'legal_escalation')
UNION ALL
SELECT 'reminders', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       (SELECT count(*) FROM rem), NULL, NULL
ORDER BY 2, 3
"""


async def decide_and_record(
    conn: asyncpg.Connection,
    chunk: Chunk,
    steps: StepTable,
    exponents: tuple[list[str], list[int]],
    at: datetime,
) -> list[asyncpg.Record]:
    """Place every open invoice of the chunk's customers at its step and record, in one
    statement, the steps taken, one reminder per customer + step + currency + channel
    (pending, idempotency key = customer + step + the invoices and their cycles + channel)
    and one task per task kind. Returns the tasks created (`what = 'task'`), the dues whose
    action is an escalation (`'escalation'`), and one `'reminders'` row counting the
    reminders recorded (in `residual_minor`)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        _DECIDE,
        chunk.tenant, chunk.customer_id, chunk.pkey, chunk.on,
        steps.pkey, steps.idx, steps.name, steps.offset_days, steps.messages, steps.tasks,
        steps.action, steps.policy_id, steps.version,
        exponents[0], exponents[1], at,
    )  # fmt: skip
    return rows
