"""Derive a customer's score, limits and automatic holds from its facts, and announce changes.

`refresh` is the one place where credit's derived state changes after an event, a rescore
job or a manual change; it runs inside the caller's transaction and holds the customer's
advisory lock, so concurrent refreshes of one customer serialise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import asyncpg
from pydantic import BaseModel

from credit.domain import holds as hold_rules
from credit.domain import limits as limit_rules
from credit.domain import scorecard
from credit.domain.limits import Limit
from credit.domain.orders import Approval, open_approvals
from credit.domain.profile import Fact, RiskProfile, build_profile
from credit.events.outbox import emit_all
from credit.store import approvals, customers, facts, holds, inputs, limits, scores
from huikuan_events.credit import HoldPlaced, HoldReleased, LimitChanged, ScoreChanged


@dataclass(frozen=True, slots=True)
class Refreshed:
    as_of: date
    score_changed: bool


async def exposures(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    all_facts: list[Fact],
    profile_currencies: dict[str, int],
    as_of: date,
) -> dict[str, tuple[int, int]]:
    """currency -> (open receivables, approved open orders) in minor units."""
    approved = await approvals.for_customer(conn, tenant, customer_id)
    return exposure_lines(approved, all_facts, profile_currencies, as_of)


def exposure_lines(
    approved: list[Approval], all_facts: list[Fact], profile_currencies: dict[str, int],
    as_of: date,
) -> dict[str, tuple[int, int]]:  # fmt: skip
    """`exposures` from what was read already."""
    invoice_facts = [f for f in all_facts if f.kind == "invoice"]
    orders = open_approvals(approved, invoice_facts, as_of)
    return {
        c: (profile_currencies.get(c, 0), orders.get(c, 0))
        for c in sorted(set(profile_currencies) | set(orders))
    }


async def refresh(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    *,
    as_of: date | None,
    at: datetime,
) -> Refreshed:
    """Recompute from the facts as of the later of `as_of` and the last date scored."""
    await customers.lock(conn, tenant, customer_id)
    got = await inputs.load(conn, tenant, customer_id)
    prev = got.scored
    days = [d for d in (as_of, prev.as_of if prev else None) if d is not None]
    day = max(days) if days else at.date()
    all_facts = await facts.for_customer(conn, tenant, customer_id)
    profile = build_profile(all_facts, day)
    result = scorecard.score(profile)
    reasons = [asdict(r) for r in result.reasons]
    changed = prev is None or prev.score != result.score or prev.grade != result.grade
    announce: list[BaseModel] = []  # what changed, emitted in this order at the end
    if changed:
        await scores.add_history(
            conn, tenant, customer_id, as_of=day,
            old_score=prev.score if prev else None, new_score=result.score,
            old_grade=prev.grade if prev else None, new_grade=result.grade,
            version=result.version, reasons=reasons, at=at,
        )  # fmt: skip
        announce.append(ScoreChanged(
            customer_id=customer_id,
            old_score=prev.score if prev else None, new_score=result.score,
            old_grade=prev.grade if prev else None, new_grade=result.grade,
            scorecard_version=result.version, reasons=[r.text for r in result.reasons],
            as_of=day,
        ))  # fmt: skip
    await scores.save(
        conn, tenant, customer_id, as_of=day, score=result.score, grade=result.grade,
        version=result.version,
        factors=[{**asdict(f), "lost": f.lost} for f in result.factors],
        reasons=reasons, profile=profile.to_json(),
    )  # fmt: skip
    in_force = await _limits(conn, tenant, customer_id, got, profile, result.grade, announce)
    await _holds(conn, tenant, customer_id, got, all_facts, profile, result.grade, in_force, day,
                 announce)  # fmt: skip
    if announce:
        await emit_all(conn, tenant, customer_id, announce, at)
    return Refreshed(day, changed)


async def _limits(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    got: inputs.Inputs,
    profile: RiskProfile,
    grade: scorecard.Grade,
    announce: list[BaseModel],
) -> dict[str, int | None]:
    current = dict(got.limits)
    for currency, minor in limit_rules.recommended(profile, grade).items():
        old = current.get(currency)
        if old is not None and old.recommended_minor == minor:
            continue
        await limits.set_recommended(conn, tenant, customer_id, currency, minor)
        new = Limit(currency, minor, old.manual_minor if old else None)
        old_force = old.in_force_minor if old else None
        current[currency] = new
        if new.in_force_minor != old_force:
            announce.append(LimitChanged(
                customer_id=customer_id, currency=currency, old_limit_minor=old_force,
                new_limit_minor=new.in_force_minor, source="recommended",
                reason=f"recommended for grade {grade} and recent billing",
            ))  # fmt: skip
    return {c: lim.in_force_minor for c, lim in current.items()}


async def _holds(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    got: inputs.Inputs,
    all_facts: list[Fact],
    profile: RiskProfile,
    grade: scorecard.Grade,
    in_force: dict[str, int | None],
    day: date,
    announce: list[BaseModel],
) -> None:
    policy = got.policy
    open_minor = {c: line.open_minor for c, line in profile.currencies.items()}
    lines = exposure_lines(got.approvals, all_facts, open_minor, day)
    exposure = [
        hold_rules.Exposure(c, receivable + orders, in_force.get(c))
        for c, (receivable, orders) in lines.items()
    ]
    wanted = hold_rules.automatic_causes(profile, grade, exposure, policy)
    active = {r["cause"]: r["detail"] for r in got.holds if not r["manual"]}
    place, release = hold_rules.transitions(active, wanted)
    for cause, detail in sorted(release.items()):
        await holds.release(conn, tenant, customer_id, cause)
        announce.append(HoldReleased(
            customer_id=customer_id, cause=cause, detail=f"cause gone: {detail}", manual=False,
            released_on=day,
        ))  # fmt: skip
    for cause, detail in sorted(place.items()):
        await holds.place(conn, tenant, customer_id, cause, manual=False, detail=detail, on=day)
        announce.append(HoldPlaced(
            customer_id=customer_id, cause=cause, detail=detail, manual=False, placed_on=day,
        ))  # fmt: skip


def expiry(approved_on: date, validity_days: int) -> date:
    return approved_on + timedelta(days=validity_days)
