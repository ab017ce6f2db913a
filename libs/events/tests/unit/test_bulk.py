"""Events in bulk (`huikuan_events.bulk`): the same bytes as an instance of the models would
give, every field checked by its own schema, and only plain models accepted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, model_validator

from huikuan_events import EVENT_TYPES, Envelope, bulk, type_name, uuid7_texts
from huikuan_events.credit import ScoreChanged
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_events.reminders import DunningEscalated, ReminderSent, TaskCreated

AT = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)
PAYLOADS: list[BaseModel] = [
    TaskCreated(
        task_id="t-1",
        customer_id='C-"引号"\\1',
        kind="call",
        owner=None,
        due_on=date(2026, 12, 30),
        invoice_ids=['I-\\"1"\n', "I-2"],
    ),
    DunningEscalated(  # escalated_to left to its default
        customer_id="C-1",
        policy_id="standard",
        step="credit_hold",
        action="request_credit_hold",
        reason="2 invoice(s), 200.01 CNY outstanding, up to 50 days overdue",
        invoice_ids=["I-1", "I-2"],
        as_of=date(2026, 12, 30),
    ),
    ReminderSent(
        reminder_id="r-1",
        customer_id="C-1",
        policy_id="standard",
        step="overdue_notice",
        channel="email",
        invoice_ids=["I-1"],
        currency="CNY",
        residual_minor=0,
        sent_at=AT,
    ),
    ScoreChanged(
        customer_id="C-1",
        new_score=640,
        new_grade="B",
        scorecard_version="2026-11.1",
        reasons=["paid late twice"],
        as_of=date(2026, 12, 30),
    ),
    InvoiceIssued(
        invoice_id="I-1",
        customer_id="C-1",
        number="N-1",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        currency="CNY",
        amount_minor=123450,
    ),
    CustomerUpserted(customer_id="C-1", name="Acme", currency="CNY", payment_terms_days=30),
]


def _envelope_columns(subjects: list[str]) -> dict[str, list[Any]]:
    n = len(subjects)
    return {
        "id": uuid7_texts(n),
        "subject": subjects,
        "time": [AT] * n,
        "subjectseq": list(range(1, n + 1)),
    }


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_the_bytes_are_those_of_the_models(payload: BaseModel) -> None:
    model = type(payload)
    envelope = _envelope_columns(["C-1", "C-2"])
    same = {"source": "huikuan/test", "type": type_name(model), "tenant": "acme"}
    # The payload given by every field, and by those it was given alone (defaults left out).
    full = {name: [getattr(payload, name)] * 2 for name in model.model_fields}
    given = {n: v for n, v in full.items() if n in payload.model_fields_set}
    for data in (full, given):
        written = bulk.envelope_bytes(model, same, envelope, data)
        for k, raw in enumerate(written):
            expected = Envelope(
                id=envelope["id"][k],
                source="huikuan/test",
                type=type_name(model),
                subject=envelope["subject"][k],
                time=AT,
                tenant="acme",
                subjectseq=k + 1,
                data=payload.model_dump(mode="json"),
            )
            assert raw == expected.to_bytes()


def test_every_event_type_has_a_bulk_path() -> None:
    for model in EVENT_TYPES.values():
        assert bulk.check(model, {name: [] for name in model.model_fields}) is not None


def test_each_field_is_checked_by_its_own_schema() -> None:
    good: dict[str, list[Any]] = {
        "task_id": ["t-1"],
        "customer_id": ["C-1"],
        "kind": ["call"],
        "owner": [None],
        "due_on": ["2026-12-30"],  # coerced as the model would
        "invoice_ids": [("I-1",)],
    }
    checked = bulk.check(TaskCreated, good)
    assert checked["due_on"] == [date(2026, 12, 30)] and checked["invoice_ids"] == [["I-1"]]
    assert list(checked) == list(TaskCreated.model_fields)
    with pytest.raises(ValueError, match=r"TaskCreated\.kind"):
        bulk.check(TaskCreated, {**good, "kind": ["dance"]})
    with pytest.raises(ValueError, match=r"TaskCreated\.owner: required"):
        bulk.check(TaskCreated, {k: v for k, v in good.items() if k != "owner"})
    with pytest.raises(ValueError, match="has no field colour"):
        bulk.check(TaskCreated, {**good, "colour": ["red"]})
    with pytest.raises(ValueError, match=r"TaskCreated\.kind: 2 values, not 1"):
        bulk.check(TaskCreated, {**good, "kind": ["call", "visit"]})
    with pytest.raises(ValueError, match=r"InvoiceIssued\.amount_minor"):
        bulk.check(
            InvoiceIssued,
            {
                "invoice_id": ["I-1"],
                "customer_id": ["C-1"],
                "number": ["N-1"],
                "issue_date": [date(2026, 1, 1)],
                "due_date": [date(2026, 2, 1)],
                "currency": ["CNY"],
                "amount_minor": [0],
            },
        )
    # A field left out takes its default.
    required = {n: [v] for n, v in PAYLOADS[1].model_dump().items() if n != "escalated_to"}
    assert bulk.check(DunningEscalated, required)["escalated_to"] == [None]


def test_a_model_with_rules_of_its_own_is_refused() -> None:
    class Checked(BaseModel):
        a: int

        @model_validator(mode="after")
        def positive(self) -> Checked:
            return self

    with pytest.raises(TypeError, match="not a plain model"):
        bulk.check(Checked, {"a": [1]})


def test_the_envelope_fields_are_checked_too() -> None:
    data = {name: [value] for name, value in PAYLOADS[0].model_dump().items()}
    same = {"source": "huikuan/test", "type": "reminders.task_created.v1", "tenant": ""}
    with pytest.raises(ValueError, match=r"Envelope\.tenant"):
        bulk.envelope_bytes(TaskCreated, same, _envelope_columns(["C-1"]), data)
    with pytest.raises(ValueError, match=r"Envelope\.id"):
        bulk.envelope_bytes(
            TaskCreated,
            {**same, "tenant": "acme"},
            {**_envelope_columns(["C-1"]), "id": ["x"]},
            data,
        )
