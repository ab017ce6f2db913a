"""The public OpenAPI document is built from the services' own models, not copies."""

from __future__ import annotations

from typing import Any

from gateway.api.app import create_app
from gateway.config import Settings
from ledger.api.schemas import CustomerUpsert, InvoiceCreate


def _document() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def test_the_request_schemas_are_the_ledgers() -> None:
    schemas = _document()["components"]["schemas"]
    for model in (CustomerUpsert, InvoiceCreate):
        published = schemas[model.__name__]
        assert set(published["properties"]) == set(model.model_json_schema()["properties"])
        assert published.get("required") == model.model_json_schema().get("required")


def test_every_public_call_is_secured_and_documents_its_problems() -> None:
    document = _document()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            assert operation.get("security"), f"{method.upper()} {path} is not secured"
            assert "401" in operation["responses"], f"{method.upper()} {path} lacks 401"
