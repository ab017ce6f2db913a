"""Reminder text from Jinja2 templates, in Chinese or English by the customer's language;
a policy step may override the shipped text per tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from huikuan_runtime.money import Money
from reminders.domain.dunning import Due
from reminders.domain.policy import Step

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

_files = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
)
_inline = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True
)


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    subject: str
    body: str


def language_of(language: str | None) -> str:
    """`zh` unless the customer's language is English."""
    return "en" if (language or "").lower().startswith("en") else "zh"


def context(due: Due, *, customer_id: str, customer_name: str, as_of: date) -> dict[str, Any]:
    return recorded_context(
        step=due.step.name,
        currency=due.currency,
        residual_minor=due.residual_minor,
        invoices=[
            {
                "invoice_id": i.invoice_id,
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "residual": Money(i.residual_minor, i.currency).format(),
            }
            for i in due.invoices
        ],
        customer_id=customer_id,
        customer_name=customer_name,
        as_of=as_of,
    )


def recorded_context(
    *,
    step: str,
    currency: str,
    residual_minor: int,
    invoices: Sequence[Mapping[str, Any]],
    customer_id: str,
    customer_name: str,
    as_of: date,
) -> dict[str, Any]:
    """The template variables from what a reminder recorded: its invoices as stored
    (invoice_id, number, due_date ISO, residual decimal string) and its as_of."""
    return {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "step": step,
        "as_of": as_of.isoformat(),
        "currency": currency,
        "total": Money(residual_minor, currency).format(),
        "invoices": [
            {
                "invoice_id": i["invoice_id"],
                "number": i["number"],
                "due_date": i["due_date"],
                "residual": i["residual"],
                "days_overdue": max((as_of - date.fromisoformat(i["due_date"])).days, 0),
            }
            for i in invoices
        ],
    }


def render(step: Step, language: str | None, values: Mapping[str, Any]) -> Rendered:
    lang = language_of(language)
    override = step.overrides.get(lang)
    if override and "body" in override:
        subject = _inline.from_string(override.get("subject", step.name)).render(values)
        body = _inline.from_string(override["body"]).render(values)
        return Rendered(lang, subject.strip(), body.strip() + "\n")
    text = _files.get_template(f"{lang}/{step.template}.txt").render(values)
    subject, _, body = text.partition("\n")
    return Rendered(lang, subject.strip(), body.strip() + "\n")
