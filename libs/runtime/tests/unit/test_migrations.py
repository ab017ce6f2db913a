"""Migration discovery and planning (files only; applying them is an integration test)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import asyncpg
import pytest

from huikuan_runtime.migrations import (
    RUNTIME_SQL,
    Migration,
    MigrationError,
    discover,
    migrate,
    plan,
)


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


def test_discover_orders_by_number(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0010_zeta.sql": "SELECT 10;",
            "0002_beta.sql": "SELECT 2;",
            "0001_omega.sql": "SELECT 1;",
            "0003_alpha.sql": "SELECT 3;",
        },
    )
    found = discover(directory)
    assert [m.version for m in found] == [1, 2, 3, 10]
    assert [m.name for m in found] == ["omega", "beta", "alpha", "zeta"]
    assert [m.label for m in found] == [
        "service/0001_omega",
        "service/0002_beta",
        "service/0003_alpha",
        "service/0010_zeta",
    ]
    assert found[3].sql == "SELECT 10;"


def test_discover_ignores_other_files(tmp_path: Path) -> None:
    directory = _write(tmp_path / "m", {"0001_init.sql": "SELECT 1;", "README.md": "notes"})
    (directory / "drafts").mkdir()
    assert [m.label for m in discover(directory)] == ["service/0001_init"]
    assert discover(_write(tmp_path / "empty", {})) == []


@pytest.mark.parametrize(
    "bad",
    ["1_init.sql", "001_init.sql", "00001_init.sql", "0001-init.sql", "0001_Init.sql", "init.sql"],
)
def test_discover_refuses_bad_names(tmp_path: Path, bad: str) -> None:
    directory = _write(tmp_path / "m", {"0001_ok.sql": "SELECT 1;", bad: "SELECT 2;"})
    with pytest.raises(MigrationError, match="NNNN_description"):
        discover(directory)


def test_discover_refuses_duplicate_numbers(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {"0001_init.sql": "SELECT 1;", "0002_a.sql": "SELECT 2;", "0002_b.sql": "SELECT 3;"},
    )
    with pytest.raises(MigrationError, match="used twice"):
        discover(directory)


def test_plan_puts_runtime_migrations_first(tmp_path: Path) -> None:
    directory = _write(tmp_path / "m", {"0002_more.sql": "SELECT 2;", "0001_init.sql": "SELECT 1;"})
    planned = plan(directory)
    runtime = discover(RUNTIME_SQL, "runtime")
    assert runtime, "the runtime ships its own migrations"
    assert planned[: len(runtime)] == runtime
    assert [m.source for m in planned] == ["runtime"] * len(runtime) + ["service", "service"]
    assert [m.label for m in planned[len(runtime) :]] == ["service/0001_init", "service/0002_more"]
    assert planned[0].label == "runtime/0001_outbox_and_inbox"


def test_a_missing_folder_is_an_error_not_an_empty_plan(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no such migrations folder"):
        discover(tmp_path / "absent")
    with pytest.raises(MigrationError, match="no such migrations folder"):
        plan(tmp_path / "absent")
    with pytest.raises(MigrationError, match="no migrations"):
        plan(_write(tmp_path / "empty", {"README.md": "nothing yet"}))


def test_checksum_follows_the_text() -> None:
    one = Migration("service", 1, "init", "CREATE TABLE a (x int);")
    same = Migration("service", 1, "init", "CREATE TABLE a (x int);")
    changed = Migration("service", 1, "init", "CREATE TABLE a (x bigint);")
    assert one.checksum == same.checksum
    assert one.checksum != changed.checksum
    assert len(one.checksum) == 64


@pytest.mark.parametrize("schema", ["Ledger", "ledger; DROP TABLE x", "1ledger", "", "led-ger"])
async def test_migrate_refuses_bad_schema_names_before_touching_the_database(schema: str) -> None:
    # No connection at all: the name is refused before any statement is sent.
    with pytest.raises(MigrationError, match="invalid schema name"):
        await migrate(cast(asyncpg.Connection, None), schema, [])
