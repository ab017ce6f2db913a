"""HTTP clients for the services behind the gateway, one per downstream, each with a
circuit breaker so a dead service is not hammered."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.logs import request_id_var, traceparent_header
from huikuan_runtime.problems import UpstreamUnavailable

POOL_SIZE = 16  # connections per httpx pool; see Downstream
KEEPALIVE_SECONDS = 4.0


class CircuitBreaker:
    """Opens after `failures` consecutive failures; lets one call through after `cooldown`."""

    def __init__(self, failures: int, cooldown: float) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def open(self) -> bool:
        if self._opened_at is None:
            return False
        # after the cooldown the breaker is half-open: the next call is a trial
        return time.monotonic() - self._opened_at < self._cooldown

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = time.monotonic()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content: bytes
    content_type: str

    @property
    def body(self) -> Any:
        """The JSON body, parsed (only when someone needs to look inside)."""
        return json.loads(self.content) if self.content else None


class Downstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        *,
        timeout: float,
        breaker: CircuitBreaker,
        max_connections: int = 100,
    ) -> None:
        self.name = name
        self.breaker = breaker
        # httpcore looks at every connection of a pool, and for each idle one counts them
        # all again, whenever it assigns a request: the cost of a call grows with the square
        # of the pool. Small pools taken in turn keep that flat; each keeps every connection
        # it opens (with httpx's default of 20 kept alive, a busy gateway would open and
        # close connections to the service all the time).
        per_pool = min(max_connections, POOL_SIZE)
        self._clients = [
            httpx.AsyncClient(
                base_url=base_url,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
                headers={INTERNAL_TOKEN_HEADER: token},
                limits=httpx.Limits(
                    max_connections=per_pool,
                    max_keepalive_connections=per_pool,
                    # below the services' keep-alive (uvicorn's 5 s), so that the gateway
                    # drops an idle connection before the service may close it under it
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
            )
            for _ in range(-(-max_connections // per_pool))
        ]
        self._turn = itertools.cycle(self._clients)

    async def request(
        self,
        method: str,
        path: str,
        tenant: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Reply:
        """Call the service for `tenant`; 5xx, timeouts and refused connections are 503s."""
        if self.breaker.open:
            raise UpstreamUnavailable(f"the {self.name} service is unavailable (circuit open)")
        headers = {TENANT_HEADER: tenant, "traceparent": traceparent_header()}
        if (rid := request_id_var.get()) is not None:
            headers["X-Request-ID"] = rid
        try:
            response = await next(self._turn).request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                timeout=deadline if deadline is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            self.breaker.failure()
            raise UpstreamUnavailable(
                f"the {self.name} service did not answer: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            self.breaker.failure()
            raise UpstreamUnavailable(
                f"the {self.name} service failed with status {response.status_code}"
            )
        self.breaker.success()
        content_type = response.headers.get("content-type", "application/json")
        return Reply(response.status_code, response.content, content_type)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
