"""A rebuild in PostgreSQL: which of a service's tables are its projection and which its own
records (`Carried`, `Projection`), the schema a rebuild goes into, and copying the own
records over from the live schema."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import asyncpg

from huikuan_runtime.migrations import migrate, plan

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
MAX_NAME = 63  # PostgreSQL's identifier length


class Refused(Exception):
    """The rebuild cannot start or switch as things are; the message says why."""


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise Refused(f"{name!r} is not a plain lower-case identifier")
    return name


@dataclass(frozen=True, slots=True)
class Carried:
    """Records a service originates itself, copied from the live schema, never replayed.

    The whole `table` by default. `rows`: only the rows this condition selects are the
    service's own (the others are projection, e.g. credit's manual holds beside the
    automatic ones); they replace the same rows of the rebuilt table. `columns` with `key`:
    only these columns are the service's own, on rows the projection writes too (a manual
    limit beside the recommended one); they are written onto the rebuilt rows by `key`
    (of the live rows `rows` selects, when given), rows the projection has none of are
    added."""

    table: str
    rows: str | None = None
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.columns) != bool(self.key):
            raise ValueError(f"{self.table}: carried columns need the key they are matched by")
        for name in (self.table, *self.columns, *self.key):
            check_name(name)

    @property
    def label(self) -> str:
        part = f" ({', '.join(self.columns)})" if self.columns else ""
        return f"{self.table}{part}" + (f" where {self.rows}" if self.rows else "")


@dataclass(frozen=True)
class Projection:
    """A service's tables, classified for a rebuild.

    `tables`: rebuilt by replaying the topics (a table in `carried` too is partly the
    service's own). `inputs`: own records the handlers read while they derive the
    projection; copied before the replay (so it is derived under them) and again at the
    switch. `carried`: own records the handlers would change if they were there (a promise
    that payments count toward); copied only at the switch, after the replay."""

    tables: tuple[str, ...]
    inputs: tuple[Carried, ...] = ()
    carried: tuple[Carried, ...] = ()

    def classified(self) -> set[str]:
        own = {c.table for c in (*self.inputs, *self.carried, *RUNTIME_CARRIED)}
        return {*self.tables, *RUNTIME_REBUILT, *own, "schema_migration"}


# The runtime's tables in every schema: the consumer's bookkeeping is rebuilt with the
# projection; the producer's sequence numbers and its events not yet published are the
# service's own (what it published is history: it stays in the retired schema).
RUNTIME_REBUILT = ("processed_event", "subject_cursor")
RUNTIME_CARRIED = (
    Carried("event_sequence"),
    Carried("outbox_event", rows="published_at IS NULL"),
)


def rebuild_mark(live: str) -> str:
    """The comment on a schema a rebuild of `live` created: only such a schema is written
    into, and only such a one is switched in."""
    return f"huikuan: rebuild of {live}"


async def schema_oid(conn: asyncpg.Connection, name: str) -> int | None:
    oid: int | None = await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = $1", name)
    return oid


async def prepare_schema(
    conn: asyncpg.Connection, live: str, target: str, migrations: Traversable
) -> int:
    """Create `target` for a rebuild of `live` (or take up one a rebuild created) and migrate
    it; its oid, which names the rebuild's consumer group."""
    oid = await schema_oid(conn, target)
    if oid is None:
        await conn.execute(f"CREATE SCHEMA {target}")
        await conn.execute(f"COMMENT ON SCHEMA {target} IS '{rebuild_mark(live)}'")
    else:
        comment = await conn.fetchval("SELECT obj_description($1::oid, 'pg_namespace')", oid)
        if comment != rebuild_mark(live):
            raise Refused(
                f"schema {target} exists and is not a rebuild of {live} (a rebuild marks the "
                f"schemas it creates); name another one with --into"
            )
    await migrate(conn, target, plan(migrations))
    created = await schema_oid(conn, target)
    assert created is not None
    return created


async def _tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = $1 AND table_type = 'BASE TABLE'""",
        schema,
    )
    return {r["table_name"] for r in rows}


async def check_classified(conn: asyncpg.Connection, schema: str, projection: Projection) -> None:
    """Every table of the migrated `schema` is a projection or the service's own, and every
    table the declaration names exists: a new migration's table must be classified first."""
    found = await _tables(conn, schema)
    if unclassified := sorted(found - projection.classified()):
        raise Refused(
            f"tables neither rebuilt nor carried over: {', '.join(unclassified)}; classify "
            "them in the service's Projection before rebuilding"
        )
    if missing := sorted(projection.classified() - found):
        raise Refused(f"the service's Projection names tables it does not have: {missing}")


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    """The columns a copy writes: all but generated ones, in table order."""
    rows = await conn.fetch(
        """SELECT a.attname FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attgenerated = ''
           ORDER BY a.attnum""",
        schema,
        table,
    )
    return [r["attname"] for r in rows]


async def _sequences(conn: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
    """column -> the sequence that numbers it (serial and identity columns)."""
    found: dict[str, str] = {}
    for column in await _columns(conn, schema, table):
        sequence = await conn.fetchval(
            "SELECT pg_get_serial_sequence($1, $2)", f"{schema}.{table}", column
        )
        if sequence is not None:
            found[column] = sequence
    return found


async def _identity_always(conn: asyncpg.Connection, schema: str, table: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_attribute a
                          JOIN pg_class c ON c.oid = a.attrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = $1 AND c.relname = $2 AND a.attidentity = 'a')""",
        schema,
        table,
    )
    return found


async def carry(
    conn: asyncpg.Connection, live: str, target: str, items: Iterable[Carried]
) -> dict[str, int]:
    """Copy the service's own records from `live` into `target` (in the caller's
    transaction); rows written per item. Rows are removed children first (the reverse of
    the declared order) and written parents first; sequences continue where the live
    schema's stand."""
    todo = list(items)
    for item in reversed(todo):
        if not item.columns:
            where = f" WHERE {item.rows}" if item.rows else ""
            await conn.execute(f"DELETE FROM {target}.{item.table}{where}")
    written: dict[str, int] = {}
    for item in todo:
        copy = _carry_columns if item.columns else _carry_rows
        written[item.label] = await copy(conn, live, target, item)
    return written


async def _carry_rows(conn: asyncpg.Connection, live: str, target: str, item: Carried) -> int:
    """The live rows (those `item.rows` selects) inserted whole, identities and all, and
    the sequences numbering them set to where the live ones stand. Rows written."""
    t, where = item.table, f" WHERE {item.rows}" if item.rows else ""
    names = ", ".join(await _columns(conn, target, t))
    overriding = " OVERRIDING SYSTEM VALUE" if await _identity_always(conn, target, t) else ""
    status = await conn.execute(
        f"INSERT INTO {target}.{t} ({names}){overriding} SELECT {names} FROM {live}.{t}{where}"
    )
    for column, sequence in (await _sequences(conn, target, t)).items():
        live_sequence = await conn.fetchval(
            "SELECT pg_get_serial_sequence($1, $2)", f"{live}.{t}", column
        )
        await conn.execute(
            f"SELECT setval($1::regclass, last_value, is_called) FROM {live_sequence}", sequence
        )
    return _rows_of(status)


async def _carry_columns(conn: asyncpg.Connection, live: str, target: str, item: Carried) -> int:
    """`item.columns` of the live rows (those `item.rows` selects) written onto the rebuilt
    rows with the same key, and the live rows the rebuilt table has no row for added with
    just those columns (an upsert cannot do it: PostgreSQL checks the new row's NOT NULL
    columns before it looks for the conflict). Rows written."""
    t, where = item.table, f" WHERE {item.rows}" if item.rows else ""
    source = f"(SELECT * FROM {live}.{t}{where}) AS l"
    same = " AND ".join(f"f.{k} = l.{k}" for k in item.key)
    updated = await conn.execute(
        f"UPDATE {target}.{t} AS f SET {', '.join(f'{c} = l.{c}' for c in item.columns)} "
        f"FROM {source} WHERE {same}"
    )
    names = ", ".join((*item.key, *item.columns))
    added = await conn.execute(
        f"INSERT INTO {target}.{t} ({names}) SELECT {names} FROM {source} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target}.{t} AS f WHERE {same})"
    )
    return _rows_of(updated) + _rows_of(added)


def _rows_of(status: str) -> int:
    """The row count of a command status (`UPDATE 3`, `INSERT 0 3`)."""
    return int(status.rsplit(" ", 1)[-1])


async def row_counts(
    conn: asyncpg.Connection, schema: str, tables: Iterable[str]
) -> dict[str, int]:
    counts = {}
    for table in sorted(set(tables)):
        counts[table] = await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}")
    return counts


async def migrations_of(conn: asyncpg.Connection, schema: str) -> set[tuple[str, int, str]]:
    rows = await conn.fetch(f"SELECT source, version, checksum FROM {schema}.schema_migration")
    return {(r["source"], r["version"], r["checksum"]) for r in rows}


async def live_connections(conn: asyncpg.Connection, live: str) -> list[str]:
    """Other sessions of the service's processes (their pools name themselves after the
    schema); behind a pooler in transaction mode only those busy at the moment show."""
    rows = await conn.fetch(
        """SELECT pid, coalesce(client_addr::text, 'local') AS client FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1
             AND pid <> pg_backend_pid()""",
        live,
    )
    return [f"pid {r['pid']} from {r['client']}" for r in rows]
