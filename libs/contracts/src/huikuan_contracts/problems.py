"""The documented shape of every error body (RFC 9457 problem details)."""

from __future__ import annotations

from pydantic import BaseModel


class ProblemDetails(BaseModel):
    """The documented shape of every error body."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
