"""Derive customers' scores, limits and automatic holds from their facts, and announce changes.

`derive` is the one place where credit's derived state is computed. It is pure: it takes a
customer's standing (`store.inputs.Inputs`), all its facts and a date, and says what changes.
`Changes` gathers the derivations of a run and writes them with a few set-based statements.
Two callers drive them, inside the caller's transaction and holding the customers' advisory
locks, so concurrent derivations of one customer serialise:

- `refresh`: one customer after a manual change;
- `learn`: a run of consumed events, in order, or a chunk of the rescore job's customers.
  Each event is derived on its own, exactly as if the events came one per transaction (same
  score history, events and rows), but the run reads each customer's standing once, keeps
  its facts in memory (`FactCache`), derives in memory, and writes once.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field, replace
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
from credit.store.inputs import Hold, Inputs, Scored
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
    approved: list[Approval],
    all_facts: list[Fact],
    profile_currencies: dict[str, int],
    as_of: date,
) -> dict[str, tuple[int, int]]:
    """`exposures` from what was read already."""
    orders = (
        open_approvals(approved, [f for f in all_facts if f.kind == "invoice"], as_of)
        if approved
        else {}
    )
    return {
        c: (profile_currencies.get(c, 0), orders.get(c, 0))
        for c in sorted(set(profile_currencies) | set(orders))
    }


@dataclass(slots=True)
class Derived:
    """What one derivation of one customer changes."""

    customer_id: str
    at: datetime
    state: scores.State
    change: scores.Change | None  # the score or grade moved
    recommended: dict[str, int]  # currency -> new recommended limit
    placed: dict[str, str]  # automatic holds placed: cause -> detail
    released: dict[str, str]
    announce: list[BaseModel]  # the events, in order

    @property
    def day(self) -> date:
        return self.state.as_of


def derive(
    customer_id: str, got: Inputs, all_facts: list[Fact], as_of: date | None, at: datetime
) -> Derived:
    """Score, limits and holds from the facts as of the later of `as_of` and the last date
    scored (scores never move back in time)."""
    prev = got.scored
    days = [d for d in (as_of, prev.as_of if prev else None) if d is not None]
    day = max(days) if days else at.date()
    profile = build_profile(all_facts, day)
    result = scorecard.score(profile)
    reasons = [r.to_json() for r in result.reasons]
    announce: list[BaseModel] = []
    change = None
    if prev is None or prev.score != result.score or prev.grade != result.grade:
        change = scores.Change(
            customer_id,
            day,
            prev.score if prev else None,
            result.score,
            prev.grade if prev else None,
            result.grade,
            result.version,
            reasons,
            at,
        )
        announce.append(
            ScoreChanged(
                customer_id=customer_id,
                old_score=prev.score if prev else None,
                new_score=result.score,
                old_grade=prev.grade if prev else None,
                new_grade=result.grade,
                scorecard_version=result.version,
                reasons=[r.text for r in result.reasons],
                as_of=day,
            )
        )
    state = scores.State(
        customer_id,
        day,
        result.score,
        result.grade,
        result.version,
        [f.to_json() for f in result.factors],
        reasons,
        profile.to_json(),
        facts_digest=None,
    )
    recommended, in_force = _limits(customer_id, got, profile, result.grade, announce)
    placed, released = _holds(
        customer_id, got, all_facts, profile, result.grade, in_force, day, announce
    )
    return Derived(customer_id, at, state, change, recommended, placed, released, announce)


def _limits(
    customer_id: str,
    got: Inputs,
    profile: RiskProfile,
    grade: scorecard.Grade,
    announce: list[BaseModel],
) -> tuple[dict[str, int], dict[str, int | None]]:
    """(recommended limits that change, the limit in force per currency afterwards)"""
    current = dict(got.limits)
    changed: dict[str, int] = {}
    for currency, minor in limit_rules.recommended(profile, grade).items():
        old = current.get(currency)
        if old is not None and old.recommended_minor == minor:
            continue
        changed[currency] = minor
        new = _recommending(old, currency, minor)
        old_force = old.in_force_minor if old else None
        current[currency] = new
        if new.in_force_minor != old_force:
            announce.append(
                LimitChanged(
                    customer_id=customer_id,
                    currency=currency,
                    old_limit_minor=old_force,
                    new_limit_minor=new.in_force_minor,
                    source="recommended",
                    reason=f"recommended for grade {grade} and recent billing",
                )
            )
    return changed, {c: lim.in_force_minor for c, lim in current.items()}


def _recommending(old: Limit | None, currency: str, minor: int) -> Limit:
    """`old` (or no limit) with a new recommended amount; a manual limit stays."""
    if old is None:
        return Limit(currency, minor, None)
    return replace(old, recommended_minor=minor)


def _holds(
    customer_id: str,
    got: Inputs,
    all_facts: list[Fact],
    profile: RiskProfile,
    grade: scorecard.Grade,
    in_force: dict[str, int | None],
    day: date,
    announce: list[BaseModel],
) -> tuple[dict[str, str], dict[str, str]]:
    """(automatic holds to place, to release): cause -> detail."""
    open_minor = {c: line.open_minor for c, line in profile.currencies.items()}
    lines = exposure_lines(got.approvals, all_facts, open_minor, day)
    exposure = [
        hold_rules.Exposure(c, receivable + orders, in_force.get(c))
        for c, (receivable, orders) in lines.items()
    ]
    wanted = hold_rules.automatic_causes(profile, grade, exposure, got.policy)
    active = {h.cause: h.detail for h in got.holds.values() if not h.manual}
    place, release = hold_rules.transitions(active, wanted)
    for cause, detail in sorted(release.items()):
        announce.append(
            HoldReleased(
                customer_id=customer_id,
                cause=cause,
                detail=f"cause gone: {detail}",
                manual=False,
                released_on=day,
            )
        )
    for cause, detail in sorted(place.items()):
        announce.append(
            HoldPlaced(
                customer_id=customer_id,
                cause=cause,
                detail=detail,
                manual=False,
                placed_on=day,
            )
        )
    return place, release


@dataclass(slots=True)
class Changes:
    """The derivations of one tenant's run, written together by `save`."""

    tenant: str
    states: dict[str, scores.State] = field(default_factory=dict)
    history: list[scores.Change] = field(default_factory=list)
    recommended: dict[tuple[str, str], int] = field(default_factory=dict)
    released: set[tuple[str, str]] = field(default_factory=set)  # (customer, cause)
    placed: dict[tuple[str, str], tuple[str, date]] = field(default_factory=dict)
    events: list[tuple[str, BaseModel, datetime]] = field(default_factory=list)

    def add(self, got: Inputs, d: Derived) -> None:
        """Keep a derivation and move the customer's standing on past it, so the next
        derivation of the same customer in the run starts where this one left off."""
        c = d.customer_id
        self.states[c] = d.state
        if d.change is not None:
            self.history.append(d.change)
        got.scored = Scored(d.state.score, d.state.grade, d.day)
        for currency, minor in d.recommended.items():
            self.recommended[c, currency] = minor
            got.limits[currency] = _recommending(got.limits.get(currency), currency, minor)
        for cause in d.released:
            got.holds.pop(cause, None)
            self.released.add((c, cause))
            self.placed.pop((c, cause), None)
        for cause, detail in d.placed.items():
            got.holds[cause] = Hold(cause, detail, manual=False)
            self.placed[c, cause] = (detail, d.day)
        self.events.extend((c, payload, d.at) for payload in d.announce)

    async def save(self, conn: asyncpg.Connection) -> None:
        t = self.tenant
        await scores.add_history(conn, t, self.history)
        await scores.save_many(conn, t, list(self.states.values()))
        await limits.set_recommended(
            conn, t, [(c, cur, m) for (c, cur), m in self.recommended.items()]
        )
        await holds.replace_automatic(
            conn,
            t,
            sorted(self.released | set(self.placed)),
            [(c, cause, detail, on) for (c, cause), (detail, on) in sorted(self.placed.items())],
        )
        if self.events:
            await emit_all(
                conn,
                t,
                [(c, payload) for c, payload, _ in self.events],
                [at for *_, at in self.events],
            )


async def refresh(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    *,
    as_of: date | None,
    at: datetime,
) -> Refreshed:
    """Re-derive one customer from its facts (no new fact)."""
    await customers.lock(conn, tenant, customer_id)
    got = await inputs.load(conn, tenant, customer_id)
    d = derive(customer_id, got, await facts.for_customer(conn, tenant, customer_id), as_of, at)
    changes = Changes(tenant)
    changes.add(got, d)
    await changes.save(conn)
    return Refreshed(d.day, d.change is not None)


@dataclass(frozen=True, slots=True)
class Learnt:
    """What one consumed event tells credit about one customer."""

    tenant: str
    customer_id: str
    event_id: uuid.UUID | None  # None: not from an event (a rescore)
    fact: Fact | None  # None: nothing new to keep, only derive again
    as_of: date
    at: datetime


class FactCache:
    """Customers' facts kept in memory between runs, least recently used out first, up to
    `max_facts` facts in all. An entry is used only while the digest stored with the
    customer's state is the one it was kept with (see migrations/0003_facts_digest.sql)."""

    def __init__(self, max_facts: int) -> None:
        self._max = max_facts
        self._size = 0
        self._entries: OrderedDict[tuple[str, str], tuple[uuid.UUID, list[Fact]]] = OrderedDict()

    def get(self, key: tuple[str, str], digest: uuid.UUID | None) -> list[Fact] | None:
        entry = self._entries.get(key)
        if entry is None or digest is None or entry[0] != digest:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[str, str], digest: uuid.UUID, kept: list[Fact]) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old[1])
        self._entries[key] = (digest, kept)
        self._size += len(kept)
        while self._size > self._max and self._entries:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._size -= len(dropped)


async def learn(conn: asyncpg.Connection, run: list[Learnt], cache: FactCache) -> int:
    """Record a run's facts and derive after every item, in order, one tenant at a time;
    how many score changes that made."""
    by_tenant: dict[str, list[Learnt]] = defaultdict(list)
    for item in run:
        by_tenant[item.tenant].append(item)
    changed = 0
    for tenant in sorted(by_tenant):
        changed += await _learn_tenant(conn, tenant, by_tenant[tenant], cache)
    return changed


async def _learn_tenant(
    conn: asyncpg.Connection, tenant: str, run: list[Learnt], cache: FactCache
) -> int:
    ids = sorted({item.customer_id for item in run})
    await customers.lock_many(conn, tenant, ids)
    standing = await inputs.load_many(conn, tenant, ids)
    known: dict[str, list[Fact]] = {}
    digests: dict[str, uuid.UUID] = {}
    for c in ids:
        stored = standing[c].facts_digest
        kept = cache.get((tenant, c), stored)
        if kept is not None and stored is not None:
            known[c], digests[c] = list(kept), stored
    missing = [c for c in ids if c not in known]
    if missing:
        for c, (loaded, digest) in (await facts.for_customers(conn, tenant, missing)).items():
            known[c], digests[c] = loaded, digest
    added = await facts.add_many(
        conn,
        tenant,
        [(i.event_id, i.customer_id, i.fact) for i in run if i.fact and i.event_id],
    )
    changes = Changes(tenant)
    derived: set[str] = set()
    for item in run:
        c, got = item.customer_id, standing[item.customer_id]
        if item.fact is not None and item.event_id is not None and item.event_id in added:
            known[c].append(item.fact)
            digests[c] = uuid.UUID(int=digests[c].int ^ item.event_id.int)
        elif c in derived and got.scored is not None and item.as_of <= got.scored.as_of:
            continue  # the same facts, standing and day as the last derivation: no change
        changes.add(got, derive(c, got, known[c], item.as_of, item.at))
        derived.add(c)
    for c, state in changes.states.items():
        changes.states[c] = replace(state, facts_digest=digests[c])
    await changes.save(conn)
    for c in ids:
        cache.put((tenant, c), digests[c], known[c])
    return len(changes.history)


def expiry(approved_on: date, validity_days: int) -> date:
    return approved_on + timedelta(days=validity_days)
