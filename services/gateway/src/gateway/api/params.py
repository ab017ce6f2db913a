"""Path parameters of the public API."""

from __future__ import annotations

from huikuan_runtime.http import IdPath

CustomerId = IdPath
InvoiceId = IdPath
