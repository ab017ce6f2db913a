"""The gateway: the one public surface, `/v1`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from gateway.api import (
    accounts,
    admin,
    credit,
    customers,
    dunning,
    invoices,
    ledger,
    ops,
    reports,
    webhooks,
)
from gateway.api.cors import allow_origins
from gateway.api.responses import errors
from gateway.clients import CircuitBreaker, Downstream
from gateway.config import Settings
from gateway.domain.keys import PrincipalCache
from gateway.domain.ratelimit import Limit, RateLimiter
from gateway.domain.tokens import TokenRules
from gateway.events.webhooks import TOPICS
from gateway.jwks import KeySet, TokenVerifier
from huikuan_runtime.service import create_service_app


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def downstreams(app: FastAPI) -> AsyncIterator[None]:
        token = settings.internal_token.get_secret_value()
        clients = {
            name: Downstream(
                name,
                url,
                token,
                timeout=settings.downstream_timeout_seconds,
                breaker=CircuitBreaker(
                    settings.breaker_failures, settings.breaker_cooldown_seconds
                ),
                max_connections=settings.downstream_max_connections,
            )
            for name, url in (
                ("ledger", settings.ledger_url),
                ("credit", settings.credit_url),
                ("reminders", settings.reminders_url),
            )
        }
        app.state.downstreams = clients
        app.state.rate_limiter = RateLimiter(
            Limit(settings.rate_per_second, settings.rate_burst),
            {scope: Limit(rate, burst) for scope, (rate, burst) in settings.rate_limits.items()},
        )
        app.state.token_verifier = token_verifier(settings)
        app.state.principals = PrincipalCache(settings.auth_cache_seconds)
        # Build the OpenAPI document (seconds of work for ~100 operations) before serving,
        # not on the first request for it.
        app.openapi()
        try:
            yield
        finally:
            for client in clients.values():
                await client.close()
            if app.state.token_verifier is not None:
                await app.state.token_verifier.keys.close()

    v1 = APIRouter(prefix="/v1", responses=errors(400, 401, 403, 422, 429))
    v1.include_router(admin.router)
    v1.include_router(ledger.router)
    v1.include_router(invoices.router)
    v1.include_router(customers.router)
    v1.include_router(credit.router)
    v1.include_router(dunning.router)
    v1.include_router(reports.router)
    v1.include_router(accounts.router)
    v1.include_router(ops.router)
    v1.include_router(webhooks.router)
    app = create_service_app(
        settings,
        title="Huikuan API",
        routers=[v1],
        internal=False,
        resources=downstreams,
        consumes=TOPICS,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    allow_origins(app, settings.cors_origins)
    return app


def token_verifier(settings: Settings) -> TokenVerifier | None:
    """What checks bearer JWTs, if an identity provider is configured."""
    if not settings.jwt_jwks_url:
        return None
    assert settings.jwt_issuer and settings.jwt_audience  # the settings refuse less
    algorithms = frozenset(settings.jwt_algorithms)
    return TokenVerifier(
        keys=KeySet(
            settings.jwt_jwks_url,
            algorithms=algorithms,
            ttl=settings.jwt_jwks_ttl_seconds,
            min_refetch=settings.jwt_jwks_min_refetch_seconds,
            timeout=settings.jwt_jwks_timeout_seconds,
        ),
        rules=TokenRules(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=algorithms,
            tenant_claim=settings.jwt_tenant_claim,
            scope_claims=tuple(settings.jwt_scope_claims),
            leeway_seconds=settings.jwt_leeway_seconds,
        ),
    )
