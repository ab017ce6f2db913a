"""The identity provider's signing keys, fetched from its JWKS URL and cached.

Keys are kept for `ttl` seconds; a token naming a key we do not hold (the provider rotated
its keys) triggers a refetch at once, but never more often than every `min_refetch` seconds,
so garbage `kid`s cannot turn the gateway into a load generator against the provider.
Concurrent requests share one fetch. When a refetch fails the keys already held stay in
use; only a gateway that never got any keys reports the provider unavailable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass

import httpx
import jwt

from gateway.domain.tokens import TokenRules

log = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """The provider's keys could not be fetched and none are held."""


class KeySet:
    def __init__(
        self,
        url: str,
        *,
        algorithms: Collection[str],
        ttl: float,
        min_refetch: float,
        timeout: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._algorithms = frozenset(algorithms)
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch (monotonic)
        self._tried_at: float | None = None  # last attempt, successful or not
        self._fetches = 0
        self._lock = asyncio.Lock()

    @property
    def fetches(self) -> int:
        """How many fetches were attempted (for tests and the ops view)."""
        return self._fetches

    async def key(self, kid: str | None, now: float) -> jwt.PyJWK | None:
        """The key named `kid` at monotonic time `now` (None if the provider has no such
        key); a token without a `kid` gets the provider's only key, if it has just one."""
        refreshed = False
        if self._fetched_at is None or now - self._fetched_at >= self._ttl:
            refreshed = await self._refresh(now)
        found = self._find(kid)
        if found is None and not refreshed:
            await self._refresh(now)
            found = self._find(kid)
        if found is None and self._fetched_at is None:
            raise KeysUnavailable(f"no signing keys could be fetched from {self.url}")
        return found

    async def close(self) -> None:
        await self._client.aclose()

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self, now: float) -> bool:
        """Fetch the keys unless fetched too recently; true if a fetch happened (this
        request's, or another's that it waited for)."""
        seen = self._tried_at
        async with self._lock:
            if self._tried_at != seen:
                return True  # another request fetched while this one waited
            if self._tried_at is not None and now - self._tried_at < self._min_refetch:
                return False
            self._tried_at = now
            self._fetches += 1
            try:
                response = await self._client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                self._keys = self._usable(response.json())
                self._fetched_at = now
            except (httpx.HTTPError, ValueError) as error:
                log.warning("fetching the JWKS from %s failed: %s", self.url, error)
            return True

    def _usable(self, document: object) -> dict[str | None, jwt.PyJWK]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the JWKS document has no 'keys' list")
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type or curve we cannot use; others may be fine
            if key.algorithm_name in self._algorithms:
                keys[key.key_id] = key
        return keys


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    """What checks bearer JWTs: the provider's keys and the rules a token must meet."""

    keys: KeySet
    rules: TokenRules
