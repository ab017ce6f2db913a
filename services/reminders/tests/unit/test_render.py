"""Templates in Chinese and English, chasing residuals, overridable per tenant."""

from __future__ import annotations

from datetime import date

from reminders.domain.dunning import Due, OpenInvoice
from reminders.domain.policy import SHIPPED, Step
from reminders.render import context, render


def _due(step: Step) -> Due:
    invs = (
        OpenInvoice("I-1", "2026-0001", date(2026, 3, 1), "CNY", 61_725),
        OpenInvoice("I-2", "2026-0002", date(2026, 3, 5), "CNY", 10_000),
    )
    return Due(step, "CNY", invs)


def test_chinese_and_english() -> None:
    step = SHIPPED["standard"].steps[1]
    values = context(
        _due(step), customer_id="C-1", customer_name="华东贸易", as_of=date(2026, 3, 8)
    )
    zh = render(step, "zh-CN", values)
    assert zh.language == "zh" and "逾期" in zh.subject
    assert "2026-0001" in zh.body and "617.25" in zh.body and "717.25" in zh.body
    assert "已逾期 7 天" in zh.body
    en = render(step, "en", values)
    assert en.language == "en" and en.subject.startswith("Overdue notice")
    assert "617.25 CNY outstanding, 7 days overdue" in en.body
    assert "Total outstanding: 717.25 CNY" in en.body


def test_tenant_override() -> None:
    step = Step(
        "s",
        1,
        ("email",),
        "x",
        overrides={"en": {"subject": "Pay {{ total }}", "body": "Dear {{ customer_name }}"}},
    )
    values = context(_due(step), customer_id="C-1", customer_name="Acme", as_of=date(2026, 3, 8))
    out = render(step, "en", values)
    assert (out.subject, out.body) == ("Pay 717.25", "Dear Acme\n")
