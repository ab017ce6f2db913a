"""The downstream client against a real local HTTP server: what it sends, what it passes
back unchanged, which failures become 503s and count against the breaker, and which are
one request's 502."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from gateway.clients import CircuitBreaker, Downstream
from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.logs import request_id_var
from huikuan_runtime.problems import UpstreamFailed, UpstreamUnavailable


class Service:
    """A stand-in service that records what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.slow_calls = 0

    async def echo(self, request: web.Request) -> web.Response:
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": list(request.query.items()),
                "headers": dict(request.headers),
                "body": await request.read(),
                "peer": request.transport.get_extra_info("peername") if request.transport else None,
            }
        )
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(
            status=404, body=b'{"title":"Not Found"}', content_type="application/problem+json"
        )

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.query.get("status", "500")), body=b"boom")

    async def slow(self, request: web.Request) -> web.Response:
        self.slow_calls += 1
        await self.release.wait()
        return web.Response(body=b"{}", content_type="application/json")


@pytest.fixture
async def service() -> AsyncIterator[tuple[Service, str]]:
    svc = Service()
    app = web.Application()
    app.router.add_route("*", "/echo/{rest:.*}", svc.echo)
    app.router.add_get("/missing", svc.missing)
    app.router.add_get("/broken", svc.broken)
    app.router.add_get("/slow", svc.slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield svc, f"http://127.0.0.1:{port}/"
    finally:
        svc.release.set()
        await runner.cleanup()


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    made: list[Downstream] = []

    def build(url: str, failures: int = 5, timeout: float = 5.0) -> Downstream:
        client = Downstream(
            "ledger", url, "s3cret", timeout=timeout, breaker=CircuitBreaker(failures, 3600)
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.close()


async def test_sends_credential_tenant_trace_request_id_body_and_query(
    service: tuple[Service, str], make: Any
) -> None:
    svc, url = service
    client = make(url)
    token = request_id_var.set("req-123")
    try:
        reply = await client.request(
            "POST",
            "/echo/invoices",
            "acme",
            json={"amount": "12.50", "name": "Müller"},
            params={"as_of": "2026-01-31", "open": True, "closed": False, "status": ["a", "b"]},
        )
    finally:
        request_id_var.reset(token)
    assert (reply.status, reply.content, reply.content_type) == (
        200,
        b'{"ok":true}',
        "application/json",
    )
    [seen] = svc.seen
    assert seen["method"] == "POST" and seen["path"] == "/echo/invoices"
    assert seen["query"] == [
        ("as_of", "2026-01-31"),
        ("open", "true"),
        ("closed", "false"),
        ("status", "a"),
        ("status", "b"),
    ]
    headers = seen["headers"]
    assert headers[INTERNAL_TOKEN_HEADER] == "s3cret"
    assert headers[TENANT_HEADER] == "acme"
    assert headers["X-Request-ID"] == "req-123"
    assert headers["traceparent"].startswith("00-") and len(headers["traceparent"]) == 55
    assert headers["Content-Type"] == "application/json"
    assert seen["body"] == '{"amount":"12.50","name":"Müller"}'.encode()


async def test_a_get_sends_no_body_and_no_request_id_when_there_is_none(
    service: tuple[Service, str], make: Any
) -> None:
    svc, url = service
    await make(url).request("GET", "/echo/x", "acme")
    [seen] = svc.seen
    assert seen["body"] == b"" and seen["query"] == []
    assert "X-Request-ID" not in seen["headers"]


async def test_a_4xx_is_passed_on_unchanged_and_is_no_failure(
    service: tuple[Service, str], make: Any
) -> None:
    _, url = service
    client = make(url, failures=1)
    reply = await client.request("GET", "/missing", "acme")
    assert (reply.status, reply.content, reply.content_type) == (
        404,
        b'{"title":"Not Found"}',
        "application/problem+json",
    )
    assert not client.breaker.open


@pytest.mark.parametrize("status", [500, 501, 502, 504])
async def test_a_5xx_other_than_503_is_that_requests_502_and_no_failure(
    service: tuple[Service, str], make: Any, status: int
) -> None:
    _, url = service
    client = make(url, failures=2)
    for _ in range(5):
        with pytest.raises(
            UpstreamFailed, match=rf"failed to handle this request \(status {status}\)"
        ):
            await client.request("GET", "/broken", "acme", params={"status": status})
    assert not client.breaker.open
    assert (await client.request("GET", "/echo/x", "other")).status == 200


async def test_a_503_is_a_503_and_opens_the_breaker(
    service: tuple[Service, str], make: Any
) -> None:
    _, url = service
    client = make(url, failures=2)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable, match=r"unavailable \(status 503\)"):
            await client.request("GET", "/broken", "acme", params={"status": 503})
    assert client.breaker.open
    with pytest.raises(UpstreamUnavailable, match="circuit open"):
        await client.request("GET", "/echo/x", "acme")


async def test_a_call_past_its_deadline_is_a_503(service: tuple[Service, str], make: Any) -> None:
    _, url = service
    client = make(url, timeout=30.0)
    with pytest.raises(UpstreamUnavailable, match="did not answer"):
        await client.request("GET", "/slow", "acme", deadline=0.2)


async def test_a_call_past_the_default_timeout_is_a_503(
    service: tuple[Service, str], make: Any
) -> None:
    _, url = service
    with pytest.raises(UpstreamUnavailable, match="did not answer"):
        await make(url, timeout=0.2).request("GET", "/slow", "acme")


async def test_a_refused_connection_is_a_503(make: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make(f"http://127.0.0.1:{port}", failures=1)
    with pytest.raises(UpstreamUnavailable, match="did not answer"):
        await client.request("GET", "/echo/x", "acme")
    assert client.breaker.open


async def test_connections_are_kept_alive_between_calls(
    service: tuple[Service, str], make: Any
) -> None:
    svc, url = service
    client = make(url)
    for _ in range(3):
        await client.request("GET", "/echo/x", "acme")
    peers = {seen["peer"] for seen in svc.seen}
    assert len(svc.seen) == 3 and len(peers) == 1 and None not in peers


def _on_clock(url: str, now: list[float], *, failures: int) -> Downstream:
    """A client whose breaker (cooldown 10 s) reads the time from `now[0]`."""
    breaker = CircuitBreaker(failures=failures, cooldown=10.0, clock=lambda: now[0])
    return Downstream("ledger", url, "s3cret", timeout=30.0, breaker=breaker)


async def test_a_half_open_breaker_lets_one_trial_through_not_every_waiting_call(
    service: tuple[Service, str],
) -> None:
    svc, url = service
    now = [0.0]
    client = _on_clock(url, now, failures=2)
    try:
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable, match="status 503"):
                await client.request("GET", "/broken", "acme", params={"status": 503})
        now[0] = 10.5  # past the cooldown: half-open
        calls = [asyncio.create_task(client.request("GET", "/slow", "acme")) for _ in range(10)]
        for _ in range(1000):  # bounded: the nine refusals are immediate
            refused = [c for c in calls if c.done()]
            if len(refused) == 9 and svc.slow_calls == 1:
                break
            await asyncio.sleep(0.01)
        assert len(refused) == 9 and svc.slow_calls == 1
        for c in refused:
            with pytest.raises(UpstreamUnavailable, match="circuit open"):
                c.result()
        svc.release.set()  # the trial answers: the breaker closes
        [trial] = [c for c in calls if c not in refused]
        assert (await trial).status == 200
        assert not client.breaker.open
        assert (await client.request("GET", "/echo/x", "acme")).status == 200
    finally:
        await client.close()


async def test_a_cancelled_trial_frees_the_place_for_the_next_call(
    service: tuple[Service, str],
) -> None:
    svc, url = service
    now = [0.0]
    client = _on_clock(url, now, failures=1)
    try:
        with pytest.raises(UpstreamUnavailable, match="status 503"):
            await client.request("GET", "/broken", "acme", params={"status": 503})
        now[0] = 11.0
        trial = asyncio.create_task(client.request("GET", "/slow", "acme"))
        for _ in range(500):
            if svc.slow_calls == 1:
                break
            await asyncio.sleep(0.01)
        assert client.breaker.open  # the trial is out: everyone else waits for it
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        assert not client.breaker.open
        assert (await client.request("GET", "/echo/x", "acme")).status == 200
    finally:
        await client.close()
