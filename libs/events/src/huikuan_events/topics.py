"""Topic names: one topic per producing service, one dead-letter topic per consumer."""

from __future__ import annotations

LEDGER_EVENTS = "ledger.events.v1"
CREDIT_EVENTS = "credit.events.v1"
REMINDERS_EVENTS = "reminders.events.v1"

EVENT_TOPICS: tuple[str, ...] = (LEDGER_EVENTS, CREDIT_EVENTS, REMINDERS_EVENTS)

# The consumer groups that read the event topics; each has its own dead-letter topic.
CONSUMERS: tuple[str, ...] = ("credit", "reminders", "gateway")


DEAD_LETTER_SUFFIX = ".dlq.v1"


def dead_letter_topic(consumer: str) -> str:
    """`credit` -> `credit.dlq.v1`."""
    return f"{consumer}{DEAD_LETTER_SUFFIX}"


def is_dead_letter(topic: str) -> bool:
    return topic.endswith(DEAD_LETTER_SUFFIX)


def all_topics() -> tuple[str, ...]:
    """Every topic the system needs, created explicitly at set-up."""
    return EVENT_TOPICS + tuple(dead_letter_topic(c) for c in CONSUMERS)


def partition_key(tenant: str, customer_id: str) -> bytes:
    """Events of one customer share a key, so they stay in one partition, in order."""
    return f"{tenant}/{customer_id}".encode()


def tenant_of_key(key: bytes | None) -> str | None:
    """The tenant of a `partition_key`; None when the key is not one."""
    tenant, slash, _ = (key or b"").partition(b"/")
    return tenant.decode(errors="replace") if slash and tenant else None
