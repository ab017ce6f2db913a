"""Huikuan event contracts shared by every service."""

from huikuan_events.envelope import CONTENT_TYPE, KAFKA_HEADERS, Envelope
from huikuan_events.ids import uuid7, uuid7_texts
from huikuan_events.registry import EVENT_TYPES, UnknownEventType, parse_data, type_name

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "KAFKA_HEADERS",
    "Envelope",
    "UnknownEventType",
    "parse_data",
    "type_name",
    "uuid7",
    "uuid7_texts",
]
