"""The CloudEvents 1.0 envelope (structured JSON mode) every event travels in."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from huikuan_events.ids import uuid7

CONTENT_TYPE = "application/cloudevents+json"


def partition_key(tenant: str, subject: str) -> bytes:
    """The Kafka key of a subject's events: one customer's events stay in one partition."""
    return f"{tenant}/{subject}".encode()


class Envelope(BaseModel):
    """One event. `sequence` is per subject (customer), strictly increasing, set by the producer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=uuid7)
    source: str = Field(min_length=1, examples=["huikuan/ledger"])
    type: str = Field(min_length=1, examples=["ledger.invoice_issued.v1"])
    subject: str = Field(min_length=1, description="the customer id the event is about")
    time: AwareDatetime
    tenant: str = Field(min_length=1)
    sequence: int = Field(ge=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)

    @property
    def partition_key(self) -> bytes:
        return partition_key(self.tenant, self.subject)
