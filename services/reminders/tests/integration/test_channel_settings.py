"""A tenant's own channel settings through reminders' HTTP API on the real PostgreSQL:
validated with problem+json and nothing written; secrets never come back (nor into the
log); a tenant's URLs must point at public addresses, when stored and at each attempt; a
tenant's own webhook URL (a real local HTTP receiver) gets its webhook reminders, signed
with its own secret, and its emails (a real SMTP server) carry its sender, while another
tenant's still go the deployment's way; the scheduler's mode honours each tenant's send
window and default time zone."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from huikuan_dev.testing import internal_client
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_runtime.addresses import LOOPBACK
from huikuan_runtime.webhook_signing import generate_secret
from reminders.api.app import create_app
from reminders.config import Settings, sender_domains
from reminders.domain.calendar import Window
from reminders.domain.policy import Step
from reminders.service import policies as policy_service
from reminders.service.run import RunConfig, run
from reminders.store import book
from services.reminders.tests.integration.support import Sink, feed

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)  # a Monday
AT = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
T1_SECRET = generate_secret()  # a standard `whsec_` secret; the deployment's is a plain string
DEPLOYMENT_SECRET = "deployment-secret"
T1_TOKEN = "t1-sms-token-abcdef"


class Receiver:
    """A real local HTTP endpoint recording what it was sent."""

    def __init__(self) -> None:
        self.hits: list[tuple[dict[str, str], bytes]] = []
        received = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    own, deployment = Receiver(), Receiver()
    try:
        yield own, deployment
    finally:
        own.close()
        deployment.close()


def _settings(receivers: tuple[Receiver, Receiver], smtp: Sink, **more: Any) -> Settings:
    return Settings(
        webhook_url=receivers[1].url,
        webhook_secret=DEPLOYMENT_SECRET,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="ar@deployment.test",
        sms_url=None,
        send_window_start=time(9),
        send_window_end=time(18),
        default_timezone="Asia/Shanghai",
        outbound_allow=LOOPBACK,  # like the test stacks: nothing leaves this machine
        **more,
    )


@pytest.fixture
async def apps(
    pool: asyncpg.Pool, receivers: tuple[Receiver, Receiver], smtp: Sink
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The real app (the deployment's webhook is the second receiver, email goes to the
    SMTP sink), as tenants t1 and t2."""
    settings = _settings(
        receivers,
        smtp,
        allow_private_addresses=True,  # local receivers
        sender_domains="t1.example, t2.example",
    )
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    async with internal_client(app, "t1") as t1, internal_client(app, "t2") as t2:
        yield t1, t2


async def test_settings_are_validated_and_secrets_never_come_back(
    apps: tuple[httpx.AsyncClient, httpx.AsyncClient],
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    t1, t2 = apps
    fresh = (await t1.get("/dunning/settings")).json()
    assert fresh["webhook_url"] is None and fresh["webhook_secret_set"] is False
    assert fresh["effective"] == {
        "mail_from": "ar@deployment.test",
        "webhook": "deployment",
        "sms": "log",
        "send_window_start": "09:00",
        "send_window_end": "18:00",
        "default_timezone": "Asia/Shanghai",
    }
    r = await t1.put(
        "/dunning/settings",
        json={
            "mail_from": "ar@t1.example",
            "webhook_url": "https://hooks.t1.example/ar",
            "webhook_secret": T1_SECRET,
            "sms_url": "http://sms.t1.example/send",
            "sms_token": T1_TOKEN,
            "send_window_start": "08:00",
            "send_window_end": "17:30",
            "default_timezone": "Europe/London",
        },
    )
    assert r.status_code == 200, r.text
    got = await t1.get("/dunning/settings")
    for answer in (r, got):
        body = answer.json()
        assert T1_SECRET not in answer.text and T1_TOKEN not in answer.text
        assert (body["webhook_secret_set"], body["sms_token_set"]) == (True, True)
        assert body["effective"] == {
            "mail_from": "ar@t1.example",
            "webhook": "tenant",
            "sms": "tenant",
            "send_window_start": "08:00",
            "send_window_end": "17:30",
            "default_timezone": "Europe/London",
        }
    # Only what is sent changes; the secrets stay set.
    r = await t1.put("/dunning/settings", json={"send_window_end": "16:00"})
    assert r.status_code == 200, r.text
    assert (
        r.json()["send_window_end"],
        r.json()["webhook_url"],
        r.json()["webhook_secret_set"],
    ) == ("16:00", "https://hooks.t1.example/ar", True)
    # The other tenant sees none of it.
    assert (await t2.get("/dunning/settings")).json() == fresh

    stored = await pool.fetch("SELECT * FROM channel_settings ORDER BY tenant")
    refused = [
        ({"webhook_url": "ftp://hooks.t1.example/ar"}, "webhook_url"),
        ({"webhook_url": "hooks.t1.example/ar"}, "webhook_url"),
        ({"sms_url": "http://"}, "sms_url"),
        ({"send_window_start": "16:30"}, "send_window_start"),  # after the stored end
        ({"send_window_start": "10:00", "send_window_end": "09:00"}, "send_window_end"),
        ({"send_window_start": "09:00+08:00"}, "send_window_start"),
        ({"send_window_end": "24:00"}, "send_window_end"),
        ({"default_timezone": "Mars/Olympus"}, "default_timezone"),
        ({"webhook_secret": None}, "webhook_secret"),  # the URL would go unsigned
        ({"sms_url": None}, "sms_url"),  # the token would have no provider
        ({"mail_from": "nobody"}, "mail_from"),
        ({"mail_from": "payments@bank.example"}, "mail_from"),  # not a sender domain
        ({"mail_from": "ar@evilt1.example"}, "mail_from"),  # not a subdomain of one
        ({"webhook_secret": "short"}, "webhook_secret"),
        # A `whsec_` secret must be one: standard base64, padded, of 24 to 64 bytes.
        ({"webhook_secret": T1_SECRET.replace("+", "-").rstrip("=")}, "webhook_secret"),
        ({"webhook_secret": "whsec_" + "QUFB" * 5}, "webhook_secret"),  # 15 bytes
        ({"colour": "blue"}, "colour"),
    ]
    for body, field in refused:
        r = await t1.put("/dunning/settings", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.text)
        assert T1_SECRET not in r.text
    r = await t2.put("/dunning/settings", json={"webhook_url": "https://hooks.t2.example/x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "webhook_secret"
    r = await t2.put("/dunning/settings", json={"send_window_start": "18:00"})  # = deployment end
    assert r.status_code == 422, r.text
    assert await pool.fetch("SELECT * FROM channel_settings ORDER BY tenant") == stored

    # Null clears: back to the deployment's.
    r = await t1.put(
        "/dunning/settings",
        json={"webhook_url": None, "webhook_secret": None, "sms_url": None, "sms_token": None},
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["webhook_secret_set"],
        r.json()["effective"]["webhook"],
        r.json()["effective"]["sms"],
    ) == (False, "deployment", "log")
    assert T1_SECRET not in caplog.text and T1_TOKEN not in caplog.text


async def _customer(pool: asyncpg.Pool, tenant: str, timezone: str | None = None) -> None:
    await feed(
        pool,
        "C-1",
        CustomerUpserted(
            customer_id="C-1",
            name=f"Customer of {tenant}",
            email=f"ar@c1.{tenant}.example",
            country="CN",
            currency="CNY",
            payment_terms_days=30,
            owner="li",
            language="en",
            timezone=timezone,
        ),
        tenant=tenant,
    )
    await feed(
        pool,
        "C-1",
        InvoiceIssued(
            invoice_id="I-1",
            customer_id="C-1",
            number="N-I-1",
            issue_date=DUE - timedelta(days=30),
            due_date=DUE,
            currency="CNY",
            amount_minor=1_000,
        ),
        tenant=tenant,
    )


async def test_a_tenants_own_webhook_and_sender_carry_its_reminders(
    apps: tuple[httpx.AsyncClient, httpx.AsyncClient],
    pool: asyncpg.Pool,
    receivers: tuple[Receiver, Receiver],
    smtp: Sink,
) -> None:
    own, deployment = receivers
    t1, t2 = apps
    r = await t1.put(
        "/dunning/settings",
        json={"webhook_url": own.url, "webhook_secret": T1_SECRET, "mail_from": "ar@t1.example"},
    )
    assert r.status_code == 200, r.text
    for tenant in ("t1", "t2"):
        await _customer(pool, tenant)
        async with pool.acquire() as conn, conn.transaction():
            await policy_service.save(
                conn,
                tenant,
                "hooks",
                [],
                [
                    Step("overdue_notice", 1, ("webhook", "email"), "overdue_notice"),
                ],
                AT,
            )
            await book.set_pin(conn, tenant, "C-1", "hooks")
    for client in (t1, t2):
        done = await client.post("/dunning/runs", json={"as_of": str(DUE + timedelta(days=1))})
        assert done.status_code == 200, done.text
        assert (done.json()["reminders_recorded"], done.json()["sent"]) == (2, 2), done.text

    # What the receivers do: a Standard Webhooks library verifies each with its secret.
    [(headers, body)] = own.hits
    assert Webhook(T1_SECRET).verify(body, headers)["tenant"] == "t1"
    with pytest.raises(WebhookVerificationError):
        Webhook(DEPLOYMENT_SECRET.encode()).verify(body, headers)
    [(headers, body)] = deployment.hits
    # A plain-string secret keys the HMAC with its UTF-8 bytes.
    assert Webhook(DEPLOYMENT_SECRET.encode()).verify(body, headers)["tenant"] == "t2"
    with pytest.raises(WebhookVerificationError):
        Webhook(T1_SECRET).verify(body, headers)
    senders = sorted((m["To"], m["From"]) for m in smtp.messages)
    assert senders == [
        ("ar@c1.t1.example", "ar@t1.example"),
        ("ar@c1.t2.example", "ar@deployment.test"),
    ]


async def test_a_tenants_urls_must_point_at_public_addresses(
    pool: asyncpg.Pool, receivers: tuple[Receiver, Receiver], smtp: Sink
) -> None:
    own, deployment = receivers
    settings = _settings(receivers, smtp)  # the default: public addresses only
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    async with internal_client(app, "t1") as t1:
        for body, field in [
            ({"webhook_url": own.url, "webhook_secret": T1_SECRET}, "webhook_url"),
            (
                {"webhook_url": "http://169.254.169.254/latest", "webhook_secret": T1_SECRET},
                "webhook_url",
            ),
            ({"sms_url": "http://localhost:8001/ops/status"}, "sms_url"),
            ({"sms_url": "http://[::1]/send"}, "sms_url"),
        ]:
            r = await t1.put("/dunning/settings", json=body)
            assert r.status_code == 422, (body, r.text)
            assert [e["field"] for e in r.json()["errors"]] == [field]
        assert await pool.fetchval("SELECT count(*) FROM channel_settings") == 0
        # A URL that was public when stored and now leads into our network (as a name
        # re-resolved would): checked again before the attempt, nothing is sent there.
        await pool.execute(
            """INSERT INTO channel_settings (tenant, webhook_url, webhook_secret, updated_at)
               VALUES ('t1', $1, $2, now())""",
            own.url,
            T1_SECRET,
        )
        await _customer(pool, "t1")
        async with pool.acquire() as conn, conn.transaction():
            await policy_service.save(
                conn,
                "t1",
                "hooks",
                [],
                [
                    Step("overdue_notice", 1, ("webhook",), "overdue_notice"),
                ],
                AT,
            )
            await book.set_pin(conn, "t1", "C-1", "hooks")
        done = await t1.post("/dunning/runs", json={"as_of": str(DUE + timedelta(days=1))})
        assert done.status_code == 200, done.text
        assert (done.json()["sent"], done.json()["retrying"]) == (0, 1), done.text
    assert own.hits == [] and deployment.hits == []
    error = await pool.fetchval("SELECT last_error FROM reminder")
    assert "127.0.0.1 is not public" in error, error


async def test_the_scheduler_honours_each_tenants_window_and_time_zone(
    apps: tuple[httpx.AsyncClient, httpx.AsyncClient], pool: asyncpg.Pool
) -> None:
    t1, _ = apps
    r = await t1.put(
        "/dunning/settings",
        json={
            "send_window_start": "07:00",
            "send_window_end": "09:00",
            "default_timezone": "Europe/London",
        },
    )
    assert r.status_code == 200, r.text
    await _customer(pool, "t1")  # no time zone of its own: the tenant's default
    await _customer(pool, "t2")  # the deployment's: Asia/Shanghai, 09:00-18:00
    config = RunConfig(window=Window(time(9), time(18)), default_timezone="Asia/Shanghai")

    async def decided() -> dict[str, Any]:
        rows = await pool.fetch("SELECT tenant, as_of FROM reminder ORDER BY tenant")
        return {r["tenant"]: r["as_of"] for r in rows}

    tuesday = DUE + timedelta(days=1)  # the overdue notice is due
    # 00:30 UTC: 08:30 in Shanghai (inside t1's window had t1 used Shanghai), 00:30 in London.
    at = datetime(2026, 3, 17, 0, 30, tzinfo=UTC)
    result = await run(pool, tenant=None, as_of=None, at=at, config=config)
    assert result.skipped_not_business_time == 2 and await decided() == {}
    # 02:00 UTC: 10:00 in Shanghai (t2's window), 02:00 in London (not t1's).
    at = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)
    result = await run(pool, tenant=None, as_of=None, at=at, config=config)
    assert result.skipped_not_business_time == 1 and await decided() == {"t2": tuesday}
    # 07:30 UTC: 07:30 in London, inside t1's window.
    at = datetime(2026, 3, 17, 7, 30, tzinfo=UTC)
    await run(pool, tenant=None, as_of=None, at=at, config=config)
    assert await decided() == {"t1": tuesday, "t2": tuesday}


def test_a_tenants_sender_domains_default_to_the_deployments_own() -> None:
    assert sender_domains(Settings(mail_from="ar@deployment.test")) == ("deployment.test",)
    listed = Settings(mail_from="ar@deployment.test", sender_domains=" A.example ,b.example.")
    assert sender_domains(listed) == ("a.example", "b.example")


async def test_a_window_left_empty_by_a_changed_deployment_default_is_reported(
    apps: tuple[httpx.AsyncClient, httpx.AsyncClient],
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t1, _ = apps
    r = await t1.put("/dunning/settings", json={"send_window_start": "16:00"})  # until 18:00
    assert r.status_code == 200, r.text
    await _customer(pool, "t1")
    # The operator moves the deployment's end to 15:00: t1's window is now 16:00-15:00.
    config = RunConfig(window=Window(time(9), time(15)), default_timezone="Asia/Shanghai")
    at = datetime(2026, 3, 17, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai
    with caplog.at_level(logging.WARNING, logger="reminders.service.run"):
        result = await run(pool, tenant=None, as_of=None, at=at, config=config)
    assert result.skipped_not_business_time == 1
    [warned] = [r for r in caplog.records if "send window is empty" in r.getMessage()]
    said = vars(warned)
    assert (said["tenant"], said["window_start"], said["window_end"]) == ("t1", "16:00", "15:00")
