"""Templates in Chinese and English, chasing residuals, overridable per tenant; a tenant's
own template renders in a bounded worker and every way it can fail is a `TemplateProblem`
that says what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from reminders.domain.dunning import Due, OpenInvoice
from reminders.domain.policy import SHIPPED, Step
from reminders.render import Limits, Renderer, TemplateProblem, context, sample_values


def _due(step: Step) -> Due:
    invs = (
        OpenInvoice("I-1", "2026-0001", date(2026, 3, 1), "CNY", 61_725),
        OpenInvoice("I-2", "2026-0002", date(2026, 3, 5), "CNY", 10_000),
    )
    return Due(step, "CNY", invs)


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    # Small bounds, so the hostile templates below hit them quickly.
    r = Renderer(Limits(seconds=0.5, memory_bytes=512 << 20))
    yield r
    r.close()


def _own(body: str, subject: str = "Reminder") -> Step:
    return Step("s", 1, ("email",), "x", overrides={"en": {"subject": subject, "body": body}})


async def test_chinese_and_english(renderer: Renderer) -> None:
    step = SHIPPED["standard"].steps[1]
    values = context(
        _due(step), customer_id="C-1", customer_name="华东贸易", as_of=date(2026, 3, 8)
    )
    zh = await renderer.render(step, "zh-CN", values)
    assert zh.language == "zh" and "逾期" in zh.subject
    assert "2026-0001" in zh.body and "617.25" in zh.body and "717.25" in zh.body
    assert "已逾期 7 天" in zh.body
    en = await renderer.render(step, "en", values)
    assert en.language == "en" and en.subject.startswith("Overdue notice")
    assert "617.25 CNY outstanding, 7 days overdue" in en.body
    assert "Total outstanding: 717.25 CNY" in en.body


async def test_tenant_override(renderer: Renderer) -> None:
    step = Step(
        "s",
        1,
        ("email",),
        "x",
        overrides={"en": {"subject": "Pay {{ total }}", "body": "Dear {{ customer_name }}"}},
    )
    values = context(_due(step), customer_id="C-1", customer_name="Acme", as_of=date(2026, 3, 8))
    out = await renderer.render(step, "en", values)
    assert (out.subject, out.body) == ("Pay 717.25", "Dear Acme\n")


@pytest.mark.parametrize(
    ("body", "subject", "part", "says"),
    [
        ("{{ 1/0 }}", "Hi", "body", "division by zero"),
        ("{{ invoices[7].number }}", "Hi", "body", "no element 7"),
        ("Hello", 'Hi{{ "\\n" }}Bcc: all@example.com', "subject", "one line"),
        ("{{ 'x' * 10**10 }}", "Hi", "body", "repetition (*)"),
        ("{{ [0] * 10**10 }}", "Hi", "body", "repetition (*)"),
        ("{{ 2**100000 }}", "Hi", "body", "power (**)"),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "Hi",
            "body",
            "loops over more than 10,000 items",
        ),
        ("{% for i in range(5000) %}{{ 'x' * 100 }}{% endfor %}", "Hi", "body", "50,000"),
        ("Hello", "{{ 'x' * 300 }}", "subject", "longer than 200 characters"),
        ("x" * 10_001, "Hi", "body", "longer than 10,000 characters"),
        ("{{ ''.__class__.__mro__ }}", "Hi", "body", "unsafe"),
        (
            # Work without range: strings to loop over, nested; stopped by the alarm.
            "{% for a in 'x' * 9000 %}{% for b in 'x' * 9000 %}{% endfor %}{% endfor %}",
            "Hi",
            "body",
            "takes longer than 0.5 s",
        ),
    ],
)
async def test_a_hostile_template_is_a_problem_that_says_what_is_wrong(
    renderer: Renderer, body: str, subject: str, part: str, says: str
) -> None:
    with pytest.raises(TemplateProblem) as caught:
        await renderer.render(_own(body, subject), "en", sample_values("s"))
    assert caught.value.part == part
    assert says in caught.value.message, caught.value.message
    # The worker is still there for the next tenant.
    fine = await renderer.render(_own("Dear {{ customer_name }}"), "en", sample_values("s"))
    assert fine.body == "Dear 示例客户 Example Ltd\n"


async def test_memory_is_bounded_in_the_worker() -> None:
    # Memory without `*`: a string doubled by concatenation until the worker's cap stops it
    # (time bound generous here, so that the cap is what stops it on a busy machine).
    renderer = Renderer(Limits(seconds=60, memory_bytes=256 << 20))
    greedy = (
        "{% set ns = namespace(s='x' * 50000) %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
    )
    try:
        with pytest.raises(TemplateProblem) as caught:
            await renderer.render(_own(greedy), "en", sample_values("s"))
        assert (caught.value.part, caught.value.message) == (
            "body",
            "needs too much memory to render",
        )
        fine = await renderer.render(_own("{{ total }}"), "en", sample_values("s"))
        assert fine.body == "1234.50\n"
    finally:
        renderer.close()


async def test_sample_data_is_what_a_saved_template_is_tried_on(renderer: Renderer) -> None:
    step = _own("{{ invoices[0].number }} {{ invoices[0].days_overdue }} {{ total }} {{ as_of }}")
    out = await renderer.render(step, "en", sample_values("s"))
    assert out.body == "2026-0001 10 1234.50 2026-02-10\n"
