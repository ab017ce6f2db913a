"""Rebuilding a service's projection from the topics: `python -m <service> rebuild`.

A *projection* is what a service keeps of other services' events (credit's risk book of
ledger and reminders events, reminders' dunning book of ledger and credit events). Those
tables can be thrown away and rebuilt: the events are on the topics. The records a service
originates itself (a manual limit, a promise to pay, a reminder sent) are not on any topic
it reads; a rebuild carries them over from the live schema instead. Each service declares
which is which (`Projection`); a table it has not classified stops the rebuild.

The procedure, in two steps (docs/operations.md):

1. `python -m <service> rebuild [--into SCHEMA]`, while the service runs. Creates the schema
   (default `<schema>_rebuild`) and migrates it, copies the own records the projection is
   derived under (`Projection.inputs`: credit's hold policies, manual limits and holds,
   approved orders), and replays the service's topics from offset 0 into it with the
   service's own handlers, in the order the events were published (`replay.py`), up to the
   offsets the live consumer group has committed at the start. It reads them with a
   consumer group of its own (`<group>.rebuild.<schema>.<oid>`, partitions assigned, never
   the live group, whose offsets do not move), so running it again continues where it
   stopped. Progress (events/s, events left) goes to stderr, a
   summary to stdout.
2. Stop every process of the service, then `python -m <service> rebuild --switch`. It
   refuses while the live group has members or the live schema has connections of the
   service, replays up to where the stopped group committed, then in one transaction copies
   the service's own records (`Projection.inputs` and `Projection.carried`, the event
   sequences and any unpublished outbox rows) from the live schema and renames the live
   schema to `<schema>_retired_<UTC time>` and the rebuilt one to `<schema>`. Started
   again, the service's consumer resumes at the offsets its group committed: the rebuilt
   schema holds exactly the events before them.

A replay must not tell anyone anything again: the events the handlers emit (credit's score
changes, reminders' kept promises) were published by the live service when it first applied
them, so the outbox rows a replay writes are deleted in the transaction that wrote them, and
an event that keeps failing is set aside in the report, not sent to the dead-letter topic.
Nothing is published, no message or webhook is sent, and the live schema is only read until
the switch.
"""

from huikuan_runtime.rebuild.command import Options, run
from huikuan_runtime.rebuild.tables import Carried, Projection, Refused

__all__ = ["Carried", "Options", "Projection", "Refused", "run"]
