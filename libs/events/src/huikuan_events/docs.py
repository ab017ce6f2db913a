"""Generated event documentation: JSON Schema per event type and an AsyncAPI 3.0 document.

    python -m huikuan_events.docs write docs/events   # regenerate
    python -m huikuan_events.docs check docs/events   # exit 1 if the files are stale

The checked-in files are compared with the models by a unit test, so a payload change
that is not regenerated fails the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from huikuan_events.envelope import CONTENT_TYPE, KAFKA_HEADERS
from huikuan_events.registry import EVENT_TYPES, json_schemas
from huikuan_events.topics import EVENT_TOPICS, dead_letter_topic

ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_FILE = "schemas.json"


def _producer_topic(event_type: str) -> str:
    service = event_type.split(".", 1)[0]
    return next(t for t in EVENT_TOPICS if t.startswith(f"{service}."))


# What every message shares: a record's headers (the binding's, then the trace context the
# producer was in) and its key.
TRAIT = "cloudevent_kafka"
CLOUDEVENT_KAFKA: dict[str, Any] = {
    "headers": {
        "type": "object",
        "properties": {
            **{name: {"const": value.decode()} for name, value in KAFKA_HEADERS},
            "traceparent": {"type": "string", "description": "W3C trace context"},
        },
        "required": [name for name, _ in KAFKA_HEADERS],
    },
    "bindings": {
        "kafka": {
            "key": {"type": "string", "description": "tenant/subject: one customer in order"},
            "bindingVersion": "0.5.0",
        }
    },
}


def asyncapi() -> dict[str, Any]:
    """Channels (one per topic) and messages (one per event type, in the envelope)."""
    schemas = json_schemas()
    envelope = schemas["envelope"]
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {topic: {"address": topic, "messages": {}} for topic in EVENT_TOPICS}
    for event_type in EVENT_TYPES:
        key = event_type.replace(".", "_")
        payload = json.loads(json.dumps(envelope))
        payload["properties"]["type"] = {"const": event_type}
        payload["properties"]["data"] = schemas[event_type]
        messages[key] = {
            "name": event_type,
            "contentType": CONTENT_TYPE,
            "summary": (EVENT_TYPES[event_type].__doc__ or "").strip().splitlines()[0],
            "payload": payload,
            "traits": [{"$ref": f"#/components/messageTraits/{TRAIT}"}],
        }
        channels[_producer_topic(event_type)]["messages"][key] = {
            "$ref": f"#/components/messages/{key}"
        }
    for consumer in ("credit", "reminders", "gateway"):
        topic = dead_letter_topic(consumer)
        channels[topic] = {
            "address": topic,
            "description": "records a consumer gave up on, unchanged, with x-dlq-* headers",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Huikuan events",
            "version": "1",
            "description": (
                "CloudEvents 1.0 in the structured content mode of the Kafka protocol "
                "binding, keyed by tenant/customer_id. Producers emit exactly the attributes "
                "and data fields of these schemas; readers ignore the ones they do not know, "
                "so adding an optional one is not a breaking change. See README.md."
            ),
        },
        "channels": channels,
        "components": {"messages": messages, "messageTraits": {TRAIT: CLOUDEVENT_KAFKA}},
    }


def render() -> dict[str, str]:
    """File name -> exact file text."""

    def dump(value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    return {SCHEMAS_FILE: dump(json_schemas()), ASYNCAPI_FILE: dump(asyncapi())}


def stale(directory: Path) -> list[str]:
    """The generated files in `directory` that are missing or differ from the models."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huikuan_events.docs")
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    if args.command == "write":
        args.directory.mkdir(parents=True, exist_ok=True)
        for name, text in render().items():
            (args.directory / name).write_text(text)
        return 0
    outdated = stale(args.directory)
    for name in outdated:
        print(f"{args.directory / name} is stale: run `make docs`", file=sys.stderr)
    return 1 if outdated else 0


if __name__ == "__main__":
    sys.exit(main())
