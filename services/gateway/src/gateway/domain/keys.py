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
    "ledger:read", "ledger:write", "credit:read", "credit:check", "credit:write",
    "dunning:read", "dunning:write", "ops:read", "ops:write", "webhooks:read", "webhooks:write",
)  # fmt: skip

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
