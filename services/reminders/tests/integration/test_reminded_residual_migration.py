"""Migration 0008: reminders recorded before it kept each invoice's residual as decimal
text; after it every invoice holds `residual_minor`, and what the API shows is unchanged."""

from __future__ import annotations

import json
import secrets

import asyncpg
import pytest

from huikuan_dev.testing import database_url
from huikuan_runtime.migrations import migrate, plan
from reminders.domain.dunning import reminded_invoices
from services.reminders.tests.integration.conftest import MIGRATIONS

pytestmark = pytest.mark.integration

OLD = [
    {"invoice_id": "I-1", "number": "N-1", "due_date": "2026-03-15", "residual": "200.05"},
    {"invoice_id": "I-2", "number": "N-2", "due_date": "2026-03-16", "residual": "1234567.00"},
]


async def test_old_residual_text_becomes_minor_units_in_order() -> None:
    url = database_url()
    if url is None:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    schema = f"reminders_mig_{secrets.token_hex(4)}"
    every = plan(MIGRATIONS)
    before = [m for m in every if not (m.source == "service" and m.version >= 8)]
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, schema, before)
        for rid, currency, invoices in (
            ("00000000-0000-7000-8000-000000000001", "CNY", OLD),
            ("00000000-0000-7000-8000-000000000002", "JPY", [{**OLD[0], "residual": "12345"}]),
        ):
            await conn.execute(
                f"""INSERT INTO {schema}.reminder (reminder_id, tenant, customer_id,
                        idempotency_key, policy_id, policy_version, step, channel, language,
                        invoices, currency, residual_minor, as_of, next_attempt_at,
                        created_at)
                    VALUES ($1::uuid, 't', 'C-1', $1::text, 'p', 1, 's', 'email', 'zh',
                            $2::jsonb, $3, 0, '2026-03-20', now(), now())""",
                rid,
                json.dumps(invoices),
                currency,
            )
        assert await migrate(conn, schema, every) == [
            m.label for m in every if m.source == "service" and m.version >= 8
        ]
        rows = await conn.fetch(
            f"SELECT invoices::text FROM {schema}.reminder ORDER BY reminder_id"
        )
        cny, jpy = [json.loads(r["invoices"]) for r in rows]
        kept = [{k: v for k, v in i.items() if k != "residual"} for i in OLD]
        assert cny == [
            {**kept[0], "residual_minor": 20005},
            {**kept[1], "residual_minor": 123456700},
        ]
        assert jpy == [{**kept[0], "residual_minor": 12345}]
        assert reminded_invoices(cny, "CNY") == OLD
        assert reminded_invoices(jpy, "JPY") == [{**OLD[0], "residual": "12345"}]
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
