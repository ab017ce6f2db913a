"""The CloudEvents 1.0 envelope every event travels in, and how it travels on Kafka.

On Kafka an event is a record in the *structured content mode* of the CloudEvents Kafka
protocol binding: the record's value is the whole event in the JSON event format, its
`content-type` header is `application/cloudevents+json` (`KAFKA_HEADERS`; the relay sets
it), and its key is `tenant/subject`, so one customer's events stay in one partition, in
order. docs/events/README.md says why structured and not binary mode.

Attributes: the core ones (`specversion`, `id`, `source`, `type`, `subject`, `time`,
`datacontenttype`, `data`) and two extension attributes, named as the spec requires
(lower-case letters and digits, at most 20 characters):

- `tenant` (String): whose event it is; nothing crosses tenants.
- `subjectseq` (Integer): the event's place among the events of its source, tenant and
  subject: 1, 2, 3 ... with no holes, assigned by the producer's outbox. Consumers use it to
  notice a missing event (a gap) or a late one. It is not the spec's `sequence` extension,
  whose value is a String ordered lexicographically: telling a gap needs integers.
  Events written before the rename call it `sequence` (an Integer); `read` accepts that.

Strict writers, tolerant readers: building an envelope (and `from_bytes`) refuses any
attribute not declared here, so a producer can never emit an unknown one; `read`, what
consumers use, ignores the attributes it does not know, and `read_data` the data fields,
so an event from a newer producer (one more optional field or extension during a rolling
deploy) is applied by an older consumer, never dead-lettered.
"""

from __future__ import annotations

import builtins
import json
import uuid
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from huikuan_events.ids import uuid7

CONTENT_TYPE = "application/cloudevents+json"
# The headers of every record: the binding's structured mode says so by `content-type`.
KAFKA_HEADERS: tuple[tuple[str, bytes], ...] = (("content-type", CONTENT_TYPE.encode()),)
# What `subjectseq` was called before it was renamed to follow the CloudEvents spec.
_OLD_SUBJECTSEQ = "sequence"

P = TypeVar("P", bound=BaseModel)


def partition_key(tenant: str, subject: str) -> bytes:
    """The Kafka key of a subject's events: one customer's events stay in one partition."""
    return f"{tenant}/{subject}".encode()


class Envelope(BaseModel):
    """One event; `subjectseq` numbers the events of its source, tenant and subject."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=uuid7)
    source: str = Field(min_length=1, examples=["huikuan/ledger"])
    type: str = Field(min_length=1, examples=["ledger.invoice_issued.v1"])
    subject: str = Field(min_length=1, description="the customer id the event is about")
    time: AwareDatetime
    tenant: str = Field(min_length=1, description="extension: the tenant the event belongs to")
    subjectseq: int = Field(
        ge=1,
        description="extension: 1, 2, 3 ... per source, tenant and subject, set by the producer",
    )
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Exactly this envelope: an attribute it does not declare is refused."""
        return cls.model_validate_json(raw)

    @classmethod
    def read(cls, raw: bytes) -> Envelope:
        """The envelope in a consumed record, as a tolerant reader takes it: attributes it
        does not declare (another extension, `dataschema` ...) are ignored, and an event
        written before `subjectseq` was renamed is read by its old name. Everything
        declared is validated as strictly as by `from_bytes`."""
        try:
            return cls.model_validate_json(raw, extra="ignore")
        except ValidationError:
            renamed = _renamed(raw)
            if renamed is None:
                raise
            return cls.model_validate(renamed, extra="ignore")

    def read_data(self, model: builtins.type[P]) -> P:  # `type` is an attribute here
        """`data` as `model`, as a tolerant reader takes it: fields the model does not know
        (added by a newer producer) are ignored; the fields it knows are validated."""
        return model.model_validate(self.data, extra="ignore")

    @property
    def partition_key(self) -> bytes:
        return partition_key(self.tenant, self.subject)


def _renamed(raw: bytes) -> dict[str, Any] | None:
    """An envelope of the time before the rename, with `subjectseq` for its old name;
    None when `raw` is not one."""
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict) or "subjectseq" in value:
        return None
    old = value.get(_OLD_SUBJECTSEQ)
    if type(old) is not int:
        return None
    return {**value, "subjectseq": old}
