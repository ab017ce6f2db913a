"""Managed PostgreSQL as operations teams run it: TLS that verifies the server
(`sslmode=verify-full`), and PgBouncer in transaction pooling mode in front.

The module starts a PostgreSQL server of its own that accepts TLS only, with a certificate
it made for 127.0.0.1, and a real PgBouncer (`HK_PGBOUNCER`, which `make test` provides)
in transaction mode with two server connections per role at most, TLS on both sides. Every
service process (APIs, relays, consumers, the dispatcher) runs through it with
`DATABASE_POOL_MODE=transaction`, as its own database role whose `search_path` names its
schema — the only way a schema reaches a connection the pooler hands out."""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from huikuan_dev.certs import CertificateAuthority, server_files
from huikuan_dev.pgservers import (
    PgBouncer,
    PostgresServer,
    postgres_bindir,
    server_directory,
    server_user,
)
from huikuan_dev.processes import SERVICES
from huikuan_dev.stack import Stack, free_port
from huikuan_dev.testing import start_groups_at_end
from huikuan_runtime.addresses import LOOPBACK
from tests.support import ROOT, Api, eventually, infra_env, query

pytestmark = pytest.mark.e2e

# Server connections per role: in all fewer than the client connections the services'
# eleven processes hold (each pool keeps one at least).
POOL_SIZE = 2


@dataclass
class Servers:
    postgres: PostgresServer
    pgbouncer: PgBouncer
    bootstrap: str
    directory: Path


def _role(service: str) -> str:
    return f"hk_{service}"


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    env = infra_env()
    if env is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    executable = os.environ.get("HK_PGBOUNCER")
    if not executable:
        pytest.skip("needs HK_PGBOUNCER, a pgbouncer to run (make test provides one)")
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(
            "needs PostgreSQL's programs (initdb, pg_ctl): deploy/postgres.sh installs them"
        )
    with server_directory() as directory:
        tls = server_files(directory / "tls", ["127.0.0.1"])
        postgres = PostgresServer(directory, tls, bindir, server_user())
        users = {_role(svc): secrets.token_hex(8) for svc in SERVICES}
        pgbouncer = PgBouncer(
            Path(executable), directory / "pgbouncer", postgres, users, pool_size=POOL_SIZE
        )
        try:
            postgres.start()
            for service in SERVICES:
                # What an operator does once per service (deploy/README.md).
                role = _role(service)
                postgres.psql(
                    "huikuan",
                    f"CREATE ROLE {role} LOGIN; GRANT CREATE ON DATABASE huikuan TO {role}; "
                    f"ALTER ROLE {role} IN DATABASE huikuan SET search_path TO {service}, public",
                )
            pgbouncer.start()
            yield Servers(postgres, pgbouncer, env[1], directory)
        finally:
            pgbouncer.stop()
            postgres.stop()


async def _tls_of_own_session(url: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchrow(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
    finally:
        await conn.close()


def test_verify_full_checks_the_certificate_and_the_name(servers: Servers) -> None:
    postgres = servers.postgres
    session = asyncio.run(_tls_of_own_session(postgres.url()))
    assert session["ssl"] is True, session
    assert session["version"].startswith("TLSv1."), session

    # The same server at an address its certificate does not name.
    elsewhere = postgres.url().replace("@127.0.0.1:", "@127.0.0.2:")
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        asyncio.run(_tls_of_own_session(elsewhere))

    # A certificate authority that did not sign the server's certificate.
    stranger = servers.directory / "stranger-ca.crt"
    stranger.write_bytes(CertificateAuthority.new("Stranger CA").cert_pem())
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        asyncio.run(_tls_of_own_session(postgres.url(sslrootcert=str(stranger))))

    # A service takes such a URL as it is: migrate creates its schema over TLS.
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url(),
        "KAFKA_BOOTSTRAP_SERVERS": servers.bootstrap,
        "LEDGER_DB_SCHEMA": "ledger_direct",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "migrate"], env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    tables = query(
        postgres.url(), "SELECT tablename FROM pg_tables WHERE schemaname = $1", "ledger_direct"
    )
    assert {"invoice", "payment", "outbox_event"} <= {r["tablename"] for r in tables}


@pytest.fixture(scope="module")
def pooled_stack(servers: Servers) -> Iterator[Stack]:
    """Every service process, each service as its own role through PgBouncer."""
    name = f"huikuan_pgb_{secrets.token_hex(4)}"
    run_dir = Path(os.environ.get("HUIKUAN_RUN_DIR", ROOT / ".run" / "test")) / name
    through_pooler = {
        service: {
            "DATABASE_URL": servers.pgbouncer.url(_role(service)),
            "DATABASE_POOL_MODE": "transaction",
            # Relays cannot LISTEN through the pooler: they poll, here often.
            f"{service.upper()}_RELAY_POLL_SECONDS": "0.2",
        }
        for service in SERVICES
    }
    stack = Stack(
        run_dir,
        database_url=servers.postgres.url(),  # each service's own below
        kafka_bootstrap_servers=servers.bootstrap,
        ports={svc: free_port() for svc in SERVICES},
        operator_key="pgb-operator-key",
        extra_env={"LOG_LEVEL": "INFO"},
        group_suffix=name,
        outbound_allow=LOOPBACK,
        service_env=through_pooler,
    )
    try:
        stack.migrate()
        asyncio.run(start_groups_at_end(servers.bootstrap, [f"{s}-{name}" for s in SERVICES]))
        stack.start()
        yield stack
    finally:
        stack.stop()


def _clients(pool: dict[str, str]) -> int:
    return int(pool["cl_active"]) + int(pool["cl_waiting"])


def _server_connections(pool: dict[str, str]) -> int:
    return sum(int(pool[f"sv_{state}"]) for state in ("active", "idle", "used", "tested", "login"))


def test_the_services_work_through_pgbouncer_in_transaction_mode(
    servers: Servers, pooled_stack: Stack
) -> None:
    key = pooled_stack.create_tenant_key("pgb", "Pooled Trading")
    api = Api(pooled_stack.gateway_url, key)
    assert api.put_customer("C-1").status_code in (200, 201)
    invoice = api.post_invoice("INV-1", "C-1", "1000.00", due_date="2026-12-01")
    assert invoice.status_code == 201, invoice.text
    payment = api.http.post(
        "/payments",
        json={
            "payment_id": "P-1",
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "400.00",
            "received_on": "2026-11-20",
            "method": "bank_transfer",
        },
    )
    assert payment.status_code == 201, payment.text

    # The payment travels: ledger's outbox -> its relay (polling) -> Kafka -> credit's
    # consumer -> credit's projection, every database step through the pooler.
    def credit_saw_the_payment() -> dict[str, Any] | None:
        r = api.get("/customers/C-1/credit")
        if r.status_code != 200:
            return None
        lines = {line["currency"]: line for line in r.json()["exposure"]}
        return r.json() if lines.get("CNY", {}).get("open_amount") == "600.00" else None

    eventually(credit_saw_the_payment, timeout=90, what="credit's exposure after the payment")
    applied = query(
        servers.postgres.url(),
        "SELECT event_type FROM credit.processed_event WHERE event_type LIKE 'ledger.payment_%'",
    )
    assert {r["event_type"] for r in applied} >= {
        "ledger.payment_received.v1",
        "ledger.payment_applied.v1",
    }

    # PgBouncer carried it: every service's transactions, on fewer server connections than
    # its clients hold.
    pools = [p for p in servers.pgbouncer.show("POOLS") if p["user"].startswith("hk_")]
    assert {p["user"] for p in pools} == {_role(s) for s in SERVICES}
    assert all(p["pool_mode"] == "transaction" for p in pools), pools
    assert all(_server_connections(p) <= POOL_SIZE for p in pools), pools
    clients = sum(_clients(p) for p in pools)
    assert clients > sum(_server_connections(p) for p in pools), pools
    [stats] = [s for s in servers.pgbouncer.show("STATS") if s["database"] == "huikuan"]
    assert int(stats["total_xact_count"]) > 50, stats

    # And PostgreSQL saw only the pooler's few connections of those roles, all over TLS.
    sessions = query(
        servers.postgres.url(),
        """SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
           WHERE a.usename LIKE 'hk\\_%'""",
    )
    assert 0 < len(sessions) <= POOL_SIZE * len(SERVICES) < clients
    assert all(r["ssl"] for r in sessions), sessions
