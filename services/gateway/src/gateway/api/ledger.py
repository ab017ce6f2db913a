"""Public routes owned by the ledger: customers, invoices, payments (the customer list, with
credit's grade filter, is in `gateway.api.customers`)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import Route, mount
from gateway.api.queries import AsOfQuery
from ledger.api import schemas as s

router = APIRouter()

# A batch of 1,000 is up to 1,000 postings: give it longer than a single call.
BATCH_TIMEOUT = 120.0

SAME_AGAIN = {200: "the same request again: the existing resource, unchanged"}

# Example bodies for the document; each is validated against its route's body model.
CUSTOMER = {
    "name": "华东贸易有限公司",
    "email": "ar@huadong.example.cn",
    "country": "CN",
    "currency": "CNY",
    "payment_terms_days": 30,
    "owner": "li.wei",
    "segment": "wholesale",
    "region": "east",
    "language": "zh",
    "timezone": "Asia/Shanghai",
}
INVOICE = {
    "invoice_id": "INV-2026-0001",
    "customer_id": "C-1001",
    "number": "INV-2026-0001",
    "issue_date": "2026-11-02",
    "due_date": "2026-12-02",
    "currency": "CNY",
    "amount": "12500.00",
}
PAYMENT = {
    "payment_id": "PAY-2026-0042",
    "customer_id": "C-1001",
    "received_on": "2026-11-20",
    "method": "bank_transfer",
    "currency": "CNY",
    "amount": "8000.00",
    "reference": "BANK-REF-778812",
    "allocations": [{"invoice_id": "INV-2026-0001", "amount": "8000.00"}],
}

ROUTES = (
    Route(
        "PUT",
        "/customers/{customer_id}",
        "ledger",
        "ledger:write",
        s.CustomerPublic,
        body=s.CustomerUpsert,
        also={201: "created"},
        problems=(),
        example=CUSTOMER,
        summary="Create or update a customer under the caller's id",
        tags=("customers",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}",
        "ledger",
        "ledger:read",
        s.CustomerPublic,
        summary="A customer's master data",
        tags=("customers",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}/balances",
        "ledger",
        "ledger:read",
        s.CustomerBalances,
        query=AsOfQuery,
        summary="Open receivable and unapplied cash per currency, as of a date",
        tags=("customers",),
    ),
    Route(
        "GET",
        "/invoices",
        "ledger",
        "ledger:read",
        s.InvoicePage,
        query=s.InvoiceQuery,
        problems=(),
        summary="Invoices in issue order, by customer and status as of a date",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/invoices",
        "ledger",
        "ledger:write",
        s.InvoicePublic,
        body=s.InvoiceCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(409,),
        example=INVOICE,
        summary="Issue an invoice; unapplied cash of the customer is applied to it",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/invoices/batch",
        "ledger",
        "ledger:write",
        s.InvoiceBatchResult,
        body=s.InvoiceBatch,
        problems=(),
        timeout=BATCH_TIMEOUT,
        example={
            "items": [
                INVOICE,
                {
                    **INVOICE,
                    "invoice_id": "INV-2026-0002",
                    "number": "INV-2026-0002",
                    "amount": "980.50",
                },
            ]
        },
        summary="Issue up to 1,000 invoices; a result per item (created, existing, rejected)",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/invoices/{invoice_id}/void",
        "ledger",
        "ledger:write",
        s.InvoicePublic,
        body=s.InvoiceVoid,
        problems=(404, 409),
        summary="Void an invoice nothing was paid or credited on",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/invoices/{invoice_id}/credit-notes",
        "ledger",
        "ledger:write",
        s.CreditNotePublic,
        body=s.CreditNoteCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(404, 409),
        summary="Reduce the residual by a credit note (return, rebate, price correction)",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/invoices/{invoice_id}/write-off",
        "ledger",
        "ledger:write",
        s.WriteOffPublic,
        body=s.WriteOffCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(404, 409),
        summary="Write the residual off as bad debt",
        tags=("invoices",),
    ),
    Route(
        "POST",
        "/payments",
        "ledger",
        "ledger:write",
        s.PaymentPublic,
        body=s.PaymentCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(409,),
        example=PAYMENT,
        summary="Record a payment; allocate as listed or oldest due first",
        tags=("payments",),
    ),
    Route(
        "POST",
        "/payments/batch",
        "ledger",
        "ledger:write",
        s.PaymentBatchResult,
        body=s.PaymentBatch,
        problems=(),
        timeout=BATCH_TIMEOUT,
        example={
            "items": [
                PAYMENT,
                {
                    **PAYMENT,
                    "payment_id": "PAY-2026-0043",
                    "method": "cheque",
                    "amount": "4500.00",
                    "reference": None,
                    "allocations": None,
                },
            ]
        },
        summary="Record up to 1,000 payments; a result per item",
        tags=("payments",),
    ),
    Route(
        "GET",
        "/payments/{payment_id}",
        "ledger",
        "ledger:read",
        s.PaymentPublic,
        summary="A payment and its allocations",
        tags=("payments",),
    ),
    Route(
        "POST",
        "/payments/{payment_id}/allocations",
        "ledger",
        "ledger:write",
        s.PaymentPublic,
        body=s.PaymentAllocate,
        problems=(404, 409),
        summary="Apply the payment's unapplied cash now",
        tags=("payments",),
    ),
    Route(
        "POST",
        "/payments/{payment_id}/reverse",
        "ledger",
        "ledger:write",
        s.PaymentPublic,
        body=s.PaymentReverse,
        problems=(404, 409),
        summary="Reverse a payment (bounced cheque): what it paid is owed again",
        tags=("payments",),
    ),
)

mount(router, ROUTES)
