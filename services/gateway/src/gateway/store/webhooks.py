"""Every SQL statement about webhook subscriptions and deliveries. Every read and change
through the API is filtered by tenant; the dispatcher's claim is the only cross-tenant one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

_SUBSCRIPTION = """subscription_id, tenant, url, event_types, description, created_at"""
_DELIVERY = """d.delivery_id, d.position, d.subscription_id, d.event_id, d.event_type,
    d.subject, d.state, d.attempts, d.created_at, d.next_attempt_at, d.last_attempt_at,
    d.last_status, d.last_error, d.delivered_at, d.redelivery_of"""


async def insert_subscription(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    tenant: str,
    url: str,
    event_types: Sequence[str],
    description: str,
    secret: str,
    now: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        f"""INSERT INTO webhook_subscription
                (subscription_id, tenant, url, event_types, description, secret, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {_SUBSCRIPTION}""",
        subscription_id,
        tenant,
        url,
        list(event_types),
        description,
        secret,
        now,
    )
    return row


async def rotate_secret(
    conn: asyncpg.Connection,
    tenant: str,
    subscription_id: uuid.UUID,
    secret: str,
    now: datetime,
    overlap: timedelta,
) -> asyncpg.Record | None:
    """`secret` signs from now on; the one it replaces signs beside it until now + overlap
    (a secret replaced before is dropped). None: no such subscription of the tenant."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE webhook_subscription
            SET previous_secret = secret, previous_secret_until = $4::timestamptz + $5::interval,
                secret = $3
            WHERE tenant = $1 AND subscription_id = $2 AND disabled_at IS NULL
            RETURNING {_SUBSCRIPTION}, previous_secret_until""",
        tenant,
        subscription_id,
        secret,
        now,
        overlap,
    )
    return row


async def get_subscription(
    conn: asyncpg.Connection, tenant: str, subscription_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {_SUBSCRIPTION} FROM webhook_subscription
            WHERE tenant = $1 AND subscription_id = $2 AND disabled_at IS NULL""",
        tenant,
        subscription_id,
    )
    return row


async def list_subscriptions(
    conn: asyncpg.Connection, tenant: str, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_SUBSCRIPTION} FROM webhook_subscription
            WHERE tenant = $1 AND disabled_at IS NULL
              AND ($2::uuid IS NULL OR subscription_id > $2)
            ORDER BY subscription_id LIMIT $3""",
        tenant,
        after,
        limit,
    )
    return rows


async def disable_subscription(
    conn: asyncpg.Connection, tenant: str, subscription_id: uuid.UUID, now: datetime
) -> bool:
    """Stop the subscription; its pending deliveries end as failed. False: no such one."""
    done = await conn.fetchval(
        """UPDATE webhook_subscription SET disabled_at = $3
           WHERE tenant = $1 AND subscription_id = $2 AND disabled_at IS NULL
           RETURNING true""",
        tenant,
        subscription_id,
        now,
    )
    if not done:
        return False
    await _fail_deleted(conn, subscription_id)
    # After the deliveries: an attempt in flight holds its delivery, then its queue row.
    await conn.execute("DELETE FROM webhook_queue WHERE subscription_id = $1", subscription_id)
    # A consumer or redelivery queueing meanwhile held a queue row that the DELETE waited
    # for: its delivery committed after the UPDATE above read, so it is failed now, or it
    # would stay pending with no queue row. SKIP LOCKED: such a delivery taken by a
    # dispatcher meanwhile is not waited for (it waits for this transaction's DELETE).
    await _fail_deleted(conn, subscription_id, skip_locked=True)
    return True


async def subscribers(conn: asyncpg.Connection, tenant: str, event_type: str) -> list[uuid.UUID]:
    """The tenant's active subscriptions that want `event_type`."""
    rows = await conn.fetch(
        """SELECT subscription_id FROM webhook_subscription
           WHERE tenant = $1 AND disabled_at IS NULL
             AND ($2 = ANY (event_types) OR '*' = ANY (event_types))
           ORDER BY subscription_id""",
        tenant,
        event_type,
    )
    return [r["subscription_id"] for r in rows]


async def subscribed_tenants(conn: asyncpg.Connection) -> frozenset[str]:
    """The tenants with at least one active subscription."""
    rows = await conn.fetch(
        "SELECT DISTINCT tenant FROM webhook_subscription WHERE disabled_at IS NULL"
    )
    return frozenset(r["tenant"] for r in rows)


async def insert_deliveries(
    conn: asyncpg.Connection,
    deliveries: Sequence[tuple[uuid.UUID, uuid.UUID]],  # (delivery_id, subscription_id)
    tenant: str,
    event_id: uuid.UUID,
    event_type: str,
    subject: str,
    payload: bytes,
    now: datetime,
) -> None:
    """One pending delivery of the event per subscription (none where it was written
    before), each queued behind the customer's pending ones (webhook_queue)."""
    await conn.execute(
        """WITH d AS (
               INSERT INTO webhook_delivery
                   (delivery_id, subscription_id, tenant, event_id, event_type, subject,
                    payload, created_at, next_attempt_at)
               SELECT n.delivery_id, n.subscription_id, $3, $4, $5, $6, $7, $8, $8
               FROM unnest($1::uuid[], $2::uuid[]) AS n (delivery_id, subscription_id)
               ON CONFLICT (subscription_id, event_id) WHERE redelivery_of IS NULL DO NOTHING
               RETURNING subscription_id, subject, tenant, next_attempt_at)
           """
        + _QUEUE_UP,
        [delivery_id for delivery_id, _ in deliveries],
        [subscription_id for _, subscription_id in deliveries],
        tenant,
        event_id,
        event_type,
        subject,
        payload,
        now,
    )


# Queues the deliveries of the CTE `d` behind their customers' pending ones: a new row,
# due when the delivery is, or one more `appended` on the existing row (which also locks
# it until commit, so a dispatcher finishing that queue's head cannot remove it meanwhile).
# A new row is held when its tenant is suspended; the tenant's row is share-locked to say
# so, so a suspension or reactivation committing meanwhile waits and then sets `held` on
# this row too (`set_held`).
_QUEUE_UP = """INSERT INTO webhook_queue AS q
               (subscription_id, subject, tenant, next_attempt_at, held)
           SELECT subscription_id, subject, tenant, next_attempt_at,
                  coalesce((SELECT t.suspended_at IS NOT NULL FROM tenant t
                            WHERE t.tenant_id = d.tenant FOR SHARE), false)
           FROM d
           ORDER BY subscription_id
           ON CONFLICT (subscription_id, subject) DO UPDATE SET appended = q.appended + 1"""


async def set_held(conn: asyncpg.Connection, tenant: str, held: bool) -> None:
    """Hold (or release) every queue of the tenant's webhooks: held queues are left out of
    claims; nothing is failed. Call in the transaction that suspends or reactivates it."""
    await conn.execute(
        "UPDATE webhook_queue SET held = $2 WHERE tenant = $1 AND held <> $2", tenant, held
    )


async def list_deliveries(
    conn: asyncpg.Connection,
    tenant: str,
    subscription_id: uuid.UUID,
    state: str | None,
    before: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first (by the order they were written), after the cursor's position."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_DELIVERY} FROM webhook_delivery d
            WHERE d.tenant = $1 AND d.subscription_id = $2
              AND ($3::text IS NULL OR d.state = $3)
              AND ($4::bigint IS NULL OR d.position < $4)
            ORDER BY d.position DESC LIMIT $5""",
        tenant,
        subscription_id,
        state,
        before,
        limit,
    )
    return rows


async def get_delivery(
    conn: asyncpg.Connection, tenant: str, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {_DELIVERY} FROM webhook_delivery d
            WHERE d.tenant = $1 AND d.subscription_id = $2 AND d.delivery_id = $3""",
        tenant,
        subscription_id,
        delivery_id,
    )
    return row


async def redeliver(
    conn: asyncpg.Connection, original: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> asyncpg.Record:
    """A new pending delivery of the same event, queued behind what is pending now."""
    row: asyncpg.Record = await conn.fetchrow(
        f"""WITH d AS (
                INSERT INTO webhook_delivery
                    (delivery_id, subscription_id, tenant, event_id, event_type, subject,
                     payload, created_at, next_attempt_at, redelivery_of)
                SELECT $2, subscription_id, tenant, event_id, event_type, subject, payload,
                       $3, $3, delivery_id
                FROM webhook_delivery WHERE delivery_id = $1
                RETURNING *),
            queued AS ({_QUEUE_UP})
            SELECT {_DELIVERY} FROM d""",
        original,
        delivery_id,
        now,
    )
    return row


async def failed_since(
    conn: asyncpg.Connection,
    tenant: str,
    subscription_id: uuid.UUID,
    since: datetime,
    limit: int,
) -> list[uuid.UUID]:
    """Failed deliveries written at or after `since` that were not redelivered yet, oldest
    first, at most `limit`."""
    rows = await conn.fetch(
        """SELECT d.delivery_id FROM webhook_delivery d
           WHERE d.tenant = $1 AND d.subscription_id = $2 AND d.state = 'failed'
             AND d.created_at >= $3
             AND NOT EXISTS (SELECT 1 FROM webhook_delivery r
                             WHERE r.redelivery_of = d.delivery_id)
           ORDER BY d.position LIMIT $4""",
        tenant,
        subscription_id,
        since,
        limit,
    )
    return [r["delivery_id"] for r in rows]


# The claim (see `claim`); a module constant so a test can EXPLAIN it.
CLAIM = """SELECT d.delivery_id, d.subscription_id, d.subject, d.payload, d.attempts,
           d.created_at, q.appended, s.url, s.secret, s.previous_secret,
           s.previous_secret_until
    FROM webhook_queue q
    CROSS JOIN LATERAL (
        SELECT h.delivery_id FROM webhook_delivery h
        WHERE h.subscription_id = q.subscription_id AND h.subject = q.subject
          AND h.state = 'pending'
        ORDER BY h.position LIMIT 1) head
    JOIN webhook_delivery d ON d.delivery_id = head.delivery_id
    JOIN webhook_subscription s ON s.subscription_id = q.subscription_id
    WHERE q.next_attempt_at <= $1 AND NOT q.held AND d.state = 'pending'
      AND s.disabled_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM tenant t
                      WHERE t.tenant_id = q.tenant AND t.suspended_at IS NOT NULL)
    ORDER BY q.next_attempt_at
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED"""


async def claim(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The next delivery due at `now` that heads its (subscription, subject) queue, locked
    for this transaction; deliveries locked by another dispatcher are skipped, and so is
    everything queued behind them. Call inside a transaction; record the outcome with
    `record_attempt`.

    Only due rows of webhook_queue are read (by its `next_attempt_at` index), and for each
    the head alone (the first entry of webhook_delivery_queue): what waits behind a head
    is never read, however long the backlog. Held queues (suspended tenants) are not in
    that index; the tenant check also covers a queue row written while its tenant was
    being suspended."""
    row: asyncpg.Record | None = await conn.fetchrow(CLAIM, now)
    return row


async def record_attempt(
    conn: asyncpg.Connection,
    claimed: asyncpg.Record,
    *,
    now: datetime,
    status: int | None,
    error: str | None,
    delivered: bool,
    next_attempt_at: datetime | None,
) -> None:
    """The outcome of an attempt at the delivery `claim` returned, and what its queue does
    next: wait for this delivery's retry; or, when it ended, offer the next one at `now`
    — unless nothing is pending there, then the queue row goes (kept when a delivery was
    queued since the claim, even one not committed yet: `appended` tells)."""
    state = "delivered" if delivered else ("pending" if next_attempt_at is not None else "failed")
    await conn.execute(
        """UPDATE webhook_delivery
           SET attempts = attempts + 1, last_attempt_at = $2, last_status = $3,
               last_error = $4, state = $5::text, next_attempt_at = $6,
               delivered_at = CASE WHEN $5::text = 'delivered' THEN $2::timestamptz END
           WHERE delivery_id = $1""",
        claimed["delivery_id"],
        now,
        status,
        error,
        state,
        next_attempt_at,
    )
    queue = (claimed["subscription_id"], claimed["subject"])
    if state == "pending":
        # The row is back if it went meanwhile: deleting the subscription skips a delivery
        # in flight, and a pending delivery without its row would never be claimed nor
        # swept (the sweep ends it, the subscription being deleted).
        await conn.execute(
            """INSERT INTO webhook_queue AS q (subscription_id, subject, tenant, next_attempt_at)
               SELECT subscription_id, subject, tenant, $2 FROM webhook_delivery
               WHERE delivery_id = $1
               ON CONFLICT (subscription_id, subject)
               DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at""",
            claimed["delivery_id"],
            next_attempt_at,
        )
        return
    removed = await _drop_if_empty(conn, *queue, claimed["appended"])
    if not removed:
        await conn.execute(
            """UPDATE webhook_queue SET next_attempt_at = $3
               WHERE subscription_id = $1 AND subject = $2""",
            *queue,
            now,
        )


async def sweep_queue(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> int:
    """Remove due queue rows with nothing pending (left by a race that should not happen,
    but would otherwise be read by every claim), under the same `appended` guard as
    `record_attempt`; and end the deliveries of subscriptions deleted while the consumer
    was queueing for them. How many rows went."""
    stale = await conn.fetch(
        """SELECT q.subscription_id, q.subject, q.appended,
                  s.disabled_at IS NOT NULL AS disabled
           FROM webhook_queue q
           JOIN webhook_subscription s ON s.subscription_id = q.subscription_id
           WHERE q.next_attempt_at <= $1 AND NOT q.held
             AND (s.disabled_at IS NOT NULL
                  OR NOT EXISTS (SELECT 1 FROM webhook_delivery h
                                 WHERE h.subscription_id = q.subscription_id
                                   AND h.subject = q.subject AND h.state = 'pending'))
           LIMIT $2""",
        now,
        limit,
    )
    gone = 0
    for row in stale:
        async with conn.transaction():
            if row["disabled"]:
                await _fail_deleted(conn, row["subscription_id"], row["subject"])
            removed = await _drop_if_empty(
                conn, row["subscription_id"], row["subject"], row["appended"]
            )
            gone += bool(removed)
    return gone


async def gauges(conn: asyncpg.Connection, tenant: str, now: datetime) -> dict[str, float]:
    """For the ops view: the tenant's deliveries being retried after a failed attempt, and
    those given up on in the last 24 hours."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE state = 'pending' AND attempts > 0) AS failing,
                  count(*) FILTER (WHERE state = 'failed' AND last_attempt_at >= $2) AS failed
           FROM webhook_delivery
           WHERE tenant = $1 AND (state = 'pending' OR last_attempt_at >= $2)""",
        tenant,
        now - timedelta(hours=24),
    )
    assert row is not None
    return {"deliveries_failing": row["failing"], "deliveries_failed_24h": row["failed"]}


async def _drop_if_empty(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, subject: str, appended: int
) -> bool:
    """Remove a (subscription, customer) queue row when nothing is pending behind it and
    nothing was queued since it was read (`appended` unchanged); whether it was removed."""
    removed = await conn.fetchval(
        """DELETE FROM webhook_queue q
           WHERE q.subscription_id = $1 AND q.subject = $2 AND q.appended = $3
             AND NOT EXISTS (SELECT 1 FROM webhook_delivery h
                             WHERE h.subscription_id = $1 AND h.subject = $2
                               AND h.state = 'pending')
           RETURNING true""",
        subscription_id,
        subject,
        appended,
    )
    return bool(removed)


async def _fail_deleted(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    subject: str | None = None,
    *,
    skip_locked: bool = False,
) -> None:
    """End the pending deliveries of a deleted subscription (of one customer, if `subject`)
    as failed; with `skip_locked`, leave those a dispatcher holds instead of waiting."""
    await conn.execute(
        f"""UPDATE webhook_delivery
            SET state = 'failed', next_attempt_at = NULL,
                last_error = 'the subscription was deleted'
            WHERE delivery_id IN (
                SELECT delivery_id FROM webhook_delivery
                WHERE subscription_id = $1 AND ($2::text IS NULL OR subject = $2)
                  AND state = 'pending'
                FOR UPDATE {"SKIP LOCKED" if skip_locked else ""})""",
        subscription_id,
        subject,
    )
