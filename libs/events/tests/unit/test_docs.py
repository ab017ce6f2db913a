"""The checked-in event schemas and AsyncAPI document match the payload models."""

from __future__ import annotations

import json
from pathlib import Path

from huikuan_events.docs import ASYNCAPI_FILE, asyncapi, render, stale
from huikuan_events.registry import EVENT_TYPES

DOCS = Path(__file__).resolve().parents[4] / "docs" / "events"


def test_checked_in_event_docs_are_up_to_date() -> None:
    assert stale(DOCS) == [], "event docs are stale: run `make docs`"


def test_every_event_type_is_a_message_on_its_producers_channel() -> None:
    document = asyncapi()
    for event_type in EVENT_TYPES:
        key = event_type.replace(".", "_")
        message = document["components"]["messages"][key]
        assert message["payload"]["properties"]["type"] == {"const": event_type}
        topic = f"{event_type.split('.')[0]}.events.v1"
        assert key in document["channels"][topic]["messages"]


def test_a_stale_file_is_detected(tmp_path: Path) -> None:
    for name, text in render().items():
        (tmp_path / name).write_text(text)
    assert stale(tmp_path) == []
    changed = json.loads((tmp_path / ASYNCAPI_FILE).read_text())
    changed["info"]["version"] = "0"
    (tmp_path / ASYNCAPI_FILE).write_text(json.dumps(changed))
    assert stale(tmp_path) == [ASYNCAPI_FILE]
