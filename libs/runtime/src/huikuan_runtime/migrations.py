"""Numbered SQL migrations per service schema, applied once each, under an advisory lock.

Files are `NNNN_description.sql` in a service's `migrations/` directory. The runtime's own
tables (outbox, processed events, sequences) come from `huikuan_runtime/sql/` and are
applied first to every schema, as source `runtime`. Each file is applied in its own
transaction and recorded in `<schema>.schema_migration` with a checksum; an applied file
whose text later changes is an error, not a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

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


RUNTIME_SQL = Path(__file__).parent / "sql"


def discover(directory: Path, source: str = "service") -> list[Migration]:
    """Migrations in `directory`, ordered by number; bad names and duplicate numbers refused."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: migration number {version} is used twice")
        found[version] = Migration(
            source, version, match.group(2), path.read_text(encoding="utf-8")
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
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
    try:
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
        rows = await conn.fetch(f"SELECT source, version, checksum FROM {schema}.schema_migration")
        done = {(r["source"], r["version"]): r["checksum"] for r in rows}
        for m in migrations:
            if (m.source, m.version) in done:
                if done[(m.source, m.version)] != m.checksum:
                    raise MigrationError(
                        f"{schema}: {m.label} changed after it was applied; "
                        "write a new migration instead"
                    )
                continue
            async with conn.transaction():
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
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now


def plan(service_directory: Path) -> list[Migration]:
    """The runtime's migrations, then the service's own."""
    return discover(RUNTIME_SQL, "runtime") + discover(service_directory)


async def migrate_url(database_url: str, schema: str, service_directory: Path) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return await migrate(conn, schema, plan(service_directory))
    finally:
        await conn.close()
