"""Path parameters of the public API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"

CustomerId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID, examples=["C-1001"])]
InvoiceId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID, examples=["INV-1"])]
