"""Outbound webhooks end to end: subscriptions through `/v1/webhooks`, events of real
ledger calls delivered by the stack's gateway consumer and dispatcher to a real HTTP
receiver on localhost — signed, in order per customer, retried, given up, redelivered on
request — and nothing of it visible to another tenant.

The module runs a stack of its own whose dispatcher retries fast and gives up after
`MAX_AGE` seconds, so the "given up" path takes seconds, not a day, and which allows
private addresses (the receiver is on localhost). The session's stack keeps the default
and refuses them.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from huikuan_dev.stack import Stack
from huikuan_runtime.webhook_signing import generate_secret
from tests.conftest import Tenant
from tests.support import Api, eventually, infra_env, query, start_stack
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.e2e

MAX_AGE = 8


@pytest.fixture(scope="module")
def hook_stack() -> Iterator[Stack]:
    env = infra_env()
    if env is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    yield from start_stack(
        *env,
        extra_env={
            "GATEWAY_WEBHOOK_MAX_AGE_SECONDS": str(MAX_AGE),
            "GATEWAY_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
            "GATEWAY_WEBHOOK_BACKOFF_CAP_SECONDS": "1",
            "GATEWAY_WEBHOOK_TIMEOUT_SECONDS": "3",
            "GATEWAY_WEBHOOK_POLL_SECONDS": "0.1",
            "GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        },
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def api(hook_stack: Stack) -> Api:
    tenant = f"wh-{secrets.token_hex(4)}"
    return Api(hook_stack.gateway_url, hook_stack.create_tenant_key(tenant, f"Tenant {tenant}"))


def _subscribe(api: Api, url: str, types: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "description": "e2e"}
    if types is not None:
        body["event_types"] = types
    response = api.http.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _deliveries(api: Api, webhook_id: str, **params: str) -> list[dict[str, Any]]:
    response = api.http.get(f"/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _events(received: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received]


def _ok(received: list[Received]) -> list[Received]:
    return [r for r in received if r.answered == 204]


def test_subscriptions_show_the_secret_once_and_refuse_bad_input(api: Api) -> None:
    created = _subscribe(api, "https://erp.example.com/hooks", ["ledger.invoice_issued.v1"])
    assert created["secret"].startswith("whsec_")
    webhook_id = created["webhook_id"]
    one = api.get(f"/webhooks/{webhook_id}")
    assert one.status_code == 200
    assert one.json()["event_types"] == ["ledger.invoice_issued.v1"]
    listed = api.get("/webhooks").json()["items"]
    assert [w["webhook_id"] for w in listed] == [webhook_id]
    for response in (one, api.get("/webhooks"), api.get(f"/webhooks/{webhook_id}/deliveries")):
        assert created["secret"] not in response.text and "secret" not in response.json()
    # The same Idempotency-Key and body: the first answer again, no second subscription.
    body = {"url": "https://erp.example.com/other"}
    key = {"Idempotency-Key": f"k-{secrets.token_hex(4)}"}
    first = api.http.post("/webhooks", json=body, headers=key)
    again = api.http.post("/webhooks", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["event_types"] == ["*"]
    assert len(api.get("/webhooks").json()["items"]) == 2
    for bad, field in [
        ({"url": "ftp://erp.example.com/x"}, "url"),
        ({"url": "https://user:pw@erp.example.com/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://erp.example.com/", "event_types": ["ledger.nope.v1"]}, "event_types"),
        ({"url": "https://erp.example.com/", "event_types": []}, "event_types"),
    ]:
        refused = api.http.post("/webhooks", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert field in refused.text
    assert len(api.get("/webhooks").json()["items"]) == 2
    assert api.http.delete(f"/webhooks/{webhook_id}").status_code == 204
    assert api.get(f"/webhooks/{webhook_id}").status_code == 404
    assert api.http.delete(f"/webhooks/{webhook_id}").status_code == 404
    assert len(api.get("/webhooks").json()["items"]) == 1


def test_by_default_urls_at_our_own_network_are_refused(tenant: Tenant) -> None:
    api = tenant.api
    for url, why in [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not public"),
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is not public"),
        ("https://10.0.0.7/hook", "10.0.0.7 is not public"),
        ("https://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1 is not public"),
        ("http://localhost:8000/hook", "'localhost' is this machine"),
    ]:
        refused = api.http.post("/webhooks", json={"url": url})
        assert refused.status_code == 422, (url, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert why in refused.json()["detail"]
    assert api.get("/webhooks").json()["items"] == []
    assert (
        _subscribe(api, "https://erp.example.com/hooks")["url"] == "https://erp.example.com/hooks"
    )


def test_events_arrive_signed_and_in_each_customers_order(api: Api, receiver: Receiver) -> None:
    path = f"/all-{secrets.token_hex(4)}"
    created = _subscribe(api, receiver.url(path))
    issued_only = _subscribe(api, receiver.url(path + "-issued"), ["ledger.invoice_issued.v1"])
    for customer in ("C-1", "C-2"):
        assert api.put_customer(customer).status_code == 201
    for n in range(1, 6):
        for customer in ("C-1", "C-2"):
            assert api.post_invoice(f"{customer}-I-{n}", customer).status_code == 201

    def issued(at: str) -> list[dict[str, Any]]:
        return [e for e in _events(_ok(receiver.at(at))) if e["type"] == "ledger.invoice_issued.v1"]

    eventually(lambda: len(issued(path)) == 10, timeout=90, what="10 invoice_issued delivered")
    eventually(lambda: len(issued(path + "-issued")) == 10, timeout=60, what="to the other")
    got = receiver.at(path)
    for request in got:
        # What a receiver does: a Standard Webhooks library verifies it with its secret.
        Webhook(created["secret"]).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(issued_only["secret"]).verify(request.body, request.headers)
        assert request.headers["content-type"] == "application/cloudevents+json"
    events = _events(got)
    assert {e["tenant"] for e in events} == {events[0]["tenant"]}
    # Per customer and producer, sequence numbers arrive strictly increasing.
    for customer in ("C-1", "C-2"):
        ledger = [
            e["subjectseq"]
            for e in events
            if e["subject"] == customer and e["source"] == "huikuan/ledger"
        ]
        assert ledger == sorted(ledger) and len(set(ledger)) == len(ledger), ledger
        numbers = [
            e["data"]["invoice_id"]
            for e in events
            if e["subject"] == customer and e["type"] == "ledger.invoice_issued.v1"
        ]
        assert numbers == [f"{customer}-I-{n}" for n in range(1, 6)]
    assert {e["type"] for e in _events(receiver.at(path + "-issued"))} == {
        "ledger.invoice_issued.v1"
    }
    # The delivery log: each one delivered at the first attempt, its id the webhook-id.
    log = _deliveries(api, created["webhook_id"], state="delivered")
    by_id = {d["delivery_id"]: d for d in log}
    for request in got:
        entry = by_id.get(request.headers["webhook-id"])
        if entry is not None:
            assert entry["event_id"] == json.loads(request.body)["id"]
            assert entry["attempts"] == 1 and entry["last_status_code"] == 204
    assert {d["event_type"] for d in log} >= {"ledger.invoice_issued.v1"}


def _sequence_anomalies(stack: Stack, tenant: str) -> list[tuple[str, str, int, int]]:
    """(source, subject, gaps, out_of_order) of each cursor of the gateway's consumer."""
    rows = query(
        stack.env["DATABASE_URL"],
        """SELECT source, subject, gaps, out_of_order FROM gateway.subject_cursor
           WHERE consumer = 'gateway' AND tenant = $1 ORDER BY source, subject""",
        tenant,
    )
    return [(r["source"], r["subject"], r["gaps"], r["out_of_order"]) for r in rows]


def test_a_tenant_that_subscribes_later_logs_no_false_sequence_gaps(
    hook_stack: Stack, api: Api, receiver: Receiver
) -> None:
    """The gateway's consumer applies only the events of tenants with a subscription: the
    events before a tenant subscribed were passed over, not lost, so the first ones it
    applies start its cursors rather than counting as gaps (issue #13 item 12)."""
    assert api.put_customer("C-1").status_code == 201
    for n in range(1, 4):
        assert api.post_invoice(f"C-1-I-{n}", "C-1").status_code == 201
    path = f"/late-{secrets.token_hex(4)}"
    _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    for n in range(4, 6):
        assert api.post_invoice(f"C-1-I-{n}", "C-1").status_code == 201

    def numbers() -> list[str]:
        return [e["data"]["invoice_id"] for e in _events(_ok(receiver.at(path)))]

    # Those before come too if the consumer reached them after the subscription: in order,
    # from whichever it reached first.
    eventually(lambda: numbers()[-2:] == ["C-1-I-4", "C-1-I-5"], timeout=90, what="I-4, I-5")
    got = numbers()
    assert got == [f"C-1-I-{n}" for n in range(6 - len(got), 6)]
    tenant = _events(receiver.at(path))[0]["tenant"]
    # The ledger's events of this tenant come from this stack alone. Credit's do not: every
    # stack on the test broker reads the shared ledger topic and derives its own credit
    # events of every tenant, with sequences of its own, under the same source.
    ledger = [c for c in _sequence_anomalies(hook_stack, tenant) if c[0] == "huikuan/ledger"]
    assert ledger == [("huikuan/ledger", "C-1", 0, 0)]


def test_a_rotated_secret_is_shown_once_and_both_sign_during_the_overlap(
    api: Api, receiver: Receiver
) -> None:
    path = f"/rotate-{secrets.token_hex(4)}"
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    webhook_id = created["webhook_id"]
    key = {"Idempotency-Key": f"r-{secrets.token_hex(4)}"}
    rotated = api.http.post(f"/webhooks/{webhook_id}/rotate-secret", headers=key)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    assert rotated.json()["webhook_id"] == webhook_id
    # A replay of the same call answers the same secret; nothing is rotated again.
    again = api.http.post(f"/webhooks/{webhook_id}/rotate-secret", headers=key)
    assert again.json() == rotated.json() and again.headers["Idempotent-Replayed"] == "true"
    for shown in (api.get(f"/webhooks/{webhook_id}"), api.get("/webhooks")):
        assert new not in shown.text and created["secret"] not in shown.text
    expires = rotated.json()["previous_secret_expires_at"]
    assert api.put_customer("C-ROT").status_code == 201
    assert api.post_invoice("ROT-1", "C-ROT").status_code == 201
    eventually(lambda: _ok(receiver.at(path)), timeout=60, what="delivered after the rotation")
    (request,) = _ok(receiver.at(path))
    timestamp, header = (
        int(request.headers["webhook-timestamp"]),
        request.headers["webhook-signature"],
    )
    assert timestamp < datetime.fromisoformat(expires).timestamp()
    # Two signatures, the new secret's first: a receiver holding either secret accepts it.
    assert len(header.split(" ")) == 2
    Webhook(new).verify(request.body, request.headers)
    Webhook(created["secret"]).verify(request.body, request.headers)
    Webhook(new).verify(request.body, {**request.headers, "webhook-signature": header.split()[0]})
    # Another subscription's secret verifies nothing; an unknown id is a 404.
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request.body, request.headers)
    missing = api.http.post(f"/webhooks/{uuid.uuid4()}/rotate-secret")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_the_delivery_log_pages_newest_first_without_repeats(api: Api, receiver: Receiver) -> None:
    path = f"/pages-{secrets.token_hex(4)}"
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    assert api.put_customer("C-P").status_code == 201
    for n in range(7):
        assert api.post_invoice(f"P-{n}", "C-P").status_code == 201
    eventually(lambda: len(_ok(receiver.at(path))) == 7, timeout=90, what="7 delivered")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/webhooks/{created['webhook_id']}/deliveries?{httpx.QueryParams(params)}")
        assert page.status_code == 200, page.text
        seen += [d["delivery_id"] for d in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {r.headers["webhook-id"] for r in receiver.at(path)}
    # Newest first: the reverse of the order they were sent in (one customer, in order).
    assert seen == [r.headers["webhook-id"] for r in reversed(receiver.at(path))]
    bad = api.get(f"/webhooks/{created['webhook_id']}/deliveries?cursor=nonsense")
    assert bad.status_code == 422


def test_a_failing_receiver_gets_it_on_a_retry(api: Api, receiver: Receiver) -> None:
    path = f"/flaky-{secrets.token_hex(4)}"
    receiver.fail(path, 2)
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    assert api.put_customer("C-F").status_code == 201
    assert api.post_invoice("F-1", "C-F").status_code == 201
    eventually(lambda: _ok(receiver.at(path)), timeout=60, what="delivered after failures")
    assert [r.answered for r in receiver.at(path)] == [503, 503, 204]
    assert len({r.headers["webhook-id"] for r in receiver.at(path)}) == 1
    (entry,) = _deliveries(api, created["webhook_id"])
    assert entry["state"] == "delivered" and entry["attempts"] == 3
    assert entry["last_status_code"] == 204 and entry["next_attempt_at"] is None


def test_a_receiver_that_keeps_failing_ends_failed_and_can_be_redelivered(
    api: Api, receiver: Receiver
) -> None:
    path = f"/down-{secrets.token_hex(4)}"
    receiver.fail(path, -1)
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    webhook_id = created["webhook_id"]
    assert api.put_customer("C-D").status_code == 201
    assert api.post_invoice("D-1", "C-D").status_code == 201

    def failed() -> list[dict[str, Any]]:
        return _deliveries(api, webhook_id, state="failed")

    (entry,) = eventually(failed, timeout=MAX_AGE + 60, what="the delivery is given up")
    attempts = receiver.at(path)
    assert entry["attempts"] == len(attempts) >= 3
    assert entry["last_status_code"] == 503 and "503" in entry["last_error"]
    assert entry["next_attempt_at"] is None and entry["delivered_at"] is None
    assert all(r.answered == 503 for r in attempts)
    pipeline = api.get("/ops/pipeline")
    assert pipeline.status_code == 200, pipeline.text
    gauges = {(g["service"], g["name"]): g for g in pipeline.json()["gauges"]}
    assert gauges[("gateway", "deliveries_failed_24h")]["value"] >= 1
    assert gauges[("gateway", "deliveries_failed_24h")]["status"] != "ok"

    # The receiver is fixed; the failed delivery is sent again on request.
    receiver.fail(path, 0)
    again = api.http.post(f"/webhooks/{webhook_id}/deliveries/{entry['delivery_id']}/redeliver")
    assert again.status_code == 202, again.text
    redelivery = again.json()
    assert redelivery["redelivery_of"] == entry["delivery_id"]
    assert redelivery["event_id"] == entry["event_id"] and redelivery["state"] == "pending"
    eventually(lambda: _ok(receiver.at(path)), timeout=60, what="the redelivery arrives")
    (ok,) = _ok(receiver.at(path))
    assert ok.headers["webhook-id"] == redelivery["delivery_id"]
    assert json.loads(ok.body)["id"] == entry["event_id"]
    assert json.loads(ok.body) == json.loads(attempts[0].body)
    Webhook(created["secret"]).verify(ok.body, ok.headers)
    # Nothing left failed-and-not-redelivered since then: the bulk redelivery finds nothing.
    bulk = api.http.post(
        f"/webhooks/{webhook_id}/redeliver-failed", json={"since": "2000-01-01T00:00:00Z"}
    )
    assert bulk.status_code == 202 and bulk.json()["items"] == []


def test_another_tenant_sees_and_touches_nothing(
    hook_stack: Stack, api: Api, receiver: Receiver
) -> None:
    path = f"/mine-{secrets.token_hex(4)}"
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    webhook_id = created["webhook_id"]
    assert api.put_customer("C-X").status_code == 201
    assert api.post_invoice("X-1", "C-X").status_code == 201
    eventually(lambda: _ok(receiver.at(path)), timeout=60, what="delivered")
    (entry,) = _deliveries(api, webhook_id)
    intruder = Api(
        hook_stack.gateway_url,
        hook_stack.create_tenant_key(f"wh-x-{secrets.token_hex(4)}", "Intruder"),
    )
    assert intruder.get("/webhooks").json()["items"] == []
    for response in (
        intruder.get(f"/webhooks/{webhook_id}"),
        intruder.get(f"/webhooks/{webhook_id}/deliveries"),
        intruder.http.post(f"/webhooks/{webhook_id}/deliveries/{entry['delivery_id']}/redeliver"),
        intruder.http.post(
            f"/webhooks/{webhook_id}/redeliver-failed", json={"since": "2000-01-01T00:00:00Z"}
        ),
        intruder.http.post(f"/webhooks/{webhook_id}/rotate-secret"),
        intruder.http.delete(f"/webhooks/{webhook_id}"),
    ):
        assert response.status_code == 404, response.text
        assert path not in response.text
    # The intruder's own invoice under the same ids goes nowhere near our subscription.
    mine = intruder.http.post("/webhooks", json={"url": receiver.url(path + "-x")})
    assert mine.status_code == 201
    assert intruder.put_customer("C-X").status_code == 201
    assert intruder.post_invoice("X-2", "C-X").status_code == 201
    eventually(lambda: receiver.at(path + "-x"), timeout=60, what="the intruder's own event")
    assert api.get(f"/webhooks/{webhook_id}").status_code == 200
    assert len(_deliveries(api, webhook_id)) == 1
    assert all(json.loads(r.body)["data"]["invoice_id"] != "X-2" for r in receiver.at(path))
    # The intruder's rotation changed nothing: our next delivery is signed by our secret
    # alone.
    assert api.post_invoice("X-3", "C-X").status_code == 201
    eventually(lambda: len(_ok(receiver.at(path))) == 2, timeout=60, what="the next delivery")
    last = _ok(receiver.at(path))[-1]
    assert " " not in last.headers["webhook-signature"]
    Webhook(created["secret"]).verify(last.body, last.headers)


def test_a_suspended_tenants_deliveries_are_held_until_it_is_active_again(
    hook_stack: Stack, receiver: Receiver
) -> None:
    """A delivery being retried when its tenant is suspended is not attempted any more and
    not given up — even past the maximum age — until the tenant is active again; then it
    is delivered."""
    tenant = f"wh-s-{secrets.token_hex(4)}"
    api = Api(hook_stack.gateway_url, hook_stack.create_tenant_key(tenant, "Suspended"))
    operator = Api(hook_stack.gateway_url, hook_stack.operator_key)
    path = f"/held-{secrets.token_hex(4)}"
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    receiver.fail(path, -1)
    assert api.put_customer("C-H").status_code == 201
    assert api.post_invoice("H-1", "C-H").status_code == 201
    eventually(lambda: receiver.at(path), timeout=60, what="the first (failing) attempt")
    assert operator.http.patch(f"/admin/tenants/{tenant}", json={"active": False}).is_success
    tried = len(receiver.at(path))
    receiver.fail(path, 0)  # from now on the receiver would take it
    url = hook_stack.env["DATABASE_URL"]

    def delivery() -> Any:
        (row,) = query(
            url,
            """SELECT state, attempts, now() - created_at > make_interval(secs => $2) AS old
               FROM gateway.webhook_delivery WHERE tenant = $1""",
            tenant,
            float(MAX_AGE + 2),
        )
        return row

    eventually(lambda: delivery()["old"], timeout=60, what="the delivery outlives its max age")
    held = delivery()
    assert held["state"] == "pending", "held, not failed"
    # At most the attempt that was in flight when the tenant was suspended.
    assert len(receiver.at(path)) <= tried + 1 and not _ok(receiver.at(path))
    assert held["attempts"] <= tried + 1
    assert operator.http.patch(f"/admin/tenants/{tenant}", json={"active": True}).is_success
    eventually(lambda: _ok(receiver.at(path)), timeout=60, what="delivered once active")
    (entry,) = _deliveries(api, created["webhook_id"])
    assert entry["state"] == "delivered"
    assert json.loads(_ok(receiver.at(path))[0].body)["data"]["invoice_id"] == "H-1"


def test_a_gateway_restart_mid_delivery_loses_nothing_and_repeats_only_a_delivery_id(
    hook_stack: Stack, api: Api, receiver: Receiver
) -> None:
    """kill -9 of the consumer and the dispatcher while deliveries are in flight: every
    event still arrives, each customer's in order; a delivery cut off before its 2xx was
    recorded may arrive again, always under its own `webhook-id` and event `id`, so the
    receiver can drop the repeat."""
    path = f"/restart-{secrets.token_hex(4)}"
    receiver.slow(path, 0.3)
    created = _subscribe(api, receiver.url(path), ["ledger.invoice_issued.v1"])
    assert api.put_customer("C-R").status_code == 201
    for n in range(1, 9):
        assert api.post_invoice(f"R-{n}", "C-R").status_code == 201
    eventually(lambda: receiver.at(path), timeout=60, what="the first delivery starts")
    hook_stack.kill("gateway-dispatch")
    hook_stack.kill("gateway-consume")
    hook_stack.restart("gateway-consume")
    hook_stack.restart("gateway-dispatch")
    for n in range(9, 11):
        assert api.post_invoice(f"R-{n}", "C-R").status_code == 201

    def arrived() -> list[str]:
        firsts: dict[str, str] = {}
        for request in receiver.at(path):
            firsts.setdefault(
                json.loads(request.body)["id"], json.loads(request.body)["data"]["invoice_id"]
            )
        return list(firsts.values())

    eventually(lambda: len(arrived()) == 10, timeout=90, what="all 10 events arrive")
    assert arrived() == [f"R-{n}" for n in range(1, 11)]
    delivery_of: dict[str, str] = {}
    for request in receiver.at(path):
        event_id = json.loads(request.body)["id"]
        assert (
            delivery_of.setdefault(event_id, request.headers["webhook-id"])
            == (request.headers["webhook-id"])
        )
    log = _deliveries(api, created["webhook_id"])
    assert len(log) == 10
    eventually(
        lambda: all(d["state"] == "delivered" for d in _deliveries(api, created["webhook_id"])),
        timeout=30,
        what="the log shows every delivery delivered",
    )
