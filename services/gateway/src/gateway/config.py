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
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    service_name: str = "gateway"
    port: int = 8000
    db_schema: str = "gateway"

    ledger_url: str = "http://127.0.0.1:8001"
    """Where the ledger's internal API answers."""
    credit_url: str = "http://127.0.0.1:8002"
    """Where credit's internal API answers."""
    reminders_url: str = "http://127.0.0.1:8003"
    """Where reminders' internal API answers."""
    downstream_timeout_seconds: float = 5.0
    """How long a call to a service may take before the client gets a 503."""
    idempotency_key_ttl_seconds: float = Field(24 * 3600.0, gt=0)
    """How long after its first use an `Idempotency-Key` replays its response; later, the
    same key starts a new request."""
    idempotency_claim_timeout_seconds: float = Field(120.0, gt=0)
    """How long a request may hold its `Idempotency-Key` unfinished (others with the key get
    409 meanwhile). An older claim was abandoned — the gateway stopped mid-request — and the
    next request with the key takes it over. Must exceed the longest request the gateway
    makes (`GATEWAY_DOWNSTREAM_TIMEOUT_SECONDS`), or a slow request could run twice."""
    summary_part_timeout_seconds: float = 2.0
    """How long a joined read (customer summary, invoice with prediction) waits for each
    part before marking it `unavailable`."""
    breaker_failures: int = 5
    """Consecutive failures (refused or dropped connections, timeouts, 503s) that open the
    circuit breaker to a service."""
    breaker_cooldown_seconds: float = 10.0
    """How long an open breaker answers 503 at once before letting one trial call through
    (the others are refused until the trial ends; its success closes the breaker)."""
    operator_key: SecretStr = SecretStr(DEV_OPERATOR_KEY)
    """The operator's key for `/v1/admin` (tenants and API keys); the development
    placeholder refuses to start outside `HUIKUAN_ENV=development`."""
    rate_per_second: float = 100.0
    """Calls a second per API key and scope (token bucket refill)."""
    rate_burst: int = 200
    """Bucket size per API key and scope."""
    rate_limits: dict[str, tuple[float, int]] = {}
    """Per-scope overrides of rate and burst, as JSON, e.g. `{"credit:check": [500, 1000]}`."""
    ops_thresholds: dict[str, tuple[float, float]] = {}
    """The ops view's (warn, critical) per figure over `gateway.ops.status.DEFAULT_THRESHOLDS`,
    as JSON, e.g. `{"consumer_lag": [500, 50000]}`."""
    ops_kafka_timeout_seconds: float = 10.0
    """How long the ops view waits for Kafka (offsets, dead letters)."""
    cors_origins: Annotated[list[str], NoDecode] = []
    """Origins allowed to call the API from a browser: a JSON list or comma-separated; empty:
    no CORS."""
    webhook_max_age_seconds: float = 24 * 3600.0
    """A webhook delivery still failing this long after its event is failed for good."""
    webhook_backoff_base_seconds: float = 5.0
    """A failed delivery is retried after base * 2^(n-1) seconds (with jitter)..."""
    webhook_backoff_cap_seconds: float = 3600.0
    """... at most this long."""
    webhook_timeout_seconds: float = 5.0
    """How long one webhook POST may take."""
    webhook_workers: int = 4
    """Deliveries the dispatcher runs at a time."""
    webhook_poll_seconds: float = 0.5
    """How often the dispatcher looks for due deliveries when nothing woke it."""
    webhook_secret_overlap_seconds: float = Field(24 * 3600.0, ge=0)
    """After `POST /v1/webhooks/{id}/rotate-secret` the replaced secret still signs
    deliveries (a second signature) this long, so receivers can switch without refusing any."""
    webhook_allow_private_addresses: bool = False
    """Off: a subscription's URL may not name localhost or a non-public IP, and before each
    attempt its host must resolve to public addresses only (tenants must not reach our
    network). On only for local receivers (development, tests). Either way, with
    `HUIKUAN_OUTBOUND_ALLOW` set its host must resolve inside those networks."""
    jwt_jwks_url: str | None = None
    """Bearer JWTs from an external identity provider (mobile apps): off unless set; then
    `GATEWAY_JWT_ISSUER` and `GATEWAY_JWT_AUDIENCE` are required."""
    jwt_issuer: str | None = None
    """The `iss` a token must carry."""
    jwt_audience: str | None = None
    """The `aud` a token must carry."""
    jwt_algorithms: list[str] = ["RS256", "ES256"]
    """Signature algorithms accepted (asymmetric only)."""
    jwt_tenant_claim: str = "tenant_id"
    """The claim naming the token's tenant."""
    jwt_scope_claims: list[str] = ["scope", "scp"]
    """Where the scopes are: the first of these claims present (a space-separated string or
    a list)."""
    jwt_leeway_seconds: float = 30.0
    """Clock skew allowed on `exp` and `nbf`."""
    jwt_jwks_ttl_seconds: float = 300.0
    """How long the identity provider's keys are cached."""
    jwt_jwks_min_refetch_seconds: float = 10.0
    """A token with an unknown `kid` refetches the keys, at most this often."""
    jwt_jwks_timeout_seconds: float = 5.0
    """How long fetching the keys may take."""
    auth_cache_seconds: float = 5.0
    """How long a valid API key (or a token's tenant) is trusted without asking the database
    again; a key revoked through another gateway process keeps working that long there."""
    downstream_max_connections: int = 100
    """Connections kept to each service behind the gateway."""

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
    def _claims_outlive_requests(self) -> Self:
        if self.idempotency_claim_timeout_seconds <= self.downstream_timeout_seconds:
            raise ValueError(
                "GATEWAY_IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS must exceed "
                "GATEWAY_DOWNSTREAM_TIMEOUT_SECONDS: a request still running would lose its key"
            )
        return self

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
