"""Helpers of the reminders integration tests: a real SMTP sink, events fed through the
real handlers, the outbox read back."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import asyncpg
from pydantic import BaseModel

from huikuan_events import Envelope, type_name, uuid7
from reminders.events.handlers import HANDLERS

TENANT = "t1"
PoolFactory = Callable[[], Awaitable[asyncpg.Pool]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Sink:
    """Collects every message the SMTP server accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 OK"


async def feed(pool: asyncpg.Pool, subject: str, payload: BaseModel, tenant: str = TENANT) -> None:
    """Apply one event the way the consumer does: its handler inside a transaction."""
    envelope = Envelope(
        source="test",
        type=type_name(payload),
        subject=subject,
        time=datetime.now(UTC),
        tenant=tenant,
        subjectseq=1,
        data=payload.model_dump(mode="json"),
        id=uuid7(),
    )
    async with pool.acquire() as conn, conn.transaction():
        await HANDLERS[envelope.type](conn, envelope)


async def outbox(pool: asyncpg.Pool, kind: str | None = None) -> list[Envelope]:
    rows = await pool.fetch("SELECT payload FROM outbox_event ORDER BY position")
    events = [Envelope.from_bytes(r["payload"]) for r in rows]
    return [e for e in events if kind is None or e.type == kind]
