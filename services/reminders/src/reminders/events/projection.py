"""Which of reminders' tables are a projection of the events it consumes, and which are
its own records (`python -m reminders rebuild`, `huikuan_runtime.rebuild`).

Rebuilt from `ledger.events.v1` and `credit.events.v1`: the dunning book — who to contact
(`contact`), the invoices to chase with their residuals, disputes and dunning cycles
(`chased_invoice`), what each payment paid (`applied_payment`) and each customer's credit
grade (`dunning_customer`).

Reminders' own, carried over from the live schema at the switch: policies, collectors,
channel settings, the reminders and collector tasks its runs decided and their deliveries,
the steps taken, promises to pay, and the parts of the book the runs and people change (a
customer's pause and pinned policy; an invoice's escalation after a broken promise).
Promises are copied only at the switch, after the replay: the payments replayed would
otherwise count toward them a second time (the live promises already hold them).
"""

from __future__ import annotations

from huikuan_runtime.rebuild import Carried, Projection

PROJECTION = Projection(
    tables=("contact", "chased_invoice", "applied_payment", "dunning_customer"),
    carried=(
        Carried("dunning_policy"),
        Carried("collector"),
        Carried("channel_settings"),
        Carried(  # the rebuilt rows have none of these: only the ones set are copied
            "dunning_customer",
            rows="pinned_policy IS NOT NULL OR paused_until IS NOT NULL",
            columns=("pinned_policy", "paused_until", "pause_reason"),
            key=("tenant", "customer_id"),
        ),
        Carried(
            "chased_invoice",
            rows="escalate <> 0",
            columns=("escalate",),
            key=("tenant", "invoice_id"),
        ),
        Carried("reminder"),
        Carried("delivery_attempt"),
        Carried("step_taken"),
        Carried("task"),
        Carried("promise"),
    ),
)
