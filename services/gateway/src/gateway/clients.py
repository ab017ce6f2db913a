"""HTTP clients for the services behind the gateway, one per downstream, each with a
circuit breaker so a dead service is not hammered.

The breaker counts what says the service is down — a connection refused or dropped, a
timeout, a 503 — and nothing that one request brings on itself: a 4xx is the caller's
answer, and any other 5xx (a bug the request ran into) is that request's 502. Were those
counted, one tenant sending bad input could cut the service off for every tenant.

The calls go through aiohttp, not httpx like every other outbound call: see `Downstream`."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.logs import request_id_var, traceparent_header
from huikuan_runtime.problems import UpstreamFailed, UpstreamUnavailable

KEEPALIVE_SECONDS = 4.0


class Permit:
    """A call let through by a breaker; `trial` if it is the half-open breaker's one trial."""

    __slots__ = ("trial",)

    def __init__(self, trial: bool) -> None:
        self.trial = trial


class CircuitBreaker:
    """Closed until `failures` consecutive failures open it. After `cooldown` seconds it is
    half-open: one call goes through as the trial and every other call is refused until the
    trial ends. Any success closes the breaker; the trial failing opens it for another
    cooldown; a trial that ends neither way (cancelled: the client went away) frees the
    place for the next call. So one gateway replica sends at most one trial at a time."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial: Permit | None = None

    @property
    def open(self) -> bool:
        """Whether a call now would be refused (no side effect: `allow` takes the trial)."""
        if self._opened_at is None:
            return False
        return self._trial is not None or self._clock() - self._opened_at < self._cooldown

    def allow(self) -> Permit | None:
        """A permit for this call, or None if it is refused. Its outcome is reported with
        the permit: `success`, `failure` or `abandoned`."""
        if self.open:
            return None
        permit = Permit(trial=self._opened_at is not None)
        if permit.trial:
            self._trial = permit
        return permit

    def success(self, permit: Permit | None = None) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = None

    def failure(self, permit: Permit | None = None) -> None:
        self._failures += 1
        if permit is not None and permit is self._trial:
            self._trial = None
        if self._failures >= self._threshold:
            self._opened_at = self._clock()

    def abandoned(self, permit: Permit) -> None:
        if permit is self._trial:
            self._trial = None


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
    """One service behind the gateway, called through aiohttp: the product's one outbound
    HTTP client library is httpx (webhook deliveries, JWKS), and this is the only place
    with a second, because the benchmarks show it matters. httpx and aiohttp back to back
    on the same machine (2026-12-06, two runs each; services/gateway/README.md, "HTTP
    clients"): with httpx the gateway spent about 3x the CPU per summary (5.9 against
    2.0 ms) and 1.8x per credit check (2.1-2.4 against 1.2-1.3 ms); summary throughput fell
    from 0.76-0.91 of its floor to 0.40-0.45, and a credit check's p99 through the gateway
    went from 1.3-1.4x to 2.2-2.3x that of a check sent straight to credit."""

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
        self._base = base_url.rstrip("/")
        self._timeout = _timeout(timeout, connect=min(timeout, 2.0))
        # One pool of kept-alive connections; idle ones are dropped before the services'
        # own keep-alive (uvicorn's 5 s) could close them under the gateway.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max_connections, keepalive_timeout=KEEPALIVE_SECONDS
            ),
            headers={INTERNAL_TOKEN_HEADER: token},
            timeout=self._timeout,
            raise_for_status=False,
        )

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
        """Call the service for `tenant`. Refused connections, timeouts and 503s are 503s
        (UpstreamUnavailable) and count against the breaker; any other 5xx is a 502
        (UpstreamFailed) that does not; anything below 500 is the reply. `deadline`
        (seconds) replaces the default timeout of every phase of the call."""
        permit = self.breaker.allow()
        if permit is None:
            raise UpstreamUnavailable(f"the {self.name} service is unavailable (circuit open)")
        headers = {TENANT_HEADER: tenant, "traceparent": traceparent_header()}
        if (rid := request_id_var.get()) is not None:
            headers["X-Request-ID"] = rid
        data: bytes | None = None
        if json is not None:
            data = _dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method,
                self._base + path,
                data=data,
                params=_query(params) if params else None,
                headers=headers,
                timeout=self._timeout if deadline is None else _timeout(deadline),
            ) as response:
                status = response.status
                content = await response.read()
                content_type = response.headers.get("Content-Type", "application/json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.breaker.failure(permit)
            raise UpstreamUnavailable(
                f"the {self.name} service did not answer: {type(exc).__name__}"
            ) from exc
        except BaseException:  # cancelled (the caller went away): no verdict on the service
            self.breaker.abandoned(permit)
            raise
        if status == 503:
            self.breaker.failure(permit)
            raise UpstreamUnavailable(f"the {self.name} service is unavailable (status 503)")
        self.breaker.success(permit)  # it answered: up, whatever it made of this request
        if status >= 500:
            raise UpstreamFailed(
                f"the {self.name} service failed to handle this request (status {status})"
            )
        return Reply(status, content, content_type)

    async def close(self) -> None:
        await self._session.close()


@functools.cache
def _timeout(seconds: float, connect: float | None = None) -> aiohttp.ClientTimeout:
    """No limit on the whole call, as before (httpx's): `seconds` to get a connection from
    the pool, and for each read of the answer; `connect` (or `seconds`) to open one."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=seconds,
        sock_connect=seconds if connect is None else connect,
        sock_read=seconds,
    )


def _dumps(value: Any) -> bytes:
    """JSON as httpx wrote it: compact, UTF-8, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _query(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Query pairs as httpx encoded them: a list repeats its key, booleans are `true` and
    `false`, None is an empty value."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            pairs.append((key, _text(item)))
    return pairs


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)
