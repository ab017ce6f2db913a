"""A tenant's template cannot stop dunning for anyone: one that cannot be rendered is
refused when its policy is saved; one that fails only on real data fails its own reminder,
with the problem recorded and `reminder_failed` emitted, while every other reminder is
delivered; the list of reminders shows the problem instead of answering 5xx; and any
other unexpected error is an attempt of that one reminder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from huikuan_dev.testing import internal_client
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_runtime.clock import FixedClock
from huikuan_runtime.problems import InvalidInput
from reminders.api.app import create_app
from reminders.channels import Channel, Message
from reminders.channels.email import EmailChannel
from reminders.config import Settings
from reminders.domain.policy import Step
from reminders.render import Renderer
from reminders.service import policies as policy_service
from reminders.service.deliver import deliver_due
from reminders.service.run import run
from reminders.store import book
from services.reminders.tests.integration.support import TENANT, Sink, feed, outbox

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)  # a Monday
AT = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)
BAD = "t-hostile"
# Passes the sample data (one invoice) when saved, fails on a customer with two.
LATENT = "{% if invoices | length > 1 %}{{ 1/0 }}{% endif %}Please pay {{ total }}."


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    r = Renderer()
    yield r
    r.close()


def _own(body: str) -> Step:
    return Step(
        "overdue_notice",
        1,
        ("email",),
        "overdue_notice",
        overrides={"en": {"subject": "Overdue", "body": body}},
    )


async def _customer(pool: asyncpg.Pool, tenant: str, cid: str, invoices: int) -> None:
    await feed(
        pool,
        cid,
        CustomerUpserted(
            customer_id=cid,
            name=f"Customer {cid}",
            email=f"{cid.lower()}@{tenant}.example",
            country="CN",
            currency="CNY",
            payment_terms_days=30,
            language="en",
            timezone="Asia/Shanghai",
        ),
        tenant=tenant,
    )
    for k in range(invoices):
        await feed(
            pool,
            cid,
            InvoiceIssued(
                invoice_id=f"{cid}-{k}",
                customer_id=cid,
                number=f"N-{cid}-{k}",
                issue_date=DUE - timedelta(days=30),
                due_date=DUE,
                currency="CNY",
                amount_minor=10_000,
            ),
            tenant=tenant,
        )


async def _pin_latent_policy(pool: asyncpg.Pool, renderer: Renderer, cid: str) -> None:
    # Saved through the same path as PUT /dunning/policies: it passes the sample render.
    await policy_service.put(pool, renderer, BAD, "house", [], [_own(LATENT)], AT)
    async with pool.acquire() as conn:
        await book.set_pin(conn, BAD, cid, "house")


async def _two_tenants(pool: asyncpg.Pool, renderer: Renderer) -> None:
    await _customer(pool, BAD, "C-BAD", invoices=2)
    await _pin_latent_policy(pool, renderer, "C-BAD")
    await _customer(pool, TENANT, "C-GOOD", invoices=1)
    for tenant in (BAD, TENANT):
        assert (await run(pool, tenant=tenant, as_of=DUE + timedelta(days=1), at=AT)).reminders
    assert await pool.fetchval("SELECT count(*) FROM reminder") == 2


async def test_a_template_that_cannot_render_is_refused_when_saved(
    pool: asyncpg.Pool, renderer: Renderer
) -> None:
    steps = [
        _own("{{ invoices[7].number }}"),
        Step(
            "second_notice",
            7,
            ("email",),
            "second_notice",
            overrides={"zh": {"subject": "逾期{{ '\\n' }}Bcc: x", "body": "{{ 1/0 }}"}},
        ),
    ]
    with pytest.raises(InvalidInput) as caught:
        await policy_service.put(pool, renderer, BAD, "house", [], steps, AT)
    assert caught.value.errors == [
        {"field": "steps.0.templates.en.body", "message": "list object has no element 7"},
        {"field": "steps.1.templates.zh.subject", "message": "the subject must be one line"},
    ]
    assert await pool.fetchval("SELECT count(*) FROM dunning_policy") == 0


async def test_a_template_failing_on_real_data_fails_its_reminder_alone(
    pool: asyncpg.Pool, renderer: Renderer, smtp: Sink
) -> None:
    await _two_tenants(pool, renderer)
    channels = {"email": EmailChannel("127.0.0.1", smtp.port, "ar@huikuan.test")}
    clock = FixedClock(AT)
    result = await deliver_due(pool, channels, now=clock.now, renderer=renderer)
    assert (result.sent, result.failed, result.retrying) == (1, 1, 0)
    [mail] = smtp.messages
    assert mail["To"] == f"c-good@{TENANT}.example"
    bad = await pool.fetchrow(
        "SELECT status, last_error, attempts FROM reminder WHERE tenant = $1", BAD
    )
    assert (bad["status"], bad["attempts"]) == ("failed", 1)
    assert bad["last_error"] == "template body: division by zero"
    [failed] = await outbox(pool, "reminders.reminder_failed.v1")
    assert (failed.tenant, failed.data["error"]) == (BAD, "template body: division by zero")
    # Not claimed again: a second round has nothing to do.
    again = await deliver_due(pool, channels, now=clock.now, renderer=renderer)
    assert (again.sent, again.failed, again.retrying) == (0, 0, 0)


async def test_the_list_of_reminders_shows_the_problem_instead_of_failing(
    pool: asyncpg.Pool, renderer: Renderer
) -> None:
    await _two_tenants(pool, renderer)
    settings = Settings()
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    try:
        async with internal_client(app, BAD) as bad, internal_client(app, TENANT) as good:
            listed: httpx.Response = await bad.get("/reminders")
            assert listed.status_code == 200, listed.text
            [item] = listed.json()["items"]
            assert item["text_problem"] == "template body: division by zero"
            assert (item["subject"], item["body"], item["status"]) == ("", "", "pending")
            theirs = (await good.get("/reminders")).json()["items"]
            assert theirs[0]["text_problem"] is None and "100.00" in theirs[0]["body"]
    finally:
        app.state.renderer.close()


class _Exploding:
    """A channel with a bug that shows for one tenant only."""

    name = "email"

    def __init__(self, sink: Sink) -> None:
        self.email = EmailChannel("127.0.0.1", sink.port, "ar@huikuan.test")

    async def deliver(self, message: Message) -> None:
        if message.tenant == BAD:
            raise RuntimeError("a bug")
        await self.email.deliver(message)


async def test_an_unexpected_error_is_an_attempt_of_that_reminder_only(
    pool: asyncpg.Pool, renderer: Renderer, smtp: Sink
) -> None:
    await _customer(pool, BAD, "C-BAD", invoices=1)
    await _customer(pool, TENANT, "C-GOOD", invoices=1)
    for tenant in (BAD, TENANT):
        await run(pool, tenant=tenant, as_of=DUE + timedelta(days=1), at=AT)
    channels: dict[str, Channel] = {"email": _Exploding(smtp)}
    result = await deliver_due(pool, channels, now=FixedClock(AT).now, renderer=renderer)
    assert (result.sent, result.retrying) == (1, 1)
    bad = await pool.fetchrow("SELECT * FROM reminder WHERE tenant = $1", BAD)
    assert (bad["status"], bad["attempts"]) == ("pending", 1)
    assert bad["last_error"] == "internal error while delivering (RuntimeError)"
    assert bad["next_attempt_at"] > AT
    assert len(smtp.messages) == 1
