"""A PostgreSQL server and a PgBouncer of a test's own, for what the shared test server
cannot show without changing it for every other test: TLS with a certificate the test
made, and a pooler in transaction mode in front of it.

Both run from a fresh directory on free ports and are stopped by the test (by their pid,
`pg_ctl stop`). PostgreSQL refuses to run as root, and so does PgBouncer: as root both run
as the user `deploy/postgres.sh` uses (`postgres`, else `huikuan-pg`), whose directory
this is. The binaries are the machine's PostgreSQL (`deploy/postgres.sh` installs it) and
the PgBouncer `make test` provides (`deploy/pgbouncer.sh`, `HK_PGBOUNCER`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from huikuan_dev.certs import ServerFiles
from huikuan_dev.stack import free_port

READY_SECONDS = 60.0


class ServerError(RuntimeError):
    pass


def postgres_bindir() -> Path | None:
    """Where the machine's PostgreSQL programs are: `pg_ctl`'s directory on PATH, else the
    newest /usr/lib/postgresql/*/bin (as deploy/postgres.sh finds them)."""
    if found := shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    return next((p for p in versions if (p / "pg_ctl").exists()), None)


def server_user() -> str | None:
    """The user the servers run as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "huikuan-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "huikuan-pg"], check=True, capture_output=True
    )
    return "huikuan-pg"


def _as_user(user: str | None, command: Sequence[str | Path]) -> list[str]:
    prefix = ["runuser", "-u", user, "--"] if user else []
    return [*prefix, *map(str, command)]


@contextlib.contextmanager
def server_directory() -> Iterator[Path]:
    """A fresh directory the servers' user owns (under the system's temporary directory,
    which that user can reach), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="huikuan-pg-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _give(user: str | None, root: Path) -> None:
    """Hand everything under `root` to `user` (the servers read their keys as themselves)."""
    if user is None:
        return
    for path in (root, *root.rglob("*")):
        shutil.chown(path, user, user)


def _wait_port(port: int, what: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.settimeout(1)
            s.connect(("127.0.0.1", port))
            return
        if not alive():
            raise ServerError(f"{what} exited before it listened on port {port}")
        time.sleep(0.1)
    raise ServerError(f"{what} did not listen on port {port} within {READY_SECONDS:.0f}s")


def _url(user: str, password: str | None, port: int, database: str, **params: str) -> str:
    auth = quote(user) + (f":{quote(password)}" if password else "")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{auth}@127.0.0.1:{port}/{database}{query}"


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in `directory/pg` that accepts TLS connections only, on
    127.0.0.1 and 127.0.0.2 (a second address the certificate does not name), with a
    database `huikuan`. Local trust: the test is its only client."""

    directory: Path
    tls: ServerFiles
    bindir: Path
    user: str | None
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "pg"

    def url(self, user: str = "postgres", database: str = "huikuan", **params: str) -> str:
        """A URL that verifies the server fully (its certificate and its address)."""
        tls = {"sslmode": "verify-full", "sslrootcert": str(self.tls.ca)}
        return _url(user, None, self.port, database, **{**tls, **params})

    def _run(self, *command: str | Path) -> None:
        result = subprocess.run(
            _as_user(self.user, command), capture_output=True, text=True, cwd="/"
        )
        if result.returncode != 0:
            log = self.directory / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerError(f"{command[0]} failed: {result.stderr[-2000:]}\n{tail}")

    def start(self) -> None:
        _give(self.user, self.directory)
        initdb = ("-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C")
        self._run(self.bindir / "initdb", *initdb)
        (self.data / "postgresql.auto.conf").write_text(
            "\n".join(
                [
                    "listen_addresses = '127.0.0.1,127.0.0.2'",
                    f"port = {self.port}",
                    "unix_socket_directories = ''",
                    "ssl = on",
                    f"ssl_cert_file = '{self.tls.cert}'",
                    f"ssl_key_file = '{self.tls.key}'",
                    "fsync = off",
                    "synchronous_commit = off",
                    "",
                ]
            )
        )
        # TLS or nothing: no `host` line, so a connection without TLS finds no entry.
        (self.data / "pg_hba.conf").write_text("hostssl all all 127.0.0.0/8 trust\n")
        _give(self.user, self.directory)
        log = self.directory / "postgres.log"
        self._run(self.bindir / "pg_ctl", "start", "-D", self.data, "-w", "-t", "60", "-l", log)
        self.psql("postgres", "CREATE DATABASE huikuan")

    def psql(self, database: str, sql: str) -> None:
        """Run `sql` as the superuser over TLS (administration: roles, databases)."""
        self._run(
            self.bindir / "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
            self.url(database=database),
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w")


@dataclass
class PgBouncer:
    """PgBouncer in front of `server` in transaction pooling mode with `pool_size` server
    connections per role and database at most, TLS on both sides (clients must use it;
    it verifies the server fully), SCRAM passwords from `users`, and an admin console
    (`show`) for `admin`, a user of its own."""

    executable: Path
    directory: Path
    server: PostgresServer
    users: dict[str, str]
    pool_size: int = 2
    admin: str = "pgbouncer_admin"
    port: int = field(default_factory=free_port)
    _admin_password: str = field(default_factory=lambda: secrets.token_hex(8))
    _process: subprocess.Popen[bytes] | None = None

    @property
    def _passwords(self) -> dict[str, str]:
        return {**self.users, self.admin: self._admin_password}

    def url(self, user: str, database: str = "huikuan") -> str:
        """A URL through the pooler that verifies it fully, as `user`."""
        tls = {"sslmode": "verify-full", "sslrootcert": str(self.server.tls.ca)}
        return _url(user, self._passwords[user], self.port, database, **tls)

    def start(self) -> None:
        tls = self.server.tls
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "userlist.txt").write_text(
            "".join(f'"{user}" "{password}"\n' for user, password in self._passwords.items())
        )
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": str(self.directory / "userlist.txt"),
            "admin_users": self.admin,
            "pool_mode": "transaction",
            "default_pool_size": str(self.pool_size),
            "max_client_conn": "500",
            "client_tls_sslmode": "require",
            "client_tls_cert_file": str(tls.cert),
            "client_tls_key_file": str(tls.key),
            "server_tls_sslmode": "verify-full",
            "server_tls_ca_file": str(tls.ca),
            "logfile": str(self.directory / "pgbouncer.log"),
            # As root it starts as root and then becomes the servers' user.
            **({"user": self.server.user} if self.server.user else {}),
        }
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"huikuan = host=127.0.0.1 port={self.server.port} dbname=huikuan\n"
            "[pgbouncer]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        )
        _give(self.server.user, self.directory)
        with (self.directory / "pgbouncer.stderr").open("wb") as stderr:
            process = subprocess.Popen(
                [str(self.executable), str(config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd="/",
            )
        self._process = process
        try:
            _wait_port(self.port, "pgbouncer", lambda: process.poll() is None)
        except ServerError as exc:
            raise ServerError(f"{exc}: {self.log_tail()}") from None

    def log_tail(self) -> str:
        found = [self.directory / n for n in ("pgbouncer.log", "pgbouncer.stderr")]
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in found if p.exists())

    def show(self, what: str) -> list[dict[str, str]]:
        """`SHOW <what>` on the admin console (simple queries only: psql, not asyncpg)."""
        psql = str(self.server.bindir / "psql")
        result = subprocess.run(
            [psql, "-X", "--csv", "-c", f"SHOW {what}", self.url(self.admin, "pgbouncer")],
            capture_output=True,
            text=True,
            check=True,
        )
        return list(csv.DictReader(io.StringIO(result.stdout)))

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
