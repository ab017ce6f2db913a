"""What a reminder says: rendered from what the run recorded (the step of the recorded
policy version, the invoices and residuals at that moment, its as_of) in the customer's
language. The run records reminders without text (one set-based statement, no rendering);
delivery renders the text once, before the first attempt, and keeps it: what was sent is
what is stored. Until then the API shows the same rendering as a preview."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from reminders.channels import Message
from reminders.channels.recording import letter_html
from reminders.domain.policy import SHIPPED, Policy, Step
from reminders.render import Rendered, Renderer, recorded_context
from reminders.service.policies import from_row, policies
from reminders.store import book, dunning


@dataclass(slots=True)
class Composer:
    """Renders recorded reminders; caches policies and names across a batch of them.
    A template that cannot be rendered raises `reminders.render.TemplateProblem`."""

    renderer: Renderer
    _policies: dict[tuple[str, str, int], Policy | None] = field(default_factory=dict)
    _names: dict[tuple[str, str], str] = field(default_factory=dict)

    async def _policy(
        self, conn: asyncpg.Connection, tenant: str, policy_id: str, version: int
    ) -> Policy | None:
        key = (tenant, policy_id, version)
        if key not in self._policies:
            found: Policy | None = None
            if version == 0:
                found = SHIPPED.get(policy_id)
            else:
                row = await dunning.policy_version(conn, tenant, policy_id, version)
                found = from_row(row) if row is not None else None
            if found is None:  # not kept: the policy in force under that id
                found = (await policies(conn, tenant)).get(policy_id)
            self._policies[key] = found
        return self._policies[key]

    async def _name(self, conn: asyncpg.Connection, tenant: str, customer_id: str) -> str:
        key = (tenant, customer_id)
        if key not in self._names:  # not read with the reminder
            row = await book.contact(conn, tenant, customer_id)
            self._names[key] = (row["name"] if row is not None else None) or customer_id
        return self._names[key]

    async def text(self, conn: asyncpg.Connection, r: asyncpg.Record) -> tuple[str, str]:
        """(subject, body) of a recorded reminder: its stored text, or rendered now."""
        if r["body"] is not None:
            return r["subject"] or "", r["body"]
        policy = await self._policy(conn, r["tenant"], r["policy_id"], r["policy_version"])
        step = next((s for s in policy.steps if s.name == r["step"]), None) if policy else None
        if step is None:  # the step is gone from the policy: its name stands in as template
            step = Step(r["step"], 0, (r["channel"],), "overdue_notice")
        values = recorded_context(
            step=r["step"],
            currency=r["currency"],
            residual_minor=r["residual_minor"],
            invoices=r["invoices"],
            customer_id=r["customer_id"],
            customer_name=r.get("customer_name")
            or await self._name(conn, r["tenant"], r["customer_id"]),
            as_of=r["as_of"],
        )
        text: Rendered = await self.renderer.render(step, r["language"], values)
        body = text.body
        if r["channel"] == "letter":
            body = letter_html(
                Message(
                    "",
                    r["idempotency_key"],
                    r["tenant"],
                    r["customer_id"],
                    r["channel"],
                    None,
                    text.language,
                    text.subject,
                    body,
                )
            )
        return text.subject, body
