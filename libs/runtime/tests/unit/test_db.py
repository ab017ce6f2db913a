"""Which database errors are outages (waited out) rather than failures of the work."""

from __future__ import annotations

import asyncpg
import pytest

from huikuan_runtime.db import TRANSIENT_ERRORS


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError,  # 57P01: fast shutdown, terminated backend
        asyncpg.CrashShutdownError,  # 57P02: another backend crashed, the server restarts
        asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
        asyncpg.IdleSessionTimeoutError,  # 57P05
        asyncpg.ReadOnlySQLTransactionError,  # 25006: a failed-over primary, now a standby
        asyncpg.ConnectionDoesNotExistError,  # the connection reset under a statement
        ConnectionResetError,
    ],
)
def test_failover_and_restart_errors_are_outages(error: type[BaseException]) -> None:
    assert issubclass(error, TRANSIENT_ERRORS)


@pytest.mark.parametrize(
    "error",
    [asyncpg.UniqueViolationError, asyncpg.CheckViolationError, asyncpg.QueryCanceledError],
)
def test_errors_of_the_work_itself_are_not(error: type[BaseException]) -> None:
    assert not issubclass(error, TRANSIENT_ERRORS)
