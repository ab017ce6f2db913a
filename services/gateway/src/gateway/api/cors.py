"""CORS for browser clients (web and mobile web apps): only the configured origins
(`GATEWAY_CORS_ORIGINS`); none configured, no CORS headers at all."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from gateway.service import idempotency
from huikuan_runtime.http import REQUEST_ID_HEADER

METHODS = ("GET", "POST", "PUT", "DELETE")
REQUEST_HEADERS = ("Authorization", "Content-Type", idempotency.HEADER, REQUEST_ID_HEADER)
EXPOSED_HEADERS = (REQUEST_ID_HEADER, "Retry-After", idempotency.REPLAYED)


def allow_origins(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer preflights and mark responses for `origins` (the outermost middleware)."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=list(METHODS),
        allow_headers=list(REQUEST_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,  # bearer keys, never cookies
        max_age=600,
    )
