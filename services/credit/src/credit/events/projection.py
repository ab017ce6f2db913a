"""Which of credit's tables are a projection of the events it consumes, and which hold what
credit itself was told (`python -m credit rebuild`, `huikuan_runtime.rebuild`).

Rebuilt from `ledger.events.v1` and `reminders.events.v1`: the facts and everything derived
from them (profiles, scores, score history, recommended limits, automatic holds).

Credit's own, carried over from the live schema: what people decided through the API — each
tenant's hold policy, manual limits, manual holds — and the orders credit checks approved.
The derivation reads them (a hold policy decides the automatic holds, a manual limit the
over-limit hold, approved orders the exposure), so they are copied in before the replay and
the projection is derived under them, as they stand now, and again at the switch.
"""

from __future__ import annotations

from huikuan_runtime.rebuild import Carried, Projection

PROJECTION = Projection(
    tables=(
        "customer_profile",
        "credit_fact",
        "credit_state",
        "score_history",
        "credit_limit",
        "credit_hold",
    ),
    inputs=(
        Carried("hold_policy"),
        Carried("credit_approval"),
        # Rows a person set a limit on (or cleared it: `manual_set_at` stays).
        Carried(
            "credit_limit",
            rows="manual_set_at IS NOT NULL",
            columns=("manual_minor", "manual_reason", "manual_set_by", "manual_set_at"),
            key=("tenant", "customer_id", "currency"),
        ),
        Carried("credit_hold", rows="manual"),
    ),
)
