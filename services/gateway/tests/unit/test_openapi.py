"""The public OpenAPI document is built from the services' own models, not copies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.api.app import create_app
from gateway.config import Settings
from huikuan_contracts.credit import CreditCheckCreate, GradeQuery, InvoiceForecastPublic
from huikuan_contracts.ledger import (
    CustomerPage,
    CustomerQuery,
    CustomerUpsert,
    InvoiceBatch,
    InvoiceCreate,
    InvoiceDetail,
    PaymentBatch,
    PaymentCreate,
)
from huikuan_contracts.problems import ProblemDetails
from huikuan_contracts.reminders import PromiseCreate
from huikuan_contracts.routes import Route


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
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"]["scheme"] == "bearer"
    assert (schemes["bearerJwt"]["scheme"], schemes["bearerJwt"]["bearerFormat"]) == (
        "bearer",
        "JWT",
    )
    post = document["paths"]["/v1/invoices"]["post"]
    assert {name for entry in post["security"] for name in entry} == {"apiKey", "bearerJwt"}
    for path, item in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            assert operation.get("security"), f"{method.upper()} {path} is not secured"
            assert "401" in operation["responses"], f"{method.upper()} {path} lacks 401"
            # a service's 500 is the caller's 502, the service being down a 503
            assert {"502", "503"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_the_main_request_bodies_carry_examples_their_models_accept() -> None:
    document = _document()
    models = {
        model.__name__: model
        for model in (
            CustomerUpsert,
            InvoiceCreate,
            InvoiceBatch,
            PaymentCreate,
            PaymentBatch,
            CreditCheckCreate,
            PromiseCreate,
        )
    }
    found: set[str] = set()
    for item in document["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            name = content["schema"]["$ref"].rsplit("/", 1)[-1]
            for example in content.get("examples", {}).values():
                if name in models:
                    models[name].model_validate_json(json.dumps(example["value"]))
                    found.add(name)
    assert found == set(models)


def test_every_problem_response_has_an_example_of_its_status() -> None:
    for path, item in _document()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/problem+json")
                if content is None:
                    continue
                example = ProblemDetails.model_validate(content["example"])
                assert example.status == int(status), f"{method.upper()} {path} {status}"
                assert example.type.startswith("https://huikuan.dev/problems/")


def test_an_example_its_model_refuses_fails_at_declaration() -> None:
    with pytest.raises(ValidationError):
        Route(
            "POST",
            "/invoices",
            "ledger",
            "ledger:write",
            body=InvoiceCreate,
            example={"invoice_id": "INV-1", "amount": "1.001"},
        )


def test_the_invoice_is_the_ledgers_detail_with_credits_prediction() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    operation = document["paths"]["/v1/invoices/{invoice_id}"]["get"]
    assert operation["x-required-scope"] == "ledger:read"
    assert {p["name"] for p in operation["parameters"]} == {"invoice_id", "as_of"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    published = schemas[ref.rsplit("/", 1)[-1]]
    detail = InvoiceDetail.model_json_schema()
    assert set(published["properties"]) == set(detail["properties"]) | {"prediction"}
    assert set(published["required"]) == set(detail.get("required", [])) | {"prediction"}
    part = schemas[published["properties"]["prediction"]["$ref"].rsplit("/", 1)[-1]]
    assert set(part["properties"]) == {"status", "detail", "data"}
    data_ref = next(a["$ref"] for a in part["properties"]["data"]["anyOf"] if "$ref" in a)
    forecast = schemas[data_ref.rsplit("/", 1)[-1]]
    model = InvoiceForecastPublic.model_json_schema()
    assert set(forecast["properties"]) == set(model["properties"])
    assert forecast["required"] == model["required"]


def test_the_customer_list_takes_the_ledgers_filters_and_credits_grade() -> None:
    document = _document()
    operation = document["paths"]["/v1/customers"]["get"]
    assert operation["x-required-scope"] == "ledger:read"
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert set(parameters) == set(CustomerQuery.model_fields) | {"grade"}  # no `ids`
    grade = GradeQuery.model_json_schema()["properties"]["grade"]
    assert next(a for a in parameters["grade"]["anyOf"] if "enum" in a)["enum"] == grade["enum"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    published = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(published["properties"]) == set(CustomerPage.model_json_schema()["properties"])
    assert "503" in operation["responses"]
