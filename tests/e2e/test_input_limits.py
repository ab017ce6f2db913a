"""Input limits at the public surface (issue #13 item 8): a body over the limit is a 413
whether it says its length or streams it, a header that is not UTF-8 is a 400, both as
problem+json, and neither reaches a service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Tenant

pytestmark = pytest.mark.e2e

LIMIT = 4 * 1024 * 1024  # the default GATEWAY_MAX_REQUEST_BYTES


def _invoice(padding: int) -> bytes:
    return (
        b'{"invoice_id": "BIG-1", "customer_id": "C-1", "number": "N-1", '
        b'"issue_date": "2026-11-01", "currency": "CNY", "amount": "1.00", "note": "'
        + b"x" * padding
        + b'"}'
    )


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_written(
    tenant: Tenant,
) -> None:
    assert tenant.api.put_customer("C-1").status_code == 201
    body = _invoice(LIMIT)
    headers = {"Content-Type": "application/json"}
    said = tenant.api.http.post("/invoices", content=body, headers=headers)
    streamed = tenant.api.http.post("/invoices", content=_chunks(body), headers=headers)
    for response in (said, streamed):
        assert response.status_code == 413, response.text[:300]
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 413 and str(LIMIT) in problem["detail"]
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert tenant.api.get("/invoices/BIG-1").status_code == 404
    # Under the limit the same route works.
    assert tenant.api.post_invoice("SMALL-1", "C-1").status_code == 201


def test_a_header_that_is_not_utf8_is_a_400_problem(tenant: Tenant) -> None:
    response = tenant.api.http.get("/customers", headers=[(b"X-Note", b"caf\xe9")])
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "the x-note header is not UTF-8"
    assert tenant.api.get("/customers").status_code == 200


def test_a_date_out_of_range_is_a_422_naming_the_field(tenant: Tenant) -> None:
    assert tenant.api.put_customer("C-1", payment_terms_days=30).status_code == 201
    late = tenant.api.post_invoice("LATE-1", "C-1", issue_date="9999-12-31")
    assert late.status_code == 422, late.text[:300]
    assert late.headers["content-type"].startswith("application/problem+json")
    assert "issue_date: 9999-12-31 is outside 1900-01-01 to 9000-12-31" in late.text
    assert tenant.api.get("/invoices/LATE-1").status_code == 404
    asked = tenant.api.get("/reports/aging?as_of=0001-01-01")
    assert asked.status_code == 422 and "as_of: 0001-01-01 is outside" in asked.text
