"""How a process reaches PostgreSQL (`DATABASE_*`): directly by default; through a
transaction pooler with `DATABASE_POOL_MODE=transaction`, which turns the statement cache
and LISTEN off unless told otherwise where that can work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from huikuan_runtime.db import DatabaseConnection
from huikuan_runtime.settings import ServiceSettings

URL = "postgresql://ledger@pgbouncer:6432/huikuan?sslmode=verify-full&sslrootcert=/ca.crt"


def test_session_mode_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    assert ServiceSettings().database == DatabaseConnection(URL, "session", 100, listen=True)


def test_transaction_mode_caches_no_statement_and_does_not_listen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_POOL_MODE", "transaction")
    database = ServiceSettings().database
    assert (database.pool_mode, database.statement_cache_size, database.listen) == (
        "transaction",
        0,
        False,
    )
    # LISTEN needs a session: asking for it through a transaction pooler changes nothing.
    monkeypatch.setenv("DATABASE_LISTEN", "true")
    assert ServiceSettings().database.listen is False
    # A pooler that tracks prepared statements (PgBouncer 1.21+) may have the cache back.
    monkeypatch.setenv("DATABASE_STATEMENT_CACHE_SIZE", "50")
    assert ServiceSettings().database.statement_cache_size == 50


def test_listen_and_the_cache_can_be_turned_off_in_session_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_LISTEN", "false")
    monkeypatch.setenv("DATABASE_STATEMENT_CACHE_SIZE", "0")
    database = ServiceSettings().database
    assert (database.pool_mode, database.statement_cache_size, database.listen) == (
        "session",
        0,
        False,
    )


def test_an_unknown_pool_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_MODE", "statement")
    with pytest.raises(ValidationError, match="DATABASE_POOL_MODE"):
        ServiceSettings()


def test_the_url_stays_out_of_the_repr() -> None:
    assert "pgbouncer" not in repr(DatabaseConnection(URL))
