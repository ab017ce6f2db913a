"""The ledger's request and response models, one module per area. The gateway publishes
these same models, so its OpenAPI document follows every change here."""

from ledger.api.schemas.customers import (
    CurrencyBalance,
    CustomerBalances,
    CustomerPublic,
    CustomerUpsert,
)
from ledger.api.schemas.invoices import (
    AllocationPublic,
    CreditNoteCreate,
    CreditNotePublic,
    HistoryLine,
    InvoiceBatch,
    InvoiceBatchItem,
    InvoiceBatchResult,
    InvoiceCreate,
    InvoiceDetail,
    InvoicePublic,
    InvoiceVoid,
    WriteOffCreate,
    WriteOffPublic,
)
from ledger.api.schemas.payments import (
    AllocationIn,
    PaymentAllocate,
    PaymentBatch,
    PaymentBatchItem,
    PaymentBatchResult,
    PaymentCreate,
    PaymentPublic,
    PaymentReverse,
)

__all__ = [
    "AllocationIn",
    "AllocationPublic",
    "CreditNoteCreate",
    "CreditNotePublic",
    "CurrencyBalance",
    "CustomerBalances",
    "CustomerPublic",
    "CustomerUpsert",
    "HistoryLine",
    "InvoiceBatch",
    "InvoiceBatchItem",
    "InvoiceBatchResult",
    "InvoiceCreate",
    "InvoiceDetail",
    "InvoicePublic",
    "InvoiceVoid",
    "PaymentAllocate",
    "PaymentBatch",
    "PaymentBatchItem",
    "PaymentBatchResult",
    "PaymentCreate",
    "PaymentPublic",
    "PaymentReverse",
    "WriteOffCreate",
    "WriteOffPublic",
]
