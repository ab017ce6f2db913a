"""The reminders recorded for a tenant, a page at a time, as the API lists them: each with its
text (stored at delivery; until then, what delivery will render) and its delivery attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from huikuan_runtime import pagination
from reminders.render import Renderer, TemplateProblem
from reminders.service.texts import Composer
from reminders.store import dunning


@dataclass(frozen=True, slots=True)
class Listed:
    row: asyncpg.Record
    subject: str
    body: str
    text_problem: str | None  # why the text cannot be rendered (subject and body empty)
    attempts: list[asyncpg.Record]


async def page(
    pool: asyncpg.Pool,
    renderer: Renderer,
    tenant: str,
    *,
    customer_id: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Listed], str | None]:
    """Oldest first (keyset on created_at + reminder_id, so reminders recorded meanwhile never
    shift a page); the cursor of the next page."""
    after = _after(cursor)
    async with pool.acquire() as conn:
        rows, next_cursor = pagination.page(
            await dunning.list_reminders(conn, tenant, customer_id, status, after, limit + 1),
            limit,
            lambda r: [r["created_at"].isoformat(), str(r["reminder_id"])],
        )
        attempts = await dunning.attempts_of(conn, [r["reminder_id"] for r in rows])
        composer = Composer(renderer)
        texts = [await _preview(composer, conn, r) for r in rows]
    by_reminder: dict[UUID, list[asyncpg.Record]] = {}
    for a in attempts:
        by_reminder.setdefault(a["reminder_id"], []).append(a)
    listed = [
        Listed(r, subject, body, problem, by_reminder.get(r["reminder_id"], []))
        for r, (subject, body, problem) in zip(rows, texts, strict=True)
    ]
    return listed, next_cursor


async def _preview(
    composer: Composer, conn: asyncpg.Connection, r: asyncpg.Record
) -> tuple[str, str, str | None]:
    """(subject, body, problem): the text, or empty text and why it cannot be rendered."""
    try:
        return (*await composer.text(conn, r), None)
    except TemplateProblem as exc:
        return "", "", f"template {exc}"


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    key = pagination.decode(cursor, 2)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), UUID(str(key[1]))
    except ValueError:
        raise pagination.invalid_cursor() from None
