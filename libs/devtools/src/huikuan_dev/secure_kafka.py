"""A real Apache Kafka broker that speaks only SASL_SSL, as managed Kafka does (MSK, Confluent
Cloud, Strimzi): for tests that prove the clients' TLS and SASL settings end to end.

One node in KRaft mode (broker and controller in one JVM), from the same jars `make run`
uses (`deploy/kafka.sh libs` resolves them from Maven Central once). What it sets up:

- **TLS.** A certificate authority and a broker certificate for the host name or IP address
  clients dial (`advertised_host`, plus any `extra_hosts`), made by `huikuan_dev.certs`
  (EC P-256) and given to Kafka as PEM files (`ssl.keystore.type=PEM`): no keytool, no JKS.
  Clients trust `ca_file` (`KAFKA_SSL_CAFILE`); no client certificate is asked for.
- **SASL/SCRAM.** Every user in `users` gets SCRAM-SHA-512 and SCRAM-SHA-256 credentials,
  written by Kafka's own storage tool (`kafka-storage format --add-scram`, i.e.
  `kafka.tools.StorageTool`) before the first start, so they exist before any client or
  the broker itself logs in. No authorizer: any authenticated user may do anything.
- **Listeners.** `SASL_SSL://<listen_host>:<port>` for clients and for the broker's own
  inter-broker traffic (which logs in as the `broker` user with SCRAM-SHA-512, so the
  broker exercises the same path as every client), advertised as
  `<advertised_host>:<port>`; the KRaft controller listens on `127.0.0.1:<controller_port>`
  only, in plain text: the quorum is this node alone, nothing else may reach it (inside a
  network namespace, bring `lo` up first).

Usage::

    libs = kafka_libs(repo_root)                     # runs deploy/kafka.sh libs
    with SaslSslBroker(data_dir, libs, users={"huikuan": password}) as broker:
        env = broker.client_env("huikuan")           # KAFKA_* for a process
        connection = broker.connection("huikuan")    # a KafkaConnection for clients here

Parameters of `SaslSslBroker`:

- `data_dir`: everything of this broker lives here: `server.properties`, `tls/` (`ca.pem`,
  `broker.pem`), `broker.password` (the broker's own), `data/` (the log), `logs/`
  (`server.log`, `kafka.out`), and `stack.pids` (its pid while it runs, so `make stop`
  stops it when under `.run/` and a test run was killed). A directory already formatted is
  started again as it is: users and certificates stay as they were first made.
- `kafka_libs`: the directory of the Kafka jars (`kafka_libs(root)`).
- `users`: SCRAM users and their passwords (the name `broker` is the broker's own).
- `listen_host`: the address the client listener binds (`0.0.0.0` for every address).
- `advertised_host`: the name or address clients dial, and that the certificate is for;
  default `listen_host` (a wildcard needs it set).
- `extra_hosts`: more names or addresses the certificate is valid for.
- `port`, `controller_port`: default free ports found at run time (bound on 127.0.0.1; a
  fresh network namespace has all of them free too).
- `launcher`: a command prefix for the broker's JVM, e.g. `("ip", "netns", "exec", "kafka")`
  to run it in a network namespace (the storage format runs here: it needs no network).
- `java`, `heap`: the JVM and its maximum heap.

`start()` returns once the broker logged that it started (bounded, with the log's tail on
failure); `stop()` ends it (SIGTERM, then SIGKILL). The context manager does both.
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from huikuan_dev.certs import CertificateAuthority, write_private
from huikuan_dev.stack import free_port
from huikuan_runtime.kafka import KafkaConnection

BROKER_USER = "broker"
# Names and passwords go into Kafka's `--add-scram` syntax and a JAAS line unquoted.
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
STARTED = "Kafka Server started"


class BrokerError(RuntimeError):
    pass


def kafka_libs(root: Path) -> Path:
    """The Kafka jars' directory, resolved from Maven Central on first use by
    `deploy/kafka.sh libs` (the script `make run` and `make test` use)."""
    result = subprocess.run(
        [str(root / "deploy" / "kafka.sh"), "libs"], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise BrokerError(f"deploy/kafka.sh libs failed:\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path
    """The CA's certificate (PEM): what clients trust."""
    keystore_file: Path
    """The broker's private key (PKCS#8, unencrypted) and certificate chain (PEM)."""


def issue_tls(directory: Path, hosts: Sequence[str], *, days: int = 30) -> TlsFiles:
    """A new CA, and a broker certificate signed by it for `hosts` (names or IP addresses,
    as clients dial them), written under `directory` as `ca.pem` and `broker.pem` (the
    broker's key, its certificate and the CA's: the chain Kafka's PEM keystore reads). The
    CA's key is not kept: nothing else will be signed."""
    ca = CertificateAuthority.new(days=days)
    # The broker is a TLS client too: it connects to its own listener.
    broker = ca.issue(hosts, client_auth=True, days=days)
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, keystore_file = directory / "ca.pem", directory / "broker.pem"
    write_private(keystore_file, broker.key_pem() + broker.cert_pem() + ca.cert_pem())
    ca_file.write_bytes(ca.cert_pem())  # last: its presence means both are there
    return TlsFiles(ca_file, keystore_file)


def _cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: 16 random bytes, URL-safe base64, unpadded
    (and, like Kafka's, never starting with '-', which its command line would take for an
    option)."""
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster.startswith("-"):
            return cluster


def _jaas(user: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


class SaslSslBroker:
    """A single-node KRaft broker with one SASL_SSL listener (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        kafka_libs: Path,
        *,
        users: Mapping[str, str],
        listen_host: str = "127.0.0.1",
        advertised_host: str | None = None,
        extra_hosts: Sequence[str] = (),
        port: int | None = None,
        controller_port: int | None = None,
        launcher: Sequence[str] = (),
        java: str = "java",
        heap: str = "512m",
    ) -> None:
        if BROKER_USER in users:
            raise ValueError(f"the user name {BROKER_USER!r} is the broker's own")
        for user, password in users.items():
            if not (PLAIN_TOKEN.fullmatch(user) and PLAIN_TOKEN.fullmatch(password)):
                raise ValueError(f"user {user!r}: names and passwords are letters, digits, _.-")
        advertised = advertised_host or listen_host
        if advertised in ("0.0.0.0", "::", ""):
            raise ValueError("a wildcard listen_host needs an advertised_host")
        self.data_dir = data_dir
        self.kafka_libs = kafka_libs
        self.users = dict(users)
        self.listen_host = listen_host
        self.advertised_host = advertised
        self.hosts = (advertised, *extra_hosts)
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.launcher = tuple(launcher)
        self.java = java
        self.heap = heap
        self.tls_dir = data_dir / "tls"
        self.log_dir = data_dir / "logs"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.advertised_host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    def connection(self, user: str, mechanism: str = "SCRAM-SHA-512") -> KafkaConnection:
        """How a client here reaches the broker as `user`."""
        return KafkaConnection(
            self.bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism=mechanism,
            sasl_username=user,
            sasl_password=self.users[user],
            ssl_cafile=str(self.ca_file),
        )

    def client_env(self, user: str, mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
        """The `KAFKA_*` settings of a process that reaches the broker as `user`."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.users[user],
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        """Write the configuration, make the certificates and format the storage with the
        SCRAM users (first start only), start the JVM and wait until the broker says it
        started; on failure, stop it and raise with the log's tail."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not self.ca_file.exists():
            issue_tls(self.tls_dir, self.hosts)
        if not (self.data_dir / "data" / "meta.properties").exists():
            self._format(config)
        server_log = self.log_dir / "server.log"
        server_log.unlink(missing_ok=True)  # the "started" line we wait for must be this run's
        with (self.log_dir / "kafka.out").open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    *self.launcher,
                    *self._jvm(f"-Xmx{self.heap}", "-Xms128m"),
                    "kafka.Kafka",
                    str(config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.data_dir / "stack.pids").write_text(f"{self._proc.pid}\n")
        try:
            self._wait_started(server_log, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        (self.data_dir / "stack.pids").unlink(missing_ok=True)

    def __enter__(self) -> SaslSslBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for name in ("server.log", "kafka.out"):
            path = self.log_dir / name
            if path.exists() and path.stat().st_size:
                text = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(tails) or "no log"

    # --- internals -------------------------------------------------------------------------

    def _jvm(self, *options: str) -> list[str]:
        return [
            self.java,
            *options,
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            "-cp",
            f"{self.kafka_libs}/*",
        ]

    def _broker_password(self) -> str:
        """The broker's own SCRAM password: made on the first start, kept in the data
        directory so a later start on it logs in with what the storage was formatted with."""
        path = self.data_dir / "broker.password"
        if not path.exists():
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text().strip()

    def _write_config(self) -> Path:
        inter_broker = _jaas(BROKER_USER, self._broker_password())
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": (
                f"SASL_SSL://{self.listen_host}:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"SASL_SSL://{self.bootstrap_servers}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            # The broker logs in to itself (inter-broker) with the first; the server side of
            # each mechanism needs a login module configured too.
            **{
                f"listener.name.sasl_ssl.{m.lower()}.sasl.jaas.config": inter_broker
                for m in MECHANISMS
            },
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls_dir / "broker.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_file),
            "ssl.client.auth": "none",
            "log.dirs": str(self.data_dir / "data"),
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        config = self.data_dir / "server.properties"
        lines = [f"{k}={v}" for k, v in properties.items()]
        config.write_text(
            "# Written by huikuan_dev.secure_kafka; edits are lost.\n" + "\n".join(lines) + "\n"
        )
        config.chmod(0o600)  # it holds the broker's password
        (self.data_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.log_dir / 'server.log'}\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.request.logger=WARN\n"
            "log4j.logger.state.change.logger=WARN\n"
        )
        return config

    def _format(self, config: Path) -> None:
        """Format the KRaft storage with every user's SCRAM credentials (Kafka's own tool)."""
        scram = []
        for user, password in {BROKER_USER: self._broker_password(), **self.users}.items():
            for mechanism in MECHANISMS:
                scram += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
        command = [
            *self._jvm("-Xmx256m"),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _cluster_id(),
            "--config",
            str(config),
            *scram,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise BrokerError(f"formatting the storage failed:\n{result.stdout}{result.stderr}")

    def _wait_started(self, server_log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            if server_log.exists() and STARTED in server_log.read_text(errors="replace"):
                return
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"the broker exited with {self._proc.returncode}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise BrokerError(f"the broker did not start in {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.2)
