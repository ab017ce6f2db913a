"""PostgreSQL for the cross-host test, started on a host of its own (`huikuan_dev.netns`),
listening on that host's address.

It is what `deploy/postgres.sh` starts for `make run`, made for a host instead of a
profile: data in a directory the caller gives (a temporary one), the standard port (nobody
else is on the host), reached by address from the other hosts. `start_postgres` returns
once the server answers; the server dies with its host (`Network.down` kills everything
in it). Kafka comes from `huikuan_dev.secure_kafka`, started on its host the same way."""

from __future__ import annotations

import asyncio
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from huikuan_dev.netns import Host
from tests.support import create_database

PG_PORT = 5432
START_TIMEOUT = 120.0


class ServerError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Server:
    """A server running on a host: its process, how clients reach it and the settings the
    service processes take for it."""

    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _wait(server: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if server.poll() is not None:
            raise ServerError(f"{what} exited with {server.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServerError(f"{what} not ready after {START_TIMEOUT:.0f}s:\n{_tail(log)}")
        time.sleep(0.3)


def _pg_bin() -> Path:
    """The directory of PostgreSQL's programs, found as `deploy/postgres.sh` finds it."""
    if pg_ctl := shutil.which("pg_ctl"):
        return Path(pg_ctl).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise ServerError("PostgreSQL not found; `make test` installs it (deploy/postgres.sh)")
    return versions[-1].parent


def _pg_user() -> str:
    """The OS user the server runs as (it refuses root): as `deploy/postgres.sh` picks it."""
    for user in ("postgres", "huikuan-pg"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "huikuan-pg"], check=True)
    return "huikuan-pg"


def start_postgres(host: Host, data_dir: Path, log: Path) -> Server:
    """initdb in `data_dir` (a new, empty directory) and start PostgreSQL on the host's
    address; returns once it accepts connections and holds the database `huikuan`. Call
    from a host on the network (`Host.entered()`)."""
    pg_bin, user = _pg_bin(), _pg_user()
    data_dir.mkdir(parents=True)
    shutil.chown(data_dir, user)
    data_dir.chmod(0o700)
    as_user = ["runuser", "-u", user, "--"]
    initdb_args = ["-D", str(data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"]
    initdb = subprocess.run(
        [*as_user, str(pg_bin / "initdb"), *initdb_args], capture_output=True, text=True, cwd="/"
    )
    if initdb.returncode != 0:
        raise ServerError(f"initdb failed: {initdb.stderr[-2000:]}")
    # Trust on the test's own subnet: no host but ours is on it.
    network = ".".join(host.address.split(".")[:3]) + ".0/24"
    with (data_dir / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {network} trust\n")
    settings = {
        "listen_addresses": host.address,
        "port": str(PG_PORT),
        "unix_socket_directories": "",
        "max_connections": "300",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
    with log.open("ab") as out:
        process = subprocess.Popen(
            host.command([*as_user, str(pg_bin / "postgres"), "-D", str(data_dir), *options]),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
    admin = f"postgresql://postgres@{host.address}:{PG_PORT}/postgres"
    _wait(process, log, lambda: asyncio.run(_accepts(admin)), f"PostgreSQL on {host.name}")
    return Server(process, log, {"DATABASE_URL": create_database(admin, "huikuan")})


async def _accepts(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True
