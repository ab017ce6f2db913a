"""An installed service is production code only, and migrates from its own wheel.

For each service: build the wheels of the service and of the workspace libraries it
depends on, install them into an empty virtual environment outside the workspace (the
third-party dependencies pinned as uv.lock pins them, exported by `uv export`), check that
no test library, no development package and no other service came along, then run
`python -m <service> migrate` there against a fresh database and look at the tables it made.

Before the migrations moved inside the packages, an installed service looked for them
beside its source tree, found no folder and migrated nothing, successfully.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from huikuan_runtime.migrations import discover, package_migrations, plan
from tests.support import ROOT, infra_env, query, scratch_database

SERVICES = ("ledger", "credit", "reminders", "gateway")

# A few tables each service's migrations create (and none drops later).
TABLES = {
    "ledger": {"customer", "invoice", "payment", "journal_entry", "outbox_event"},
    "credit": {"customer_profile", "credit_fact", "credit_hold", "processed_event"},
    "reminders": {"dunning_customer", "reminder", "promise", "task", "processed_event"},
    "gateway": {"tenant", "api_key", "webhook_subscription", "idempotency_key"},
}

# Distributions a service must never pull in: the development package and the test and lint
# tools of the workspace's dev group.
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
}

# `uv export` names a workspace member it needs as an editable path: `-e ./libs/events`.
_MEMBER = re.compile(r"^-e \./(\S+)$", re.MULTILINE)

_INSPECT = """
import importlib.metadata, importlib.util, json, sys
print(json.dumps({
    "distributions": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
    "huikuan_dev": importlib.util.find_spec("huikuan_dev") is not None,
    "service_file": importlib.util.find_spec(sys.argv[1]).origin,
}))
"""


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_finds_its_migrations_inside_its_package(service: str) -> None:
    found = discover(package_migrations(service))
    assert found, f"{service} ships its migrations in its package"
    assert [m.version for m in found] == list(range(1, len(found) + 1))


def _uv() -> str:
    """The uv that runs this session (`uv run` sets UV), else one on PATH or under .run."""
    local = ROOT / ".run" / "tools" / "bin" / "uv"
    found = os.environ.get("UV") or shutil.which("uv") or (str(local) if local.exists() else None)
    if found is None:
        pytest.fail("uv is needed to build and install the wheels (make test provides it)")
    return found


def _run(args: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited with {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


class Wheels:
    """Wheels of workspace members, each built once per module into `dist/`."""

    def __init__(self, uv: str, dist: Path) -> None:
        self.uv = uv
        self.dist = dist
        self.built: dict[str, Path] = {}

    def of(self, member: str) -> Path:
        if member not in self.built:
            out = self.dist / member.replace("/", "-")
            _run([self.uv, "build", "--wheel", "--out-dir", out, ROOT / member], cwd=ROOT)
            (wheel,) = out.glob("*.whl")
            self.built[member] = wheel
        return self.built[member]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    return Wheels(_uv(), tmp_path_factory.mktemp("dist"))


@pytest.fixture
def fresh_database() -> Iterator[str]:
    with scratch_database("huikuan_wheel") as url:
        yield url


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
def test_an_installed_service_migrates_from_its_wheel_alone(
    service: str, wheels: Wheels, fresh_database: str, tmp_path: Path
) -> None:
    uv = wheels.uv
    package = f"huikuan-{service}"
    assert not tmp_path.resolve().is_relative_to(ROOT), "the environment is outside the tree"

    # What the service needs, as uv.lock pins it: workspace members, then everything else.
    export: list[str | Path] = [
        uv,
        "export",
        "--package",
        package,
        "--no-dev",
        "--frozen",
        "--no-hashes",
    ]
    members = _MEMBER.findall(_run(export, cwd=ROOT))
    assert f"services/{service}" in members
    assert "libs/devtools" not in members, f"{package} must not depend on huikuan-dev"
    requirements = tmp_path / "requirements.txt"
    _run([*export, "--no-emit-workspace", "--output-file", requirements], cwd=ROOT)

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run([uv, "venv", "--quiet", "--python", sys.executable, venv], cwd=tmp_path)
    install: list[str | Path] = [uv, "pip", "install", "--quiet", "--python", python]
    _run([*install, "--requirement", requirements], cwd=tmp_path)
    _run([*install, "--no-deps", *(wheels.of(member) for member in members)], cwd=tmp_path)

    seen = json.loads(_run([python, "-c", _INSPECT, service], cwd=tmp_path))
    installed = set(seen["distributions"])
    assert package in installed
    assert not installed & DEV_ONLY, f"{package} brought development packages"
    assert not seen["huikuan_dev"]
    others = {f"huikuan-{other}" for other in SERVICES if other != service}
    assert not installed & others, f"{package} brought other services"
    assert Path(seen["service_file"]).is_relative_to(venv), "imported from the wheel"

    infra = infra_env()
    assert infra is not None
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATABASE_URL": fresh_database,
        "KAFKA_BOOTSTRAP_SERVERS": infra[1],
        "LOG_LEVEL": "WARNING",
        # As a deployment runs it: not development, so real secrets (any non-placeholder).
        "HUIKUAN_ENV": "production",
        "HUIKUAN_INTERNAL_TOKEN": "a-real-internal-token-for-the-wheel-test",
        "GATEWAY_OPERATOR_KEY": "a-real-operator-key-for-the-wheel-test",
        "REMINDERS_WEBHOOK_SECRET": "a-real-webhook-secret-for-the-wheel-test",
    }
    _run([python, "-m", service, "migrate"], cwd=tmp_path, env=env)

    tables = {
        row["table_name"]
        for row in query(
            fresh_database,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            service,
        )
    }
    assert tables >= TABLES[service] | {"schema_migration"}
    applied = query(
        fresh_database,
        f"SELECT source, version, name FROM {service}.schema_migration ORDER BY source, version",
    )
    expected = sorted(m.label for m in plan(package_migrations(service)))
    assert sorted(f"{r['source']}/{r['version']:04d}_{r['name']}" for r in applied) == expected
