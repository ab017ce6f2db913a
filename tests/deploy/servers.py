"""PostgreSQL and Kafka for the cross-host test, each started on a host of its own
(`huikuan_dev.netns`), listening on that host's address.

They are what `deploy/postgres.sh` and `deploy/kafka.sh` start for `make run`, made for a
host instead of a profile: data in a directory the caller gives (a temporary one), the
standard ports (nobody else is on the host), reached by address from the other hosts. Each
server is started by one function that returns once the server answers; the processes die
with their host (`Network.down` kills everything in it)."""

from __future__ import annotations

import asyncio
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka.errors import KafkaError

from huikuan_dev.netns import Host
from huikuan_runtime.kafka import KafkaConnection, KafkaProbe
from tests.support import create_database

ROOT = Path(__file__).resolve().parents[2]
PG_PORT = 5432
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093  # on the broker host's loopback only
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


def kafka_libs() -> Path:
    """Kafka's jars, resolved from Maven Central once (`deploy/kafka.sh libs`)."""
    result = subprocess.run(
        [str(ROOT / "deploy" / "kafka.sh"), "libs"], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ServerError(f"deploy/kafka.sh libs failed: {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def start_kafka(host: Host, data_dir: Path, log: Path) -> Server:
    """A single-node KRaft broker on the host's address, PLAINTEXT, with its data in
    `data_dir` (new); returns once it answers metadata requests. Call from a host on the
    network (`Host.entered()`)."""
    libs = kafka_libs()
    data_dir.mkdir(parents=True)
    bootstrap = f"{host.address}:{KAFKA_PORT}"
    properties = data_dir / "server.properties"
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{KAFKA_CONTROLLER_PORT}",
                f"listeners=PLAINTEXT://{bootstrap},CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
                f"advertised.listeners=PLAINTEXT://{bootstrap}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data_dir / 'data'}",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )
    log4j = data_dir / "log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=WARN, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.server.KafkaServer=INFO\n"
    )
    java = [
        "java",
        f"-Dlog4j.configuration=file:{log4j}",
        f"-Dkafka.logs.dir={data_dir / 'logs'}",
        "-cp",
        f"{libs}/*",
    ]
    storage_tool = [*java, "-Xmx256m", "kafka.tools.StorageTool"]
    cluster_id = subprocess.run(
        [*storage_tool, "random-uuid"], capture_output=True, text=True, check=True
    ).stdout.strip()
    formatted = subprocess.run(
        [*storage_tool, "format", "-t", cluster_id, "-c", str(properties)],
        capture_output=True,
        text=True,
    )
    if formatted.returncode != 0:
        raise ServerError(f"formatting Kafka's storage failed: {formatted.stderr[-2000:]}")
    with log.open("ab") as out:
        process = subprocess.Popen(
            host.command([*java, "-Xms256m", "-Xmx768m", "kafka.Kafka", str(properties)]),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    connection = KafkaConnection(bootstrap)
    what = f"Kafka on {host.name}"
    # The port first: a client polling a broker not yet listening logs an error each time.
    _wait(process, log, lambda: _listens(host.address, KAFKA_PORT), what)
    _wait(process, log, lambda: asyncio.run(_answers(connection)), what)
    return Server(
        process,
        log,
        {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
    )


def _listens(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


async def _answers(connection: KafkaConnection) -> bool:
    probe = KafkaProbe(connection, "deploy-test")
    try:
        await probe.check()
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await probe.close()
