"""API keys and scopes: generation, hashing, and what a scope allows."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

Scope = Literal[
    "ledger:read",
    "ledger:write",
    "credit:read",
    "credit:check",
    "credit:write",
    "dunning:read",
    "dunning:write",
    "ops:read",
    "ops:write",
    "webhooks:read",
    "webhooks:write",
]
ALL_SCOPES: tuple[Scope, ...] = (
    "ledger:read",
    "ledger:write",
    "credit:read",
    "credit:check",
    "credit:write",
    "dunning:read",
    "dunning:write",
    "ops:read",
    "ops:write",
    "webhooks:read",
    "webhooks:write",
)

KEY_PREFIX = "hk_"


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: uuid.UUID
    secret: str  # the whole key, shown to the caller once
    prefix: str  # a short public part, safe to display and log

    @property
    def hash(self) -> bytes:
        return hash_key(self.secret)


def generate_key(key_id: uuid.UUID) -> NewKey:
    token = secrets.token_urlsafe(32)
    secret = f"{KEY_PREFIX}{token}"
    return NewKey(key_id, secret, secret[:10])


def hash_key(secret: str) -> bytes:
    """Keys are 256 random bits, so one SHA-256 is enough to make the stored form useless."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: always one tenant, with the scopes of its credential (an API key,
    or a bearer JWT from the identity provider, whose subject is then known)."""

    tenant: str
    key_id: uuid.UUID | None
    scopes: frozenset[str]
    subject: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def rate_key(self) -> Hashable:
        """Whose bucket a call is taken from: the API key, or the token's tenant and subject."""
        return self.key_id if self.key_id is not None else ("jwt", self.tenant, self.subject)


class PrincipalCache:
    """Credentials seen recently, kept `ttl` seconds so that a busy key is not looked up in
    the database on every call (0 turns it off). Only valid credentials are kept, at most
    `max_entries`: keys and tokens' tenants that were active. Revoking a key or suspending
    a tenant through this gateway forgets them at once; another gateway process stops
    accepting them within `ttl`. Times are monotonic seconds, passed in.

    A lookup that was already reading the database when something was forgotten must not
    put back what it read before: callers take `generation` before they read and pass it
    as `read_at`; anything forgotten since makes the remember a no-op."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0  # moves on with every forget
        self._keys: dict[bytes, tuple[Principal, float]] = {}
        self._tenants: dict[str, float] = {}

    def key(self, key_hash: bytes, now: float) -> Principal | None:
        found = self._keys.get(key_hash)
        if found is None or now >= found[1]:
            return None
        return found[0]

    def remember_key(
        self, key_hash: bytes, principal: Principal, now: float, read_at: int | None = None
    ) -> None:
        if self.ttl > 0 and (read_at is None or read_at == self.generation):
            if len(self._keys) >= self.max_entries:
                self._keys.clear()
            self._keys[key_hash] = (principal, now + self.ttl)

    def forget_key(self, key_id: uuid.UUID) -> None:
        self.generation += 1
        for key_hash in [h for h, (p, _) in self._keys.items() if p.key_id == key_id]:
            del self._keys[key_hash]

    def forget_tenant(self, tenant: str) -> None:
        """Drop the tenant's keys and the tenant itself (it was suspended)."""
        self.generation += 1
        for key_hash in [h for h, (p, _) in self._keys.items() if p.tenant == tenant]:
            del self._keys[key_hash]
        self._tenants.pop(tenant, None)

    def tenant_known(self, tenant: str, now: float) -> bool:
        return now < self._tenants.get(tenant, now)

    def remember_tenant(self, tenant: str, now: float, read_at: int | None = None) -> None:
        if self.ttl > 0 and (read_at is None or read_at == self.generation):
            if len(self._tenants) >= self.max_entries:
                self._tenants.clear()
            self._tenants[tenant] = now + self.ttl
