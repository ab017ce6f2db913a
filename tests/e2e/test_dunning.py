"""Dunning end to end through the gateway, with reminders sending email to a real SMTP
server (aiosmtpd on localhost): stepping `as_of` day by day over 100 days, a customer who
pays half and promises the rest gets the right reminders with the right residuals, the
promise pauses dunning, breaking it escalates, the credit-hold step puts the customer on
credit hold so the credit check refuses, and the collector tasks left open go to the
owner's manager from the collector directory."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, SmtpSink, eventually

pytestmark = pytest.mark.e2e

ISSUED = date(2026, 3, 2)
DUE = date(2026, 4, 1)  # a Wednesday
PAID_HALF = date(2026, 4, 3)
PROMISED = date(2026, 4, 20)  # + 3 days grace: paused through 2026-04-23


def _dunning(api: Api, on: date) -> dict[str, Any]:
    r = api.get(f"/customers/C-1/dunning?as_of={on}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_pays_half_promises_the_rest_breaks_it_and_is_put_on_hold(
    stack: Stack, tenant: Tenant, smtp: SmtpSink
) -> None:
    api = tenant.api
    address = f"ar@{tenant.id}.example"
    assert (
        api.put_customer(
            "C-1",
            name="华东贸易有限公司",
            email=address,
            country="CN",
            timezone="Asia/Shanghai",
            language="zh",
            owner="li",
            payment_terms_days=30,
        ).status_code
        == 201
    )
    r = api.post_invoice("INV-1", "C-1", "10000.00", issue_date=str(ISSUED), due_date=str(DUE))
    assert r.status_code == 201, r.text
    # The invoice itself, not just the customer: runs before it arrives would chase nothing.
    eventually(
        lambda: api.get("/customers/C-1/dunning").json().get("open_invoice_count") == 1,
        what="reminders saw the invoice",
    )
    # The owner's manager: overdue collector tasks escalate to them.
    assert api.http.put("/collectors/wang", json={"name": "Wang Fang"}).status_code == 201
    looped = api.http.put("/collectors/wang", json={"name": "Wang Fang", "manager": "wang"})
    assert looped.status_code == 422, looped.text
    assert looped.headers["content-type"].startswith("application/problem+json")
    li = api.http.put("/collectors/li", json={"name": "Li Wei", "manager": "wang"})
    assert li.status_code == 201, li.text
    assert api.get("/collectors/li").json()["manager"] == "wang"
    # Pin the standard policy: credit re-grades the customer as the story unfolds.
    pinned = api.http.put("/customers/C-1/dunning/policy", json={"policy_id": "standard"})
    assert pinned.status_code == 200, pinned.text

    runs: dict[date, dict[str, Any]] = {}
    day = DUE - timedelta(days=10)
    while day <= DUE + timedelta(days=100):
        if day == PAID_HALF:
            r = api.http.post(
                "/payments",
                json={
                    "payment_id": "PAY-1",
                    "customer_id": "C-1",
                    "amount": "5000.00",
                    "currency": "CNY",
                    "received_on": str(day),
                    "method": "bank_transfer",
                },
            )
            assert r.status_code == 201, r.text

            def half_paid() -> bool:
                invoices = _dunning(api, PAID_HALF)["invoices"]
                return bool(invoices) and invoices[0]["residual"] == "5000.00"

            eventually(half_paid, what="reminders saw the partial payment")
            r = api.http.post(
                "/customers/C-1/promises",
                json={
                    "promise_id": "PR-1",
                    "amount": "5000.00",
                    "currency": "CNY",
                    "promised_date": str(PROMISED),
                    "taken_by": "li",
                    "made_on": str(day),
                },
            )
            assert r.status_code == 201, r.text
            assert _dunning(api, day)["invoices"][0]["promised"] is True
        r = api.http.post("/dunning/runs", json={"as_of": str(day)})
        assert r.status_code == 200, r.text
        runs[day] = r.json()
        day += timedelta(days=1)

    items = api.get("/reminders?customer_id=C-1").json()["items"]
    # The same list in pages of two, following next_cursor to the end.
    paged: list[str] = []
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = {"customer_id": "C-1", "limit": 2}
        if cursor:
            query["cursor"] = cursor
        page = api.http.get("/reminders", params=query).json()
        paged += [i["reminder_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [i["reminder_id"] for i in items] and len(paged) > 2
    bad = api.http.get("/reminders", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    said = [(i["as_of"], i["step"], i["channel"], i["residual"], i["status"]) for i in items]
    assert said[:2] == [
        ("2026-03-25", "friendly_reminder", "email", "10000.00", "sent"),
        ("2026-04-02", "overdue_notice", "email", "10000.00", "sent"),
    ]
    # Nothing while the promise held (through 2026-04-23); the break escalates at once, on
    # the next business day, past the call step time had reached to the warning letter.
    assert not [s for s in said if "2026-04-03" <= s[0] <= "2026-04-23"]
    assert runs[date(2026, 4, 24)]["promises_broken"] == 1
    assert ("2026-04-24", "warning_letter", "letter", "5000.00", "sent") in said
    assert ("2026-04-24", "warning_letter", "email", "5000.00", "sent") in said
    # Every later reminder chases the residual, and every one went out once.
    assert {s[3] for s in said[2:]} == {"5000.00"}
    hold_runs = [d for d, run in runs.items() if run["escalations"]]
    assert hold_runs and min(hold_runs) > date(2026, 4, 24)
    assert any(s[1] == "credit_hold" for s in said)
    emails = [s for s in said if s[2] == "email"]
    received = smtp.to(address)
    assert len(received) == len(emails)
    assert len({m["Message-ID"] for m in received}) == len(emails)
    first = received[0]
    assert first["Subject"].startswith("友好提醒")
    text = first.get_content().replace("\r\n", "\n")
    assert "N-INV-1" in text and "未付余额 10000.00 CNY\n合计未付" in text

    promises = api.get("/customers/C-1/promises").json()["items"]
    assert [(p["status"], p["paid"], p["judged_on"]) for p in promises] == [
        ("broken", "0.00", "2026-04-24")
    ]
    tasks = api.get(f"/worklist?owner=li&date={DUE + timedelta(days=100)}").json()["items"]
    assert {t["kind"] for t in tasks} == {"visit", "legal"}
    assert {t["residual"] for t in tasks} == {"5000.00"}
    # Left open past their grace, both went to li's manager: on wang's worklist, flagged.
    boss = api.get(f"/worklist?owner=wang&date={DUE + timedelta(days=100)}").json()["items"]
    assert sorted((t["kind"], t["owner"], t["escalated"], t["escalated_to"]) for t in boss) == [
        ("legal", "li", True, "wang"),
        ("visit", "li", True, "wang"),
    ]
    done = api.http.post(
        f"/tasks/{tasks[0]['task_id']}/complete",
        json={"outcome": "reached", "note": "will pay Friday"},
    )
    assert done.status_code == 200 and done.json()["status"] == "done"

    # The credit-hold step asked credit for a hold; credit placed it; checks now refuse.
    credit = eventually(
        lambda: (c := api.get("/customers/C-1/credit").json()).get("on_hold") and c,
        what="credit placed the hold dunning asked for",
    )
    assert credit["on_hold"] is True
    check = api.http.post(
        "/credit-checks",
        json={
            "customer_id": "C-1",
            "amount": "100.00",
            "currency": "CNY",
            "order_id": "ORD-1",
        },
    )
    assert check.status_code == 200, check.text
    assert check.json()["decision"] == "reject"


def test_bad_policy_is_refused_with_problem_json(tenant: Tenant) -> None:
    api = tenant.api
    bad = api.http.put(
        "/dunning/policies/mine",
        json={
            "grades": ["C"],
            "steps": [
                {
                    "name": "a",
                    "offset_days": 1,
                    "channels": ["email"],
                    "template": "overdue_notice",
                },
                {"name": "b", "offset_days": 1, "channels": ["fax"], "template": "overdue_notice"},
                {
                    "name": "c",
                    "offset_days": 5,
                    "channels": ["email"],
                    "template": "x",
                    "templates": {"en": {"body": "{{ secret }}"}},
                },
            ],
        },
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"steps.1.offset_days", "steps.1.channels", "steps.2.templates.en.body"}
    assert api.get("/dunning/policies/mine").status_code == 404

    good = api.http.put(
        "/dunning/policies/mine",
        json={
            "grades": ["C"],
            "steps": [
                {
                    "name": "nudge",
                    "offset_days": 2,
                    "channels": ["email", "call"],
                    "template": "overdue_notice",
                },
            ],
        },
    )
    assert good.status_code == 200, good.text
    assert good.json()["version"] == 1
    assert api.get("/dunning/policies/mine").json()["steps"][0]["channels"] == ["email", "call"]
    assert api.get("/dunning/policies/standard").json()["version"] == 0


def test_manual_pause_and_dispute_hold_reminders_back(tenant: Tenant) -> None:
    api = tenant.api
    assert (
        api.put_customer(
            "C-1", email=f"ap@{tenant.id}.example", language="en", country="CN"
        ).status_code
        == 201
    )
    for iid in ("INV-A", "INV-B"):
        r = api.post_invoice(iid, "C-1", "300.00", issue_date=str(ISSUED), due_date=str(DUE))
        assert r.status_code == 201, r.text
    eventually(
        lambda: api.get("/customers/C-1/dunning").json().get("open_invoice_count") == 2,
        what="reminders saw both invoices",
    )
    api.http.put("/customers/C-1/dunning/policy", json={"policy_id": "standard"})
    r = api.http.post(
        "/invoices/INV-A/disputes",
        json={
            "dispute_id": "D-1",
            "reason": "damaged goods",
            "amount": "300.00",
            "currency": "CNY",
            "opened_on": str(DUE),
        },
    )
    assert r.status_code == 201, r.text
    eventually(
        lambda: any(i["disputed"] for i in _dunning(api, DUE)["invoices"]),
        what="reminders saw the dispute",
    )
    paused = api.http.post(
        "/customers/C-1/dunning/pause",
        json={"until": str(DUE + timedelta(days=5)), "reason": "CFO on leave"},
    )
    assert paused.status_code == 200, paused.text
    # 2026-04-02 and 04-03 are paused; the pause ends after 04-06; 04-07 is the next send.
    for day in (date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 7)):
        assert api.http.post("/dunning/runs", json={"as_of": str(day)}).status_code == 200
    items = api.get("/reminders?customer_id=C-1").json()["items"]
    assert [
        (i["as_of"], i["step"], [(v["invoice_id"], v["residual"]) for v in i["invoices"]])
        for i in items
    ] == [("2026-04-07", "overdue_notice", [("INV-B", "300.00")])]
    assert [i["residual"] for i in items] == ["300.00"]
    state = _dunning(api, date(2026, 4, 7))
    assert (state["paused_until"], state["pause_reason"]) == ("2026-04-06", "CFO on leave")
    assert api.http.delete("/customers/C-1/dunning/pause").json()["paused_until"] is None


def test_a_tenants_broken_template_is_refused_or_fails_alone(
    stack: Stack, tenant: Tenant, smtp: SmtpSink
) -> None:
    """`{{ 1/0 }}` used to make the tenant's runs and reminder list answer 503 and crash
    the scheduler for everyone: now it is a 422 when saved, and a template that fails only
    on real data fails its own reminder, recorded, while the API goes on answering."""
    api = tenant.api

    def policy(body: str) -> dict[str, Any]:
        step = {
            "name": "overdue_notice",
            "offset_days": 1,
            "channels": ["email"],
            "template": "overdue_notice",
            "templates": {"en": {"subject": "Overdue", "body": body}},
        }
        return {"grades": [], "steps": [step]}

    refused = api.http.put("/dunning/policies/house", json=policy("{{ 1/0 }}"))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"] == [
        {"field": "steps.0.templates.en.body", "message": "division by zero"}
    ]
    assert api.get("/dunning/policies/house").status_code == 404  # nothing written
    # Fine on the sample (one invoice), broken for a customer with two.
    latent = "{% if invoices | length > 1 %}{{ 1/0 }}{% endif %}Please pay {{ total }}."
    saved = api.http.put("/dunning/policies/house", json=policy(latent))
    assert saved.status_code == 200, saved.text
    address = f"ar@{tenant.id}.example"
    r = api.put_customer("C-1", email=address, language="en", country="CN")
    assert r.status_code == 201, r.text
    for n in (1, 2):
        r = api.post_invoice(f"INV-{n}", "C-1", issue_date="2026-03-02", due_date=str(DUE))
        assert r.status_code == 201, r.text
    eventually(
        lambda: api.get("/customers/C-1/dunning").json().get("open_invoice_count") == 2,
        what="reminders saw both invoices",
    )
    pinned = api.http.put("/customers/C-1/dunning/policy", json={"policy_id": "house"})
    assert pinned.status_code == 200, pinned.text
    run = api.http.post("/dunning/runs", json={"as_of": str(DUE + timedelta(days=1))})
    assert run.status_code == 200, run.text
    assert (run.json()["reminders_recorded"], run.json()["failed"]) == (1, 1)
    listed = api.get("/reminders?customer_id=C-1")
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["status"], item["last_error"]) == ("failed", "template body: division by zero")
    assert address not in {m["To"] for m in smtp.messages}
