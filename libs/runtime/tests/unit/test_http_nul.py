"""A NUL character PostgreSQL refuses is the caller's mistake (422), not a crash (500)."""

from __future__ import annotations

from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from huikuan_runtime.http import install_problem_handlers


def test_text_postgres_cannot_hold_is_a_422_problem() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/text")
    async def text() -> None:
        raise CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')

    @app.get("/json")
    async def json() -> None:
        raise UntranslatableCharacterError("unsupported Unicode escape sequence")

    client = TestClient(app)
    for path in ("/text", "/json"):
        answer = client.get(path)
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "NUL" in answer.json()["detail"]
