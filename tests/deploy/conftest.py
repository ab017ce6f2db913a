"""The deployment the cross-host test runs on (issue #12, item 7), built fresh per module on
hosts made of network namespaces (`huikuan_dev.netns`):

    pg      PostgreSQL              kafka   a Kafka broker speaking only SASL_SSL
    svc-a   one replica of every process (APIs, relays, consumers, dispatcher, schedulers)
    svc-b   the other replica of every process
    client  where the test itself runs: it calls the gateways, reads the topics and tables
    hooks   the webhook receiver (gateway subscriptions and reminders' webhook channel)

The service processes are started by `huikuan_dev.stack` as `make run` starts them, under
`ip netns exec`, configured by environment only. Needs root; a machine without it fails
the test with a message saying so (`make test-deploy`, called by `.ci/run`, runs as root).
Logs: `.run/deploy/` (PostgreSQL, Kafka, and each replica's processes under its host).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from huikuan_dev.netns import Host, Network
from huikuan_dev.secure_kafka import SaslSslBroker, kafka_libs
from huikuan_dev.stack import Stack
from huikuan_runtime.kafka import KafkaConnection
from huikuan_runtime.webhook_signing import generate_secret
from tests.deploy.servers import Server, start_postgres
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run" / "deploy"
# One prefix per checkout: a run clears what a crashed run of this checkout left, never
# what a run in another checkout on the same machine is using.
PREFIX = "hk" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]
SERVICE_HOSTS = ("svc-a", "svc-b")
HOSTS = ("pg", "kafka", *SERVICE_HOSTS, "client", "hooks")
# The well-known ports: each replica is alone on its host.
PORTS = {"gateway": 8000, "ledger": 8001, "credit": 8002, "reminders": 8003}
HEALTH_PORTS_FROM = 9000
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093  # on the broker host's loopback only
SERVICE_USER = "huikuan"  # the SCRAM user of every service process
OBSERVER_USER = "observer"  # the test's own, to read the topics
OPERATOR_KEY = "deploy-operator-key"
REMINDERS_PATH = "/reminders"


@dataclass(frozen=True)
class Deployment:
    network: Network
    client: Host
    replicas: dict[str, Stack]  # by host name
    receiver: Receiver
    database_url: str
    kafka: KafkaConnection  # how the test reads the topics (a SCRAM user of its own)
    reminders_secret: str
    today: date
    dunning_on: date  # the day the schedulers judge: a business day (runs skip weekends)

    def host(self, name: str) -> Host:
        return self.network[name]


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a CI timeout, `kill`) interrupts the run as Ctrl-C does, so the hosts and
    everything on them are still cleaned up."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    network = Network(PREFIX, HOSTS)
    with _sigterm_interrupts():
        try:
            network.up()
            yield network
        finally:
            network.down()


@pytest.fixture(scope="module")
def client(network: Network) -> Iterator[Host]:
    """The test runs on the client host from here on."""
    host = network["client"]
    with host.entered():
        yield host


@dataclass(frozen=True)
class Servers:
    postgres: Server
    kafka: SaslSslBroker


@pytest.fixture(scope="module")
def servers(network: Network, client: Host) -> Iterator[Servers]:
    """PostgreSQL on `pg`, and on `kafka` a broker that speaks only SASL_SSL (SCRAM, TLS
    from a CA made for the run), as managed Kafka does."""
    # PostgreSQL's data in a temporary directory of this checkout's own (it runs as its own
    # user and must reach it), left over only by a run killed outright: cleared first.
    data = Path(tempfile.gettempdir()) / f"huikuan-deploy-{PREFIX}"
    for old in (RUN, data):
        shutil.rmtree(old, ignore_errors=True)
    RUN.mkdir(parents=True)
    data.mkdir()
    data.chmod(0o755)
    kafka = network["kafka"]
    broker = SaslSslBroker(
        RUN / "kafka",
        kafka_libs(ROOT),
        users={SERVICE_USER: secrets.token_hex(16), OBSERVER_USER: secrets.token_hex(16)},
        listen_host=kafka.address,
        port=KAFKA_PORT,
        controller_port=KAFKA_CONTROLLER_PORT,
        launcher=kafka.command([]),
    )
    postgres: Server | None = None
    try:
        postgres = start_postgres(network["pg"], data / "pg", RUN / "postgres.log")
        broker.start()
        yield Servers(postgres, broker)
    finally:
        broker.stop()
        network["pg"].kill_all()
        if postgres is not None:
            postgres.process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def receiver(network: Network, client: Host) -> Iterator[Receiver]:
    hooks = network["hooks"]
    with hooks.entered():  # its listening socket lives on the hooks host
        receiver = Receiver(hooks.address)
    with receiver:
        yield receiver


@pytest.fixture(scope="module")
def deployment(
    network: Network, client: Host, servers: Servers, receiver: Receiver
) -> Iterator[Deployment]:
    infra = {**servers.postgres.env, **servers.kafka.client_env(SERVICE_USER)}
    secret = generate_secret()
    today = datetime.now(UTC).date()
    dunning_on = _weekday_on_or_before(today)
    env = {
        **infra,
        "LOG_LEVEL": "INFO",
        # A dunning run decides and delivers within the call: seconds on two busy cores.
        "GATEWAY_DOWNSTREAM_TIMEOUT_SECONDS": "60",
        # The receiver is on a private address of our own network.
        "GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        "GATEWAY_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
        "GATEWAY_WEBHOOK_BACKOFF_CAP_SECONDS": "2",
        "GATEWAY_WEBHOOK_POLL_SECONDS": "0.2",
        "REMINDERS_WEBHOOK_URL": receiver.url(REMINDERS_PATH),
        "REMINDERS_WEBHOOK_SECRET": secret,
        "REMINDERS_DELIVERY_BACKOFF_SECONDS": "1",
        # Both schedulers judge that date (no send window), every two seconds.
        "REMINDERS_SCHEDULE_AS_OF": dunning_on.isoformat(),
        "REMINDERS_SCHEDULE_INTERVAL_SECONDS": "2",
    }
    replicas = {
        name: Stack(
            RUN / name,
            database_url=infra["DATABASE_URL"],
            kafka_bootstrap_servers=infra["KAFKA_BOOTSTRAP_SERVERS"],
            ports=PORTS,
            operator_key=OPERATOR_KEY,
            extra_env=env,
            schedulers=True,
            # Webhooks and reminders may go to the receiver's host and nowhere else.
            outbound_allow=f"{receiver.host}/32",
            host=network[name].address,
            launcher=network[name].command([]),
            health_port_base=HEALTH_PORTS_FROM,
        )
        for name in SERVICE_HOSTS
    }
    try:
        replicas[SERVICE_HOSTS[0]].migrate()
        for stack in replicas.values():
            for spec in stack.specs:
                stack.start_process(spec)
        for stack in replicas.values():
            stack.wait_ready(timeout=300)
        yield Deployment(
            network,
            client,
            replicas,
            receiver,
            infra["DATABASE_URL"],
            servers.kafka.connection(OBSERVER_USER),
            secret,
            today,
            dunning_on,
        )
    finally:
        for stack in replicas.values():
            stack.stop()
