"""A route's clock and app state come in as dependencies: a test moves the clock through
FastAPI's dependency overrides, and what the app keeps in its state reaches the route."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from huikuan_runtime.clock import FixedClock
from huikuan_runtime.deps import Clock, app_state, get_clock

Greeting = Annotated[str, Depends(app_state("greeting"))]


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/now")
    async def now(clock: Clock, greeting: Greeting) -> dict[str, str]:
        return {"now": clock.now().isoformat(), "greeting": greeting}

    app.state.greeting = "ni hao"
    return app


def test_the_clock_is_the_wall_clock_unless_overridden() -> None:
    app = _app()
    with TestClient(app) as client:
        before = datetime.now(UTC)
        body = client.get("/now").json()
        assert before <= datetime.fromisoformat(body["now"]) <= datetime.now(UTC)
        assert body["greeting"] == "ni hao"

        moment = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
        app.dependency_overrides[get_clock] = lambda: FixedClock(moment)
        assert client.get("/now").json()["now"] == moment.isoformat()
