"""What makes two requests under one caller id "the same request"."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def fingerprint(**fields: Any) -> str:
    """A stable hash of the request's meaningful fields (dates as ISO strings)."""
    canonical = {k: _plain(v) for k, v in fields.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
