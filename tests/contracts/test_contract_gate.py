"""The breaking-change gate (tools/contract_gate.py) with oasdiff: what it refuses and what it
lets through, on small documents made here, for the public API and for events."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools import contract_gate
from tools.contract_gate import breaking, events_as_openapi


def _api() -> dict[str, Any]:
    invoice = {
        "type": "object",
        "properties": {
            "invoice_id": {"type": "string"},
            "amount": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "paid"]},
            "note": {"type": "string"},
        },
        "required": ["invoice_id", "amount", "status"],
    }
    create = {
        "type": "object",
        "properties": {
            "invoice_id": {"type": "string"},
            "amount": {"type": "string"},
            "method": {"type": "string", "enum": ["cash", "bank_transfer"]},
            "reference": {"type": "string"},
        },
        "required": ["invoice_id", "amount"],
    }
    json_body = "application/json"
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/v1/invoices": {
                "post": {
                    "requestBody": {"content": {json_body: {"schema": create}}, "required": True},
                    "responses": {
                        "201": {"description": "ok", "content": {json_body: {"schema": invoice}}}
                    },
                }
            },
            "/v1/invoices/{invoice_id}": {
                "get": {
                    "parameters": [
                        {
                            "name": "invoice_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "ok", "content": {json_body: {"schema": invoice}}}
                    },
                }
            },
        },
    }


def _response(doc: dict[str, Any]) -> dict[str, Any]:
    content = doc["paths"]["/v1/invoices/{invoice_id}"]["get"]["responses"]["200"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


def _request(doc: dict[str, Any]) -> dict[str, Any]:
    content = doc["paths"]["/v1/invoices"]["post"]["requestBody"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


Change = Callable[[dict[str, Any]], object]

BREAKING: dict[str, Change] = {
    "route removed": lambda d: d["paths"].pop("/v1/invoices/{invoice_id}"),
    "response field removed": lambda d: _response(d)["properties"].pop("note"),
    "required response field removed": lambda d: (
        _response(d)["properties"].pop("amount"),
        _response(d)["required"].remove("amount"),
    ),
    "field renamed": lambda d: _response(d)["properties"].update(
        {"total": _response(d)["properties"].pop("amount")}
    ),
    "type changed": lambda d: _response(d)["properties"]["amount"].update(type="integer"),
    "response enum value removed": lambda d: _response(d)["properties"]["status"].update(
        enum=["open"]
    ),
    "request enum value removed": lambda d: _request(d)["properties"]["method"].update(
        enum=["cash"]
    ),
    "new required request field": lambda d: (
        _request(d)["properties"].update(currency={"type": "string"}),
        _request(d)["required"].append("currency"),
    ),
    "request field removed": lambda d: _request(d)["properties"].pop("reference"),
}

ADDITIVE: dict[str, Change] = {
    "new route": lambda d: d["paths"].update(
        {"/v1/payments": copy.deepcopy(d["paths"]["/v1/invoices"])}
    ),
    "new optional request field": lambda d: _request(d)["properties"].update(
        due_date={"type": "string"}
    ),
    "new response field": lambda d: _response(d)["properties"].update(residual={"type": "string"}),
    "new response enum value": lambda d: _response(d)["properties"]["status"].update(
        enum=["open", "paid", "void"]
    ),
    "new request enum value": lambda d: _request(d)["properties"]["method"].update(
        enum=["cash", "bank_transfer", "cheque"]
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKING))
def test_a_breaking_api_change_is_refused(name: str) -> None:
    before = _api()
    after = copy.deepcopy(before)
    BREAKING[name](after)
    assert breaking(before, after, "public API"), name


@pytest.mark.parametrize("name", sorted(ADDITIVE))
def test_an_additive_api_change_passes(name: str) -> None:
    before = _api()
    after = copy.deepcopy(before)
    ADDITIVE[name](after)
    assert breaking(before, after, "public API") == []


def _events() -> dict[str, Any]:
    return {
        "ledger.invoice_issued.v1": {
            "type": "object",
            "properties": {
                "invoice_id": {"type": "string"},
                "amount_minor": {"type": "integer"},
                "kind": {"type": "string", "enum": ["goods", "services"]},
            },
            "required": ["invoice_id", "amount_minor", "kind"],
        },
        "ledger.invoice_voided.v1": {
            "type": "object",
            "properties": {"invoice_id": {"type": "string"}},
            "required": ["invoice_id"],
        },
    }


def _issued(schemas: dict[str, Any]) -> dict[str, Any]:
    issued: dict[str, Any] = schemas["ledger.invoice_issued.v1"]
    return issued


def _event_change(change: Change) -> list[str]:
    before = _events()
    after = copy.deepcopy(before)
    change(after)
    return breaking(events_as_openapi(before), events_as_openapi(after), "events")


def test_events_are_judged_as_consumers_read_them() -> None:
    assert _event_change(lambda s: s.pop("ledger.invoice_voided.v1"))  # event type gone
    assert _event_change(
        lambda s: (_issued(s)["properties"].pop("kind"), _issued(s)["required"].remove("kind"))
    )
    assert _event_change(lambda s: _issued(s)["properties"]["amount_minor"].update(type="string"))
    assert _event_change(lambda s: _issued(s)["properties"]["kind"].update(enum=["goods"]))
    # A new field (even one always present) or a new event type is additive.
    assert (
        _event_change(
            lambda s: (
                _issued(s)["properties"].update(currency={"type": "string"}),
                _issued(s)["required"].append("currency"),
            )
        )
        == []
    )
    assert (
        _event_change(
            lambda s: s.update(
                {"ledger.invoice_reopened.v1": _events()["ledger.invoice_voided.v1"]}
            )
        )
        == []
    )


def test_history_needs_a_trailer_for_each_break(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regenerating the documents must not hide a break: each commit that breaks the one
    before it says so (`Breaking-Change:`), or the gate fails naming it."""
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    (repo / "docs/openapi").mkdir(parents=True)
    (repo / "docs/events").mkdir(parents=True)
    acknowledged = repo / "tools/contract-acknowledged.txt"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(api: dict[str, Any], message: str) -> str:
        (repo / "docs/openapi/public.json").write_text(json.dumps(api))
        git("add", "-A")
        git("commit", "-qm", message)
        return git("rev-parse", "HEAD")

    git("init", "-q")
    (repo / "tools/contract_gate.py").write_text("# the gate\n")
    (repo / "docs/events/schemas.json").write_text(json.dumps(_events()))
    acknowledged.write_text("# none\n")
    commit(_api(), "Start the gate")
    removed = _api()
    BREAKING["route removed"](removed)
    silent = commit(removed, "Tidy the invoice routes")
    renamed = copy.deepcopy(removed)
    BREAKING["request enum value removed"](renamed)
    commit(renamed, "Cash only\n\nBreaking-Change: bank transfers go through payments")
    widened = copy.deepcopy(renamed)
    ADDITIVE["new optional request field"](widened)
    commit(widened, "Take a due date")
    monkeypatch.setattr(contract_gate, "ROOT", repo)
    monkeypatch.setattr(contract_gate, "ACKNOWLEDGED", acknowledged)
    found = contract_gate.unacknowledged()
    assert found and all(line.startswith(silent[:12]) for line in found)
    acknowledged.write_text(f"{silent} an old break, written down\n")
    assert contract_gate.unacknowledged() == []
