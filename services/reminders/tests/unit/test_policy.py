"""Policy validation: everything wrong is reported; valid policies pass."""

from __future__ import annotations

from reminders.domain.policy import SHIPPED, Step, validate_steps


def test_shipped_policies_are_valid() -> None:
    for p in SHIPPED.values():
        assert validate_steps(p.steps, p.grades) == []


def test_overlapping_offsets_unknown_channel_and_template_variable_are_refused() -> None:
    steps = [
        Step("a", 1, ("email",), "overdue_notice"),
        Step("b", 1, ("pigeon",), "overdue_notice"),
        Step("c", 5, ("email",), "custom", overrides={"en": {"body": "Hi {{ nickname }}"}}),
        Step("d", 9, ("email",), "no_such_template"),
        Step("e", 12, ("email",), "overdue_notice", action="shout"),
    ]
    errors = {(e.field, e.message.split(";")[0]) for e in validate_steps(steps, ["Z"])}
    assert ("steps.1.offset_days", "offset 1 overlaps step 'a'") in errors
    assert ("steps.1.channels", "unknown channel 'pigeon'") in errors
    assert ("steps.2.templates.en.body", "unknown template variable 'nickname'") in errors
    assert ("steps.3.template", "unknown template 'no_such_template'") in errors
    assert ("steps.4.action", "unknown action 'shout'") in errors
    assert ("grades", "unknown grade 'Z'") in errors


def test_override_with_known_variables_is_valid() -> None:
    body = "{{ customer_name }}: {% for i in invoices %}{{ i.number }} {% endfor %}{{ total }}"
    step = Step("a", 1, ("email", "call"), "custom", overrides={"zh": {"body": body}})
    assert validate_steps([step], ["A"]) == []
