"""The image recipe, performed without a container engine, makes images that run every
process type — so deploy/image/Dockerfile cannot rot unnoticed.

Each image the compose file builds (one per service, and its demo loader) is made by
performing the Dockerfile (tests/packaging/recipe.py) with the compose file's build
arguments into a directory outside the workspace, then made read-only. Against the test
PostgreSQL and Kafka, each service migrates from its image; every process type
(`huikuan_dev.processes`) starts from the image the compose file gives it, with the image's
environment and entrypoint, as the image's user, on a read-only root filesystem with a
fresh /tmp (a mount namespace of its own, when the test runs as root) — as the chart runs
it — and answers its health: the APIs' /readyz, the workers' /healthz, /readyz (database,
Kafka, loop) and /metrics on their health port. The demo loader creates the demo tenant and
its API key through the gateway; an invoice posted with that key reaches the credit and
reminders projections through the ledger's relay and both consumers. On SIGTERM every
process shuts down gracefully (exit 0; uvicorn re-raises the signal once it has finished),
and no image changed.

Each service's image holds production code only: the service, the workspace libraries it
needs and their locked dependencies — no test or development package, no other service,
no pip, no tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from huikuan_dev.processes import PROCESS_TYPES, SERVICES, ProcessSpec
from huikuan_dev.stack import free_port
from huikuan_dev.testing import start_groups_at_end
from huikuan_runtime.addresses import LOOPBACK
from huikuan_runtime.migrations import discover, package_migrations, plan
from tests.packaging import recipe
from tests.support import ROOT, eventually, infra_env, query, scratch_database

DOCKERFILE = ROOT / "deploy/image/Dockerfile"
COMPOSE = ROOT / "deploy/compose/compose.yaml"
PREFIX = "APP"  # the Dockerfile's install prefix, a build argument
# How this machine reaches the package index, passed to the recipe's RUN as Docker passes
# its predefined proxy arguments (and a build host its CA bundle).
NETWORK = {"SSL_CERT_FILE", "SSL_CERT_DIR", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_NATIVE_TLS"}

# A few tables each service's migrations create (and none drops later).
TABLES = {
    "ledger": {"customer", "invoice", "payment", "journal_entry", "outbox_event"},
    "credit": {"customer_profile", "credit_fact", "credit_hold", "processed_event"},
    "reminders": {"dunning_customer", "reminder", "promise", "task", "processed_event"},
    "gateway": {"tenant", "api_key", "webhook_subscription", "idempotency_key"},
}

# Distributions a service must never bring: the development package, the test and lint
# tools of the workspace's dev group, and the installers.
DEV_ONLY = {
    "huikuan-dev",
    "pytest",
    "pytest-asyncio",
    "hypothesis",
    "aiosmtpd",
    "schemathesis",
    "ruff",
    "mypy",
    "import-linter",
    "pip",
    "setuptools",
    "uv",
}

_INSPECT = """
import importlib.metadata, importlib.util, json, sys
ours = [d for d in importlib.metadata.distributions() if d.metadata["Name"].startswith("huikuan")]
print(json.dumps({
    "distributions": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
    "service_file": importlib.util.find_spec(sys.argv[1]).origin,
    "test_files": [str(f) for d in ours for f in d.files or () if "tests" in f.parts],
}))
"""


def test_each_service_finds_its_migrations_inside_its_package() -> None:
    for service in SERVICES:
        found = discover(package_migrations(service))
        assert found, f"{service} ships its migrations in its package"
        assert [m.version for m in found] == list(range(1, len(found) + 1))


def compose_builds() -> dict[str, dict[str, str]]:
    """The images the compose file builds from the Dockerfile: name (without the tag) and
    build arguments."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    builds: dict[str, dict[str, str]] = {}
    for spec in services.values():
        build = spec.get("build")
        if build is not None:
            assert (ROOT / "deploy/compose" / build["context"] / build["dockerfile"]).resolve() == (
                DOCKERFILE
            )
            builds[spec["image"].split(":")[0]] = {k: str(v) for k, v in build["args"].items()}
    return builds


def compose_image(name: str) -> str:
    """The image (without the tag) the compose file runs its service `name` from."""
    service = yaml.safe_load(COMPOSE.read_text())["services"][name]
    image: str = service["image"].split(":")[0]
    return image


def numeric_user(user: str | None) -> tuple[int, int]:
    """`uid:gid` of the image's USER: numeric (Kubernetes' runAsNonRoot checks it) and not
    root."""
    assert user, "the image names its user"
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0, f"USER {user}"
    return int(uid), int(gid)


@dataclass(frozen=True, slots=True)
class Installed:
    """An image performed on this machine: its software under `app`, how it starts."""

    app: Path
    image: recipe.Image

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """What the image holds (size and modification time of every path)."""
        return {
            str(path.relative_to(self.app)): (path.lstat().st_size, path.lstat().st_mtime_ns)
            for path in self.app.rglob("*")
        }

    def command(self, *args: str) -> list[str]:
        """The image's entrypoint with `args`, contained."""
        return self.contained(self.image.command(*args))

    def contained(self, argv: list[str]) -> list[str]:
        """`argv` as the image's user on a read-only root filesystem with a fresh /tmp, as a
        container with readOnlyRootFilesystem and a /tmp volume runs it (when the test runs
        as root: in a mount namespace of its own, which nothing else on the machine sees;
        otherwise as the test's user, the image read-only all the same)."""
        if os.geteuid() != 0:
            return argv
        unshare = ["unshare", "--mount", "--propagation", "private", "--"]
        user = _as_user(numeric_user(self.image.user))
        return [*unshare, "/bin/sh", "-c", _CONTAINED, "contained", *user, *argv]

    def environment(self, settings: Mapping[str, str]) -> dict[str, str]:
        """The image's environment and `settings`: nothing of this session's. HOME is the
        image user's, which does not exist."""
        return {**self.image.env, "HOME": "/nonexistent", **settings}


_CONTAINED = (
    'mount -o remount,bind,ro / && mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp && exec "$@"'
)


def _as_user(user: tuple[int, int]) -> list[str]:
    """The prefix that runs a command as `user`, when the test runs as root."""
    if os.geteuid() != 0:
        return []
    uid, gid = user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--"]


def _open_to_all(path: Path) -> bool:
    """Whether any user may run `path`: it and every directory above it are open to all."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _base_python(version: str, user: tuple[int, int]) -> Path:
    """A Python `version` the image's user can run: the base image's stand-in."""
    candidates = [Path(sys.executable).resolve()]
    candidates += [Path(p).resolve() for p in (shutil.which(f"python{version}"),) if p]
    candidates += [Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")]
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    for candidate in candidates:
        if not candidate.exists() or (os.geteuid() == 0 and not _open_to_all(candidate)):
            continue
        done = subprocess.run(
            [*_as_user(user), str(candidate), "-c", probe], capture_output=True, text=True
        )
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate.resolve()
    pytest.fail(f"no Python {version} that uid {user[0]} can run among {candidates}")


def _uv() -> Path:
    """The uv that runs this session (`uv run` sets UV), else one on PATH or under .run."""
    local = ROOT / ".run" / "tools" / "bin" / "uv"
    found = os.environ.get("UV") or shutil.which("uv") or (str(local) if local.exists() else None)
    if found is None:
        pytest.fail("uv is needed to perform the recipe (make test provides it)")
    return Path(found)


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, Installed]]:
    """Every image the compose file builds, performed once, read-only afterwards."""
    if infra_env() is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    uv = _uv()
    cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, check=True)
    dockerfile = recipe.Recipe.read(DOCKERFILE)
    python_image = dockerfile.global_args["PYTHON_IMAGE"]
    version = re.fullmatch(r"python:(\d+\.\d+)\S*", python_image)
    assert version, f"the base image {python_image} names its Python version"
    builds = compose_builds()
    users = {numeric_user(dockerfile.user(args)) for args in builds.values()}
    python = {user: _base_python(version[1], user) for user in users}
    # Outside the workspace, and not under /tmp, which the containers get fresh.
    top = Path(tempfile.mkdtemp(prefix="huikuan-images-", dir="/var/tmp"))
    top.chmod(0o755)
    try:
        installed: dict[str, Installed] = {}
        for name, args in builds.items():
            app = top / name / "app"
            image = recipe.build(
                DOCKERFILE,
                context=ROOT,
                prefix=PREFIX,
                args={**args, PREFIX: str(app)},
                root=top / name / "build",
                base={f"python{version[1]}": python[numeric_user(dockerfile.user(args))]},
                tool_stages={"uv": {"/uv": uv}},
                caches={"/root/.cache/uv": Path(cache.stdout.strip())},
                network={
                    key: value
                    for key, value in os.environ.items()
                    if key in NETWORK or key.lower().endswith("_proxy")
                },
            )
            shutil.rmtree(top / name / "build")  # the build stage stays behind
            installed[name] = Installed(app, image)
        subprocess.run(["chmod", "-R", "a-w", str(top)], check=True)
        yield installed
    finally:
        if os.geteuid() != 0:  # root removes read-only files as they are
            subprocess.run(["chmod", "-R", "u+w", str(top)], check=False)
        shutil.rmtree(top, ignore_errors=True)


def service_images() -> dict[str, str]:
    """The image each service's processes run from, as the compose file says."""
    found = {p.service: compose_image(p.name) for p in PROCESS_TYPES}
    assert set(found) == set(SERVICES)
    return found


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
def test_a_service_image_holds_its_service_and_production_code_only(
    images: dict[str, Installed], service: str
) -> None:
    installed = images[service_images()[service]]
    argv = installed.contained(["python", "-c", _INSPECT, service])
    done = subprocess.run(
        argv, env=installed.environment({}), capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    distributions = set(seen["distributions"])
    assert f"huikuan-{service}" in distributions
    assert not distributions & DEV_ONLY, f"{service} brought {distributions & DEV_ONLY}"
    others = {f"huikuan-{other}" for other in SERVICES if other != service}
    assert not distributions & others, f"{service} brought other services"
    assert Path(seen["service_file"]).is_relative_to(installed.app), "imported from the image"
    assert seen["test_files"] == []


@dataclass
class Running:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self) -> str:
        return _tail(self.log)


def _ready(running: Running) -> bool:
    if running.proc.poll() is not None:
        pytest.fail(f"{running.spec.name} exited with {running.proc.returncode}:\n{running.tail()}")
    try:
        answer = httpx.get(f"http://127.0.0.1:{running.port}/readyz", timeout=5)
    except httpx.TransportError:
        return False
    return answer.status_code == 200


def _migrated(database: str, service: str) -> None:
    tables = {
        row["table_name"]
        for row in query(
            database,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            service,
        )
    }
    assert tables >= TABLES[service] | {"schema_migration"}
    applied = query(
        database,
        f"SELECT source, version, name FROM {service}.schema_migration ORDER BY source, version",
    )
    expected = sorted(m.label for m in plan(package_migrations(service)))
    assert sorted(f"{r['source']}/{r['version']:04d}_{r['name']}" for r in applied) == expected


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def _start(
    installed: Installed, mode: str, settings: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """A container of `installed` running `mode`, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            installed.command(mode),
            env=installed.environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
        )


def _flows(api: httpx.Client) -> None:
    """An invoice posted at the gateway reaches credit's and reminders' projections: the
    APIs, the ledger's relay and both consumers at work."""
    customer = {"name": "Image Test Co.", "currency": "CNY", "payment_terms_days": 30}
    assert api.put("/customers/C-1", json=customer).status_code in (200, 201)
    invoice = {
        "invoice_id": "INV-1",
        "customer_id": "C-1",
        "number": "2026-0001",
        "issue_date": "2026-11-01",
        "currency": "CNY",
        "amount": "1234.50",
    }
    assert api.post("/invoices", json=invoice).status_code == 201

    def projected() -> tuple[Any, Any] | None:
        credit, dunning = api.get("/customers/C-1/credit"), api.get("/customers/C-1/dunning")
        if credit.status_code != 200 or dunning.status_code != 200:
            return None
        exposure = [line["open_amount"] for line in credit.json()["exposure"]]
        residuals = [line["residual"] for line in dunning.json()["invoices"]]
        return (exposure, residuals) if exposure and residuals else None

    assert eventually(projected, timeout=120, what="the invoice reached credit and reminders") == (
        ["1234.50"],
        ["1234.50"],
    )


@pytest.fixture
def database() -> Iterator[str]:
    with scratch_database("huikuan_image") as url:
        yield url


@pytest.mark.integration
def test_every_process_type_runs_from_its_image(
    images: dict[str, Installed], database: str, tmp_path: Path
) -> None:
    infra = infra_env()
    assert infra is not None
    name = database.rsplit("/", 1)[1]  # the consumer groups' suffix, too
    by_service = {service: images[image] for service, image in service_images().items()}
    before = {image: installed.snapshot() for image, installed in images.items()}
    ports = {service: free_port() for service in SERVICES}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    operator_key = secrets.token_hex(16)
    # As a deployment sets them (the chart's ConfigMap and Secret), on this machine's ports.
    settings = {
        "HUIKUAN_ENV": "production",
        "DATABASE_URL": database,
        "KAFKA_BOOTSTRAP_SERVERS": infra[1],
        "HUIKUAN_INTERNAL_TOKEN": secrets.token_hex(16),
        "GATEWAY_OPERATOR_KEY": operator_key,
        "REMINDERS_WEBHOOK_SECRET": secrets.token_hex(16),
        "HUIKUAN_OUTBOUND_ALLOW": LOOPBACK,
        "LOG_LEVEL": "INFO",
        **{f"{service.upper()}_PORT": str(port) for service, port in ports.items()},
        **{f"{service.upper()}_GROUP_SUFFIX": name for service in SERVICES},
        **{
            f"GATEWAY_{service.upper()}_URL": f"http://127.0.0.1:{ports[service]}"
            for service in ("ledger", "credit", "reminders")
        },
    }
    running: dict[str, Running] = {}
    try:
        migrations = {
            service: _start(installed, "migrate", settings, tmp_path / f"{service}-migrate.log")
            for service, installed in by_service.items()
        }
        for service, migration in migrations.items():
            code = migration.wait(300)
            assert code == 0, (
                f"{service} migrate: {code}\n{_tail(tmp_path / f'{service}-migrate.log')}"
            )
            _migrated(database, service)
        asyncio.run(start_groups_at_end(infra[1], [f"{s}-{name}" for s in SERVICES]))

        # Every process its own port, chosen before any of them binds: a port free_port
        # just released may otherwise come back for the next worker while the first one is
        # still starting (seen once: a worker's /readyz answered by another process).
        taken = set(ports.values())

        def unused_port() -> int:
            while (port := free_port()) in taken:
                pass
            taken.add(port)
            return port

        for spec in PROCESS_TYPES:
            port = ports[spec.service] if spec.is_api else unused_port()
            health = {} if spec.is_api else {f"{spec.service.upper()}_HEALTH_PORT": str(port)}
            log = tmp_path / f"{spec.name}.log"
            proc = _start(by_service[spec.service], spec.mode, {**settings, **health}, log)
            running[spec.name] = Running(spec, proc, port, log)
        waiting = dict(running)
        deadline = time.monotonic() + 300
        while waiting:
            waiting = {n: r for n, r in waiting.items() if not _ready(r)}
            assert time.monotonic() < deadline, f"not ready: {', '.join(waiting)}"
            if waiting:
                time.sleep(0.2)
        for process in running.values():
            base = f"http://127.0.0.1:{process.port}"
            loop = {} if process.spec.is_api else {"loop": "ok"}
            ready = httpx.get(f"{base}/readyz", timeout=10).json()
            checks = {"database": "ok", "kafka": "ok", **loop}
            assert ready == {"status": "ready", "checks": checks}, process.spec.name
            assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
            metrics = httpx.get(f"{base}/metrics", timeout=10)
            assert metrics.status_code == 200 and "# TYPE" in metrics.text, process.spec.name

        # The compose file's demo service, without the book (make run loads it the same way).
        demo = images[compose_image("demo")]
        loaded = subprocess.run(
            demo.command("--gateway", gateway),
            env=demo.environment({"GATEWAY_OPERATOR_KEY": operator_key, "HUIKUAN_DEMO": "0"}),
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        assert f"Gateway: {gateway}/v1" in loaded.stdout.splitlines()
        key = re.search(r"^API key: (hk_\S+)$", loaded.stdout, re.MULTILINE)
        assert key, loaded.stdout
        _flows(
            httpx.Client(
                base_url=f"{gateway}/v1", headers={"Authorization": f"Bearer {key[1]}"}, timeout=30
            )
        )
    finally:
        for process in running.values():
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        codes = {}
        for process in running.values():
            try:
                codes[process.spec.name] = process.proc.wait(30)
            except subprocess.TimeoutExpired:
                process.proc.kill()
                codes[process.spec.name] = process.proc.wait()
    for process in running.values():
        code = codes[process.spec.name]
        # uvicorn, once shut down, raises the SIGTERM again (the exit status says what ended it)
        graceful = code == 0 or (
            process.spec.is_api
            and code == -signal.SIGTERM
            and "Finished server process" in process.log.read_text()
        )
        assert graceful, f"{process.spec.name} exited with {code}:\n{process.tail()}"
    assert {image: installed.snapshot() for image, installed in images.items()} == before
