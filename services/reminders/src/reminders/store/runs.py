"""SQL of the dunning run: claiming a chunk of customers, what the chunk needs read in bulk,
and the one set-based statement that places every open invoice of the chunk at its step and
records the steps taken, the consolidated reminders and the collector tasks, returning what
it decided for the caller's events (the statement writes no event: events are built from
the `huikuan_events` models and written by `huikuan_runtime.outbox`).

The policies travel as parameters (`StepTable`): one row per step of every policy in force
for the chunk, keyed by a small integer the caller gives each policy. A customer's step is
found with `width_bucket(days past due, the policy's offsets)` (the offsets ascend: a saved
policy is sorted), which is `domain.dunning.step_index` done by the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate
from typing import Any, TypeVar, overload
from uuid import UUID

import asyncpg

# The row ids of the reminders and tasks the statement inserts (not event ids: those are
# the outbox's): a UUIDv7 made by the database from the statement's Unix milliseconds (48
# bits, the `idp` CTE, read once), version 7, then 12 + 62 random bits (variant 10).
# random() is the backend's own generator, seeded from a strong source at start: about a
# quarter of the cost of gen_random_uuid() for each of the run's 700,000 rows; uniqueness is
# what matters here.
_UUID7 = """((SELECT p FROM idp) || to_hex(28672 + (random() * 4095)::int)
    || to_hex(-9223372036854775808 | (random() * 4611686018427387903)::bigint))::uuid"""
_ID_PREFIX = """idp AS (
    SELECT lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') AS p
)"""


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
    """The customers of a chunk to decide for: each with its policy key, its date and what
    its reminders and tasks need (as the claim read them), as columns."""

    tenant: list[str] = field(default_factory=list)
    customer_id: list[str] = field(default_factory=list)
    pkey: list[int] = field(default_factory=list)
    on: list[date] = field(default_factory=list)
    email: list[str | None] = field(default_factory=list)
    phone: list[str | None] = field(default_factory=list)
    owner: list[str | None] = field(default_factory=list)
    grade: list[str | None] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    # The first and last claimed (tenant, customer_id) in the claim's (the database's)
    # order: every customer above lies between them.
    first: tuple[str, str] = ("", "")
    last: tuple[str, str] = ("", "")


async def claim_customers(
    conn: asyncpg.Connection, tenant: str | None, after: tuple[str, str], limit: int
) -> list[asyncpg.Record]:
    """Customers with something open, after the cursor, that no other run holds: their
    rows stay locked until the caller's transaction ends (FOR UPDATE SKIP LOCKED). With
    each, what the run needs of it: policy inputs, calendar, and its reminders' contact
    details and language."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.tenant, c.customer_id, c.grade, c.pinned_policy, c.paused_until,
                  ct.timezone, ct.country, ct.email, ct.phone, ct.owner,
                  CASE WHEN lower(coalesce(ct.language, '')) LIKE 'en%' THEN 'en' ELSE 'zh' END
                      AS language
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
        tenant,
        after[0],
        after[1],
        limit,
    )
    return rows


async def open_promises_of(
    conn: asyncpg.Connection, tenants: list[str], customer_ids: list[str]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT p.* FROM unnest($1::text[], $2::text[]) AS k(tenant, customer_id)
           JOIN promise p ON p.tenant = k.tenant AND p.customer_id = k.customer_id
           WHERE p.status = 'open'
           ORDER BY p.tenant, p.customer_id, p.made_on, p.promise_id""",
        tenants,
        customer_ids,
    )
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
        tenants,
        promise_ids,
        on,
    )


async def open_tasks_due_before(
    conn: asyncpg.Connection, tenants: list[str], customer_ids: list[str], before: date
) -> list[asyncpg.Record]:
    """Open, not yet escalated tasks of these customers dated before `before`, each with
    its owner's manager from the collector directory (null: none recorded). The tasks stay
    locked until the caller's transaction ends: a completion committed meanwhile is waited
    for and its task left out, never escalated after it was done."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT t.task_id, t.tenant, t.customer_id, t.kind, t.owner, t.step, t.due_on,
                  t.invoice_ids, o.manager
           FROM unnest($1::text[], $2::text[]) AS k(tenant, customer_id)
           JOIN task t ON t.tenant = k.tenant AND t.customer_id = k.customer_id
           LEFT JOIN collector o ON o.tenant = t.tenant AND o.collector_id = t.owner
           WHERE t.status = 'open' AND t.escalated_on IS NULL AND t.due_on < $3
           ORDER BY t.tenant, t.customer_id, t.due_on, t.task_id
           FOR UPDATE OF t""",
        tenants,
        customer_ids,
        before,
    )
    return rows


async def mark_escalated(
    conn: asyncpg.Connection, task_ids: list[UUID], on: list[date], to: list[str | None]
) -> None:
    """Mark tasks escalated on a date to a manager (null: none recorded), in one statement."""
    await conn.execute(
        """UPDATE task t SET escalated_on = x.on_date, escalated_to = x.manager
           FROM unnest($1::uuid[], $2::date[], $3::text[]) AS x(task_id, on_date, manager)
           WHERE t.task_id = x.task_id""",
        task_ids,
        on,
        to,
    )


_DECIDE = """
WITH {_ID_PREFIX}, cust AS MATERIALIZED (
    -- The chunk's customers with what their reminders and tasks need (read by the claim).
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::date[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[])
        AS c(tenant, customer_id, pkey, on_date, email, phone, owner, grade, language)
), pol AS (
    -- One row per policy: its steps as arrays in offset order (1-based).
    SELECT pkey, min(policy_id) AS policy_id, min(version) AS version, count(*)::int AS n,
           array_agg(offset_days ORDER BY idx) AS offsets, array_agg(name ORDER BY idx) AS names,
           array_agg(messages ORDER BY idx) AS messages, array_agg(tasks ORDER BY idx) AS tasks,
           array_agg(action ORDER BY idx) AS actions
    FROM unnest($10::int[], $11::int[], $12::text[], $13::int[], $14::text[], $15::text[],
                $16::text[], $17::text[], $18::int[])
        AS s(pkey, idx, name, offset_days, messages, tasks, action, policy_id, version)
    GROUP BY pkey
), taken AS MATERIALIZED (
    -- The steps the chunk's customers' invoices have taken (one row per customer and run).
    SELECT t.tenant, x.invoice_id, x.cycle, x.step
    FROM cust c
    JOIN step_taken t ON t.tenant = c.tenant AND t.customer_id = c.customer_id
        AND (t.tenant, t.customer_id) >= ($19::text, $20::text)
        AND (t.tenant, t.customer_id) <= ($21::text, $22::text)
    CROSS JOIN LATERAL unnest(t.invoice_ids, t.cycles, t.steps) AS x(invoice_id, cycle, step)
), due AS MATERIALIZED (
    -- Open, undisputed invoices not held by an open promise (until its date + grace), at
    -- the latest step reached, moved forward by escalations and capped at the last, and
    -- not yet taken in the invoice's cycle. The chunk's customers are one range of the
    -- claim order: one index range read, joined by hash, instead of one index search per
    -- customer.
    SELECT i.tenant, i.customer_id, i.invoice_id, i.number, i.due_date, i.currency,
           i.residual_minor, i.cycle, c.pkey, c.on_date, x.idx, p.names[x.idx] AS step
    FROM cust c
    JOIN pol p ON p.pkey = c.pkey
    JOIN chased_invoice i ON i.tenant = c.tenant AND i.customer_id = c.customer_id
    CROSS JOIN LATERAL (
        SELECT LEAST(width_bucket(c.on_date - i.due_date, p.offsets) + i.escalate, p.n) AS idx
    ) x
    WHERE (i.tenant, i.customer_id) >= ($19::text, $20::text)
      AND (i.tenant, i.customer_id) <= ($21::text, $22::text)
      AND i.residual_minor > 0 AND NOT i.closed AND NOT i.disputed
      AND width_bucket(c.on_date - i.due_date, p.offsets) > 0
      AND NOT EXISTS (
          SELECT 1 FROM promise pr
          WHERE pr.tenant = i.tenant AND pr.customer_id = i.customer_id
            AND pr.status = 'open' AND c.on_date <= pr.promised_date + pr.grace_days
            AND i.invoice_id = ANY (pr.invoice_ids))
      AND NOT EXISTS (
          SELECT 1 FROM taken t
          WHERE t.tenant = i.tenant AND t.invoice_id = i.invoice_id
            AND t.cycle = i.cycle AND t.step = p.names[x.idx])
), took AS (
    INSERT INTO step_taken (tenant, customer_id, taken_on, invoice_ids, cycles, steps)
    SELECT tenant, customer_id, min(on_date), array_agg(invoice_id), array_agg(cycle),
           array_agg(step)
    FROM due GROUP BY tenant, customer_id
), grouped AS MATERIALIZED (
    -- One consolidated due per customer, step and currency; invoices by due date, id.
    -- The aggregates take their rows in the order of the sorted subquery (due date, then
    -- invoice id by code point): one sort for the chunk instead of three per group. The
    -- rows sorted are the invoices' own columns; what is the customer's (its policy, date,
    -- contact details) is joined to each due afterwards.
    SELECT g.*, c.pkey, c.on_date, c.email, c.phone, c.owner, c.grade, c.language,
           p.policy_id, p.version, p.names[g.idx] AS step, p.messages[g.idx] AS messages,
           p.tasks[g.idx] AS tasks, p.actions[g.idx] AS action
    FROM (
        SELECT d.tenant, d.customer_id, d.idx, d.currency,
               sum(d.residual_minor)::bigint AS residual_minor,
               max(d.on_date - d.due_date) AS overdue,
               array_agg(d.invoice_id) AS invoice_ids,
               string_agg(d.invoice_id || '@' || d.cycle, ',') AS parts,
               json_agg(json_build_object(
                   'invoice_id', d.invoice_id, 'number', d.number, 'due_date', d.due_date,
                   'residual_minor', d.residual_minor
               ))::jsonb AS invoices
        FROM (
            SELECT * FROM due
            ORDER BY due.tenant, due.customer_id, due.idx, due.currency, due.due_date,
                     due.invoice_id COLLATE "C"
        ) d
        GROUP BY d.tenant, d.customer_id, d.idx, d.currency
    ) g
    JOIN cust c ON c.tenant = g.tenant AND c.customer_id = g.customer_id
    JOIN pol p ON p.pkey = c.pkey
), rem AS (
    -- No ON CONFLICT: the invoices of a due have not taken its step (checked above, with
    -- the customer locked), so its keys are new; a duplicate would be a broken rule and
    -- fails the chunk rather than being skipped (the unique keys stay).
    INSERT INTO reminder (reminder_id, tenant, customer_id, idempotency_key, policy_id,
                          policy_version, step, channel, recipient, language, invoices,
                          currency, residual_minor, as_of, next_attempt_at, created_at)
    SELECT {_UUID7}, g.tenant, g.customer_id,
           encode(sha256(convert_to(g.tenant || '|' || g.customer_id || '|' || g.step || ':'
                                    || g.currency || ':' || g.parts || '|' || ch, 'UTF8')),
                  'hex'),
           g.policy_id, g.version, g.step, ch,
           CASE ch WHEN 'email' THEN g.email WHEN 'sms' THEN g.phone END, g.language,
           g.invoices, g.currency, g.residual_minor, g.on_date, $23, $23
    FROM grouped g
    CROSS JOIN LATERAL unnest(string_to_array(g.messages, ',')) AS ch
    RETURNING 1
), tsk AS (
    INSERT INTO task (task_id, tenant, customer_id, idempotency_key, kind, owner, step,
                      due_on, invoice_ids, currency, residual_minor, grade)
    SELECT {_UUID7}, g.tenant, g.customer_id,
           encode(sha256(convert_to(g.tenant || '|' || g.customer_id || '|' || g.step || ':'
                                    || g.currency || ':' || g.parts || '|' || k, 'UTF8')),
                  'hex'),
           k, g.owner, g.step, g.on_date, g.invoice_ids, g.currency, g.residual_minor,
           g.grade
    FROM grouped g
    CROSS JOIN LATERAL unnest(string_to_array(g.tasks, ',')) AS k
    RETURNING task_id, tenant, customer_id, kind, owner, step, due_on, invoice_ids
), tasks AS MATERIALIZED (
    -- What was decided, for the caller's events, in the order of each customer's events:
    -- the tasks created by step and kind, then the dues whose step asks credit for a hold
    -- or escalates to legal by step and currency. Returned as columns, each aggregated in
    -- the order the CTE holds its rows (the invoice ids of all of them in one array, with
    -- each one's count).
    SELECT tenant, customer_id, task_id, kind, owner, due_on, invoice_ids FROM tsk
    ORDER BY tenant, customer_id, step, kind
), escalations AS MATERIALIZED (
    SELECT tenant, customer_id, policy_id, step, action, on_date, currency, residual_minor,
           overdue, invoice_ids
    FROM grouped WHERE action IN ('request_credit_hold', 'legal_escalation')
    ORDER BY tenant, customer_id, step, currency
)
SELECT (SELECT count(*) FROM rem) AS reminders, t.*, ti.*, e.*, ei.*
FROM (SELECT array_agg(tenant) AS t_tenant, array_agg(customer_id) AS t_customer_id,
             array_agg(task_id::text) AS t_task_id, array_agg(kind) AS t_kind,
             array_agg(owner) AS t_owner, array_agg(due_on) AS t_due_on,
             array_agg(cardinality(invoice_ids)) AS t_counts
      FROM tasks) t,
     (SELECT array_agg(i) AS t_invoice_ids FROM tasks, unnest(invoice_ids) AS i) ti,
     (SELECT array_agg(tenant) AS e_tenant, array_agg(customer_id) AS e_customer_id,
             array_agg(policy_id) AS e_policy_id, array_agg(step) AS e_step,
             array_agg(action) AS e_action, array_agg(on_date) AS e_as_of,
             array_agg(currency) AS e_currency, array_agg(residual_minor) AS e_residual_minor,
             array_agg(overdue) AS e_overdue, array_agg(cardinality(invoice_ids)) AS e_counts
      FROM escalations) e,
     (SELECT array_agg(i) AS e_invoice_ids FROM escalations, unnest(invoice_ids) AS i) ei
""".replace("{_UUID7}", _UUID7).replace("{_ID_PREFIX}", _ID_PREFIX)


class Slices(Sequence[list[str]]):
    """Lists returned flattened (one array of every item, and each list's length), sliced
    back into lists only when read: a run's hundred thousand lists are never all built and
    held at once (nor scanned again and again by the garbage collector)."""

    def __init__(self, flat: list[str], counts: list[int]) -> None:
        self._flat = flat
        self._ends = [0, *accumulate(counts)]
        self._lo, self._hi = 0, len(counts)
        if self._ends[-1] != len(flat):
            raise ValueError(f"{len(flat)} items for lists of {self._ends[-1]} in all")

    def window(self, start: int, stop: int) -> Slices:
        """Lists `start` to `stop` of these, without building them."""
        view = Slices.__new__(Slices)
        view._flat, view._ends = self._flat, self._ends
        view._lo, view._hi = self._lo + start, self._lo + min(stop, len(self))
        return view

    def __len__(self) -> int:
        return self._hi - self._lo

    def lengths(self) -> list[int]:
        """How many items each list has, without building them."""
        ends = self._ends
        return [ends[k + 1] - ends[k] for k in range(self._lo, self._hi)]

    @overload
    def __getitem__(self, i: int) -> list[str]: ...

    @overload
    def __getitem__(self, i: slice) -> list[list[str]]: ...

    def __getitem__(self, i: int | slice) -> list[str] | list[list[str]]:
        flat, ends = self._flat, self._ends
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return [
                flat[ends[k] : ends[k + 1]] for k in range(self._lo + start, self._lo + stop, step)
            ]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        k = self._lo + (i if i >= 0 else i + len(self))
        return flat[ends[k] : ends[k + 1]]


@dataclass(frozen=True, slots=True)
class TasksCreated:
    """The tasks the statement created, as columns, each customer's by step and kind."""

    tenant: list[str]
    customer_id: list[str]
    task_id: list[str]
    kind: list[str]
    owner: list[str | None]
    due_on: list[date]
    invoice_ids: Slices


@dataclass(frozen=True, slots=True)
class DuesEscalated:
    """The dues whose step asks for a credit hold or a legal escalation, as columns, each
    customer's by step and currency; `overdue` is the most days any invoice is overdue."""

    tenant: list[str]
    customer_id: list[str]
    policy_id: list[str]
    step: list[str]
    action: list[str]
    as_of: list[date]
    currency: list[str]
    residual_minor: list[int]
    overdue: list[int]
    invoice_ids: Slices


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Decided:
    """What the statement recorded for a chunk: how many reminders, the tasks, the dues
    escalated."""

    reminders: int
    tasks: TasksCreated
    escalations: DuesEscalated


async def decide_and_record(
    conn: asyncpg.Connection,
    chunk: Chunk,
    steps: StepTable,
    at: datetime,
) -> Decided:
    """Place every open invoice of the chunk's customers at its step and record, in one
    statement, the steps taken, one reminder per customer + step + currency + channel
    (pending, idempotency key = customer + step + the invoices and their cycles + channel)
    and one task per task kind. Returns what it decided: the number of reminders, the tasks
    created and the dues whose step asks for a credit hold or legal escalation."""
    # Plans for this chunk's arrays, never a generic plan guessed from an earlier one; room
    # for the chunk's sorts and hashes in memory.
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    await conn.execute("SET LOCAL work_mem = '64MB'")
    # No JIT: compiling the statement costs more than running it for any chunk. No
    # sequential scans: the chunk is one key range of the invoices and of the steps taken,
    # read through their indexes whatever the statistics say (right after a bulk load, or
    # during a first run that fills `step_taken`, they say the tables are empty or small
    # and a scan of all of it per chunk would make the run quadratic).
    await conn.execute("SET LOCAL jit = off")
    await conn.execute("SET LOCAL enable_seqscan = off")
    row = await conn.fetchrow(
        _DECIDE,
        chunk.tenant,
        chunk.customer_id,
        chunk.pkey,
        chunk.on,
        chunk.email,
        chunk.phone,
        chunk.owner,
        chunk.grade,
        chunk.language,
        steps.pkey,
        steps.idx,
        steps.name,
        steps.offset_days,
        steps.messages,
        steps.tasks,
        steps.action,
        steps.policy_id,
        steps.version,
        *chunk.first,
        *chunk.last,
        at,
    )
    return Decided(
        row["reminders"], _columns(row, "t_", TasksCreated), _columns(row, "e_", DuesEscalated)
    )


def _columns(row: asyncpg.Record, prefix: str, kind: Callable[..., _T]) -> _T:
    """The columns named `prefix`_* (without the prefix) as a `kind`, the invoice ids back
    as lists; none decided: NULLs, read as empty columns."""
    columns: dict[str, Any] = {
        name[len(prefix) :]: value or [] for name, value in row.items() if name.startswith(prefix)
    }
    invoice_ids = Slices(columns.pop("invoice_ids"), columns.pop("counts"))
    return kind(**columns, invoice_ids=invoice_ids)
