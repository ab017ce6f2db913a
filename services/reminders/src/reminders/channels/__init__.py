"""Delivery channels behind one small interface: `deliver(message)` raises
`DeliveryError` when the message did not get through (the caller retries with backoff)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Checked before each attempt: why not to send to this URL now, or None.
Guard = Callable[[str], Awaitable[str | None]]


class DeliveryError(Exception):
    """The channel could not deliver; worth retrying unless `permanent`."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Message:
    reminder_id: str
    idempotency_key: str
    tenant: str
    customer_id: str
    channel: str
    recipient: str | None
    language: str
    subject: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    async def deliver(self, message: Message) -> None: ...
