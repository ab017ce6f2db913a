"""Run the whole system locally as real processes: for `make run` and end-to-end tests.

`python -m huikuan_dev.stack run --profile dev` migrates every service, starts each
process (APIs, relays, consumers), waits until all are ready, creates the demo tenant
and prints two lines a script can read:

    Gateway: http://127.0.0.1:8000/v1
    API key: hk_...

then stays in the foreground until Ctrl-C or SIGTERM, and stops everything it started.
Logs of each process go to `.run/<profile>/logs/<process>.log`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from huikuan_dev import demo
from huikuan_dev.blocking_http import http_json
from huikuan_dev.processes import PROCESS_TYPES, SERVICES, ProcessSpec
from huikuan_runtime.kafka import KafkaNamespace

# Schedulers run with `make run`, not under tests: a scan "now" would change what tests
# that post back-dated books see. Tests trigger jobs explicitly instead.
PROCESSES: tuple[ProcessSpec, ...] = tuple(p for p in PROCESS_TYPES if not p.periodic)
SCHEDULERS: tuple[ProcessSpec, ...] = tuple(p for p in PROCESS_TYPES if p.periodic)


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Stack:
    """The system's processes for one profile: start, wait ready, kill, restart, stop."""

    def __init__(
        self,
        run_dir: Path,
        *,
        database_url: str,
        kafka_bootstrap_servers: str,
        ports: dict[str, int],
        operator_key: str = demo.DEV_OPERATOR_KEY,
        extra_env: dict[str, str] | None = None,
        schedulers: bool = False,
        group_suffix: str = "",
        topic_prefix: str = "",
        outbound_allow: str | None = None,
        processes: Sequence[ProcessSpec] | None = None,
        host: str = "127.0.0.1",
        launcher: Sequence[str] = (),
        health_port_base: int | None = None,
        service_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """`processes` picks which to run (default: every one of `PROCESSES`, and the
        `SCHEDULERS` when `schedulers`); `extra_env` adds settings, e.g. the `KAFKA_*` TLS
        and SASL ones of a secured broker; `service_env` settings of one service's
        processes only (e.g. each service its own database role). `host` is the address the
        APIs listen on and are reached at; `launcher` a command each process is started
        under (e.g. `ip netns exec <ns>`: a host of its own); `health_port_base`, when set,
        gives every process that is not an API a health port of its own from there up, and
        readiness then waits for those too. `topic_prefix` (`KAFKA_TOPIC_PREFIX`) gives the
        stack topics and consumer groups of its own on a shared broker (`make run`: none)."""
        self.run_dir = run_dir
        self.namespace = KafkaNamespace(topic_prefix)
        self.log_dir = run_dir / "logs"
        self.ports = ports
        self.host = host
        self.launcher = tuple(launcher)
        self.operator_key = operator_key
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "GATEWAY_OPERATOR_KEY": operator_key,
            "PYTHONUNBUFFERED": "1",
            **{f"{svc.upper()}_PORT": str(port) for svc, port in ports.items()},
            **{f"{svc.upper()}_HOST": host for svc in ports},
            **{
                f"GATEWAY_{svc.upper()}_URL": f"http://{host}:{ports[svc]}"
                for svc in ("ledger", "credit", "reminders")
            },
            # Stacks sharing a broker (test stacks, benchmarks) each in a namespace of their
            # own: topics and groups; or in groups of their own on the same topics.
            **({"KAFKA_TOPIC_PREFIX": topic_prefix} if topic_prefix else {}),
            **(
                {f"{svc.upper()}_GROUP_SUFFIX": group_suffix for svc in SERVICES}
                if group_suffix
                else {}
            ),
            # Where the processes may connect to URLs someone chose (test stacks: LOOPBACK).
            **({"HUIKUAN_OUTBOUND_ALLOW": outbound_allow} if outbound_allow is not None else {}),
            **(extra_env or {}),
        }
        self.service_env = service_env or {}
        self.specs = (
            tuple(processes)
            if processes is not None
            else PROCESSES + (SCHEDULERS if schedulers else ())
        )
        workers = [spec.name for spec in self.specs if not spec.is_api]
        self.health_ports = (
            {name: health_port_base + n for n, name in enumerate(workers)}
            if health_port_base is not None
            else {}
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = {}

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.ports['gateway']}"

    def _run_module(self, service: str, mode: str) -> list[str]:
        return [*self.launcher, sys.executable, "-m", service, mode]

    def _process_env(self, spec: ProcessSpec) -> dict[str, str]:
        env = self.env_of(spec.service)
        port = self.health_ports.get(spec.name)
        if port is None:
            return env
        return {**env, f"{spec.service.upper()}_HEALTH_PORT": str(port)}

    def readiness_url(self, spec: ProcessSpec) -> str | None:
        """Where the process says it is ready: an API's port, a worker's health port."""
        port = self.ports[spec.service] if spec.is_api else self.health_ports.get(spec.name)
        return None if port is None else f"http://{self.host}:{port}/readyz"

    def env_of(self, service: str) -> dict[str, str]:
        """The environment of `service`'s processes."""
        return {**self.env, **self.service_env.get(service, {})}

    def migrate(self) -> None:
        for service in SERVICES:
            result = subprocess.run(
                self._run_module(service, "migrate"), env=self.env_of(service), capture_output=True
            )
            if result.returncode != 0:
                tail = result.stderr.decode(errors="replace")[-2000:]
                raise StackError(f"{service} migrate failed:\n{tail}")

    def start_process(self, spec: ProcessSpec) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{spec.name}.log").open("ab") as log:
            self.procs[spec.name] = subprocess.Popen(
                self._run_module(spec.service, spec.mode),
                env=self._process_env(spec),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._write_pids()

    def start(self, timeout: float = 90.0) -> None:
        for spec in self.specs:
            self.start_process(spec)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = {
            spec.name: url for spec in self.specs if (url := self.readiness_url(spec)) is not None
        }
        while waiting:
            for name, url in list(waiting.items()):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise StackError(f"{name} exited with {proc.returncode}; {self.log_tail(name)}")
                with contextlib.suppress(OSError):
                    if http_json("GET", url)[0] == 200:
                        del waiting[name]
            if waiting and time.monotonic() > deadline:
                raise StackError(f"not ready after {timeout:.0f}s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.2)
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}; {self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "no log"
        return "last log lines:\n" + "\n".join(
            path.read_text(errors="replace").splitlines()[-lines:]
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one process (kill -9 by default) and reap it."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        proc.wait(timeout=30)

    def restart(self, name: str) -> None:
        spec = next(p for p in self.specs if p.name == name)
        self.start_process(spec)

    def supervise(self, max_restarts: int = 5) -> list[str]:
        """Restart processes that exited; give up on one that keeps dying."""
        restarted = []
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            self.restarts[name] = self.restarts.get(name, 0) + 1
            if self.restarts[name] > max_restarts:
                raise StackError(
                    f"{name} exited {max_restarts + 1} times (last code {proc.returncode}); "
                    f"{self.log_tail(name)}"
                )
            self.restart(name)
            restarted.append(name)
        return restarted

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        (self.run_dir / "stack.pids").unlink(missing_ok=True)

    def _write_pids(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pids = "\n".join(str(p.pid) for p in self.procs.values() if p.poll() is None)
        (self.run_dir / "stack.pids").write_text(pids + "\n")

    def create_tenant_key(self, tenant_id: str, name: str, scopes: list[str] | None = None) -> str:
        """Create (or find) a tenant and return a new API key for it."""
        return demo.create_tenant_key(self.gateway_url, self.operator_key, tenant_id, name, scopes)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    return values


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a parent such as `uv run` may have started us with SIGINT ignored.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(profile: str, root: Path) -> int:
    run_dir = root / ".run" / profile
    env_file = run_dir / "infra.env"
    infra = _read_env_file(env_file) if env_file.exists() else {}
    database_url = os.environ.get("DATABASE_URL") or infra.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or infra.get("KAFKA_BOOTSTRAP_SERVERS")
    if not database_url or not bootstrap:
        print(f"error: no {env_file}; run `deploy/infra.sh up {profile}` first", file=sys.stderr)
        return 1
    ports = {
        "gateway": int(os.environ.get("GATEWAY_PORT", 8000)),
        "ledger": int(os.environ.get("LEDGER_PORT", 8001)),
        "credit": int(os.environ.get("CREDIT_PORT", 8002)),
        "reminders": int(os.environ.get("REMINDERS_PORT", 8003)),
    }
    for service, port in ports.items():
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                print(
                    f"error: port {port} for {service} is taken; stop what uses it "
                    f"(`make stop`) or set {service.upper()}_PORT",
                    file=sys.stderr,
                )
                return 1
    stack = Stack(
        run_dir,
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        ports=ports,
        operator_key=os.environ.get("GATEWAY_OPERATOR_KEY", demo.DEV_OPERATOR_KEY),
        schedulers=True,
    )
    with _signals_raise():
        try:
            print("migrating ...", file=sys.stderr)
            stack.migrate()
            print("starting processes ...", file=sys.stderr)
            stack.start()
            key = demo.seed(
                stack.gateway_url,
                stack.operator_key,
                datetime.now(UTC).date(),
                book=os.environ.get("HUIKUAN_DEMO", "1") != "0",
            )
            print(f"Gateway: {stack.gateway_url}/v1", flush=True)
            print(f"API key: {key}", flush=True)
            print(
                f"docs: {stack.gateway_url}/v1/docs · logs: {stack.log_dir} · Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            while True:
                for name in stack.supervise():
                    print(
                        f"{name} exited; restarted it (see {stack.log_dir}/{name}.log)",
                        file=sys.stderr,
                        flush=True,
                    )
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping ...", file=sys.stderr)
            return 0
        except (StackError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            # A second Ctrl-C or SIGTERM must not interrupt the orderly stop.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m huikuan_dev.stack")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--profile", default="dev")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args()
    sys.exit(run(args.profile, args.root))


if __name__ == "__main__":
    main()
