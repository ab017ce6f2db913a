"""Bearer JWTs from an external identity provider: what a valid token is, and which tenant
and scopes it stands for. Pure: the signing key and the time are passed in.

A token is valid when its signature verifies against the provider's key named by its `kid`,
with an allowed asymmetric algorithm; its `iss` and `aud` are the configured ones; its `exp`
(required) has not passed and its `nbf` (if any) has come, both with a small leeway; and it
names a tenant. Its scopes come from the first scope claim present: a space-separated string
(`scope`) or a list of strings (`scp`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from gateway.domain.keys import KEY_PREFIX

# Asymmetric only: a shared-secret (HS*) or unsigned ("none") token must never be accepted.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


class TokenRejected(Exception):
    """The token is not acceptable; the message says why (safe to show the caller)."""


@dataclass(frozen=True, slots=True)
class TokenRules:
    issuer: str
    audience: str
    algorithms: frozenset[str]
    tenant_claim: str = "tenant_id"
    scope_claims: tuple[str, ...] = ("scope", "scp")
    leeway_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class TokenClaims:
    tenant: str
    subject: str | None
    scopes: frozenset[str]


def looks_like_jwt(token: str) -> bool:
    """API keys start with `hk_` and have no dots; a compact JWS is three dotted parts."""
    return not token.startswith(KEY_PREFIX) and token.count(".") == 2


def key_id(token: str, rules: TokenRules) -> str | None:
    """The `kid` the token's header names (None if it names none), once the header is
    readable and its algorithm allowed."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise TokenRejected("the token is not a readable JWT") from error
    if header.get("alg") not in rules.algorithms:
        raise TokenRejected(f"tokens signed with {header.get('alg')!r} are not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenRejected("the token's kid is not a string")
    return kid


def verify(token: str, key: jwt.PyJWK, rules: TokenRules, now: float) -> TokenClaims:
    """The tenant, subject and scopes of `token` if it is valid at `now` (seconds since the
    epoch) and signed by `key`; otherwise TokenRejected."""
    if key.algorithm_name not in rules.algorithms:
        raise TokenRejected("the signing key's algorithm is not accepted")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            audience=rules.audience,
            issuer=rules.issuer,
            # exp, nbf and iat are checked below against the given time.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "iss", "aud"],
            },
        )
    except jwt.MissingRequiredClaimError as error:
        raise TokenRejected(f"the token has no {error.claim!r} claim") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRejected("the token is not meant for this API (aud)") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRejected("the token is not from the trusted issuer (iss)") from error
    except jwt.InvalidSignatureError as error:
        raise TokenRejected("the token's signature does not verify") from error
    except jwt.InvalidTokenError as error:
        raise TokenRejected("the token is not valid") from error
    leeway = rules.leeway_seconds
    expires = _instant(claims, "exp")
    if expires is not None and now >= expires + leeway:
        raise TokenRejected("the token has expired")
    not_before = _instant(claims, "nbf")
    if not_before is not None and now + leeway < not_before:
        raise TokenRejected("the token is not valid yet (nbf)")
    tenant = claims.get(rules.tenant_claim)
    if not isinstance(tenant, str) or not tenant:
        raise TokenRejected(f"the token names no tenant ({rules.tenant_claim!r})")
    subject = claims.get("sub")
    return TokenClaims(
        tenant=tenant,
        subject=subject if isinstance(subject, str) else None,
        scopes=scopes_of(claims, rules.scope_claims),
    )


def scopes_of(claims: dict[str, Any], names: tuple[str, ...]) -> frozenset[str]:
    """The scopes in the first of `names` present: a space-separated string or a list."""
    for name in names:
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(item for item in value if isinstance(item, str) and item)
        raise TokenRejected(f"the token's {name!r} claim is neither a string nor a list")
    return frozenset()


def _instant(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(f"the token's {name!r} claim is not a number of seconds")
    return float(value)
