"""Numbered SQL migrations per service schema, applied once each, under an advisory lock.

Files are `NNNN_description.sql` in the `migrations/` folder inside a service's package
(`ledger/migrations/`, shipped in its wheel and found with importlib.resources, so an
installed service migrates without the source tree). The runtime's own tables (outbox,
processed events, sequences) come from `huikuan_runtime/sql/` and are applied first to
every schema, as source `runtime`. A missing or empty folder is an error, never an empty
plan. Each file is applied in its own transaction and recorded in
`<schema>.schema_migration` with a checksum; an applied file whose text later changes is an
error, not a silent skip.

Migrators of one schema serialise on a transaction-level advisory lock taken by every one
of those transactions, which then reads again what is applied: a lock held across
transactions would need a session of its own, which a transaction pooler (PgBouncer
`pool_mode = transaction`) does not give. Two migrators at once each apply what the other
has not, in order, each file once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.source}/{self.version:04d}_{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


RUNTIME_SQL: Traversable = files("huikuan_runtime") / "sql"


def package_migrations(package: str) -> Traversable:
    """The `migrations/` folder inside the installed package `package` (e.g. `"ledger"`)."""
    return files(package) / "migrations"


def discover(directory: Traversable, source: str = "service") -> list[Migration]:
    """Migrations in `directory`, ordered by number; bad names and duplicate numbers refused,
    and so is a directory that does not exist (a folder left out of a wheel)."""
    if not directory.is_dir():
        raise MigrationError(f"{directory}: no such migrations folder")
    found: dict[int, Migration] = {}
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or not entry.is_file():
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migration files are named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{entry.name}: migration number {version} is used twice")
        found[version] = Migration(
            source, version, match.group(2), entry.read_text(encoding="utf-8")
        )
    return [found[v] for v in sorted(found)]


def _lock_key(schema: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True
    )


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is missing of `migrations` to `schema`, in order; return what was applied."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    lock = "SELECT pg_advisory_xact_lock($1)"
    async with conn.transaction():
        await conn.execute(lock, _lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migration (
                    source text NOT NULL,
                    version integer NOT NULL,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (source, version))"""
        )
    applied_now: list[str] = []
    for m in migrations:
        async with conn.transaction():
            await conn.execute(lock, _lock_key(schema))
            checksum = await conn.fetchval(
                f"SELECT checksum FROM {schema}.schema_migration "
                "WHERE source = $1 AND version = $2",
                m.source,
                m.version,
            )
            if checksum is not None:
                if checksum != m.checksum:
                    raise MigrationError(
                        f"{schema}: {m.label} changed after it was applied; "
                        "write a new migration instead"
                    )
                continue
            await conn.execute(f"SET LOCAL search_path TO {schema}, public")
            await conn.execute(m.sql)
            await conn.execute(
                f"INSERT INTO {schema}.schema_migration (source, version, name, checksum) "
                "VALUES ($1, $2, $3, $4)",
                m.source,
                m.version,
                m.name,
                m.checksum,
            )
        log.info("migration applied", extra={"schema": schema, "migration": m.label})
        applied_now.append(m.label)
    return applied_now


def _required(directory: Traversable, source: str) -> list[Migration]:
    found = discover(directory, source)
    if not found:
        raise MigrationError(f"{directory}: no migrations in the {source}'s migrations folder")
    return found


def plan(service_directory: Traversable) -> list[Migration]:
    """The runtime's migrations, then the service's own; neither may be missing or empty."""
    return _required(RUNTIME_SQL, "runtime") + _required(service_directory, "service")
