"""Gateway settings (`GATEWAY_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway.domain.tokens import ALLOWED_ALGORITHMS
from gateway.ops.status import merged
from huikuan_runtime.settings import ServiceSettings

DEV_OPERATOR_KEY = "dev-operator-key"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000
    db_schema: str = "gateway"

    ledger_url: str = "http://127.0.0.1:8001"
    credit_url: str = "http://127.0.0.1:8002"
    reminders_url: str = "http://127.0.0.1:8003"
    downstream_timeout_seconds: float = 5.0
    summary_part_timeout_seconds: float = 2.0
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 10.0
    operator_key: SecretStr = SecretStr(DEV_OPERATOR_KEY)
    # Per API key and scope: calls a second and bucket size; per-scope overrides as JSON,
    # e.g. GATEWAY_RATE_LIMITS='{"credit:check": [500, 1000]}'.
    rate_per_second: float = 100.0
    rate_burst: int = 200
    rate_limits: dict[str, tuple[float, int]] = {}
    # Ops view: (warn, critical) per figure over gateway.ops.status.DEFAULT_THRESHOLDS, as
    # JSON, e.g. GATEWAY_OPS_THRESHOLDS='{"consumer_lag": [500, 50000]}'.
    ops_thresholds: dict[str, tuple[float, float]] = {}
    ops_kafka_timeout_seconds: float = 10.0
    # Origins allowed to call the API from a browser: a JSON list or comma-separated
    # (GATEWAY_CORS_ORIGINS='https://app.example.com,https://m.example.com'); empty: no CORS.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Outbound webhooks: a failed delivery is retried after base * 2^(n-1) seconds (at most
    # cap, with jitter) until it is max_age old, then it is failed; each POST may take
    # timeout seconds. The dispatcher runs `workers` deliveries at a time.
    webhook_max_age_seconds: float = 24 * 3600.0
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_timeout_seconds: float = 5.0
    webhook_workers: int = 4
    webhook_poll_seconds: float = 0.5
    # After POST /v1/webhooks/{id}/rotate-secret the replaced secret still signs deliveries
    # (a second signature) this long, so receivers can switch without refusing any.
    webhook_secret_overlap_seconds: float = Field(24 * 3600.0, ge=0)
    # Off: a subscription's URL may not name localhost or a non-public IP, and before each
    # attempt its host must resolve to public addresses only (tenants must not reach our
    # network). On only for local receivers (development, tests). Either way, with
    # HUIKUAN_OUTBOUND_ALLOW set (test stacks) its host must resolve inside those networks.
    webhook_allow_private_addresses: bool = False
    # Bearer JWTs from an external identity provider (mobile apps): off unless jwt_jwks_url
    # is set, and then jwt_issuer and jwt_audience are required. The tenant comes from the
    # claim jwt_tenant_claim; the scopes from the first of jwt_scope_claims present (a
    # space-separated string or a list). Keys are cached jwt_jwks_ttl_seconds; a token with
    # an unknown kid refetches them, at most every jwt_jwks_min_refetch_seconds.
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: list[str] = ["RS256", "ES256"]
    jwt_tenant_claim: str = "tenant_id"
    jwt_scope_claims: list[str] = ["scope", "scp"]
    jwt_leeway_seconds: float = 30.0
    jwt_jwks_ttl_seconds: float = 300.0
    jwt_jwks_min_refetch_seconds: float = 10.0
    jwt_jwks_timeout_seconds: float = 5.0
    # How long a valid API key (or a token's tenant) is trusted without asking the database
    # again; a key revoked through another gateway process keeps working that long there.
    auth_cache_seconds: float = 5.0
    # Connections kept to each service behind the gateway.
    downstream_max_connections: int = 100

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("ops_thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        merged(value)  # raises on unknown figures or warn above critical
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = set(value) - ALLOWED_ALGORITHMS
        if refused or not value:
            raise ValueError(f"JWT algorithms must be some of {sorted(ALLOWED_ALGORITHMS)}")
        return value

    @model_validator(mode="after")
    def _jwt_needs_issuer_and_audience(self) -> Self:
        if self.jwt_jwks_url and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("GATEWAY_JWT_JWKS_URL needs GATEWAY_JWT_ISSUER and _AUDIENCE")
        return self

    @model_validator(mode="after")
    def _no_placeholder_operator_key(self) -> Self:
        if (
            self.environment != "development"
            and self.operator_key.get_secret_value() == DEV_OPERATOR_KEY
        ):
            raise ValueError("GATEWAY_OPERATOR_KEY is the development placeholder; set a secret")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
