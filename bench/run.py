"""The benchmark harness: discover `bench/bench_*.py`, run them, print one table, write JSON.

Every benchmark module exposes `async def run(ctx: Context) -> list[Figure]`. A figure is
one measured value beside its floor (the same work done the cheapest way, measured in the
same run); the harness derives the ratio and the verdict against the figure's goal.

`ratio` is always "fraction of the floor's speed": value / floor for rates (higher is
better), floor / value for durations (lower is better). 1.0 means as fast as the floor.

Progress goes to stderr; the table to stdout; the figures to `bench/results/<timestamp>.json`
and `bench/results/latest.json`. The exit status is 1 when a benchmark failed to run, 0
otherwise (a missed goal is reported, not an error).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Goal:
    """`ratio_at_least`: ratio ≥ target; `below` / `at_least`: the value itself."""

    kind: Literal["ratio_at_least", "below", "at_least"]
    target: float

    def text(self, unit: str) -> str:
        if self.kind == "ratio_at_least":
            return f">= {self.target:g} x floor"
        if self.kind == "below":
            return f"< {self.target:g} {unit}"
        return f">= {self.target:g} {unit}"

    def met(self, value: float, ratio: float | None) -> bool | None:
        if self.kind == "ratio_at_least":
            return None if ratio is None else ratio >= self.target
        if self.kind == "below":
            return value < self.target
        return value >= self.target


@dataclass(slots=True)
class Figure:
    benchmark: str
    name: str
    value: float | None  # None: could not be measured (see `note`)
    unit: str
    floor: float | None = None
    better: Literal["higher", "lower"] = "higher"
    goal: Goal | None = None
    note: str = ""
    floor_note: str = ""  # what the floor is, for the JSON and the README
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.floor is None or self.value <= 0 or self.floor <= 0:
            return None
        return self.value / self.floor if self.better == "higher" else self.floor / self.value

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "n/a"
        if self.goal is None:
            return ""
        met = self.goal.met(self.value, self.ratio)
        return "n/a" if met is None else ("ok" if met else "MISS")

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "figure": self.name,
            "value": self.value,
            "unit": self.unit,
            "floor": self.floor,
            "ratio": self.ratio,
            "better": self.better,
            "goal": None
            if self.goal is None
            else {
                "kind": self.goal.kind,
                "target": self.goal.target,
                "text": self.goal.text(self.unit),
            },
            "verdict": self.verdict,
            "note": self.note,
            "floor_note": self.floor_note,
            "detail": self.detail,
        }


class Context:
    """What a benchmark gets: the infrastructure, settings from the environment, progress."""

    def __init__(self, root: Path, database_url: str, kafka_bootstrap_servers: str) -> None:
        self.root = root
        self.database_url = database_url
        self.kafka_bootstrap_servers = kafka_bootstrap_servers
        self.settings: dict[str, Any] = {}
        self._started = time.monotonic()

    def env_int(self, name: str, default: int) -> int:
        """An integer setting, overridable from the environment; recorded in the JSON."""
        raw = os.environ.get(name)
        value = int(raw.replace("_", "")) if raw else default
        self.settings[name] = value
        return value

    def env_flag(self, name: str) -> bool:
        value = os.environ.get(name, "").lower() in ("1", "true", "yes")
        self.settings[name] = value
        return value

    def progress(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


Benchmark = Callable[[Context], Awaitable[list[Figure]]]


def discover(only: list[str]) -> dict[str, Benchmark]:
    import bench

    found: dict[str, Benchmark] = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        short = info.name.removeprefix("bench_")
        if only and short not in only and info.name not in only:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        runner = getattr(module, "run", None)
        if runner is None:
            raise SystemExit(f"bench/{info.name}.py has no `async def run(ctx)`")
        found[short] = runner
    return found


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    header = ("benchmark", "figure", "value", "unit", "floor", "ratio", "goal", "verdict")
    rows = [header]
    for f in figures:
        ratio = f.ratio
        rows.append(
            (
                f.benchmark,
                f.name,
                _number(f.value),
                f.unit,
                _number(f.floor) if f.floor else "-",
                f"{ratio:.2f}" if ratio is not None else "-",
                f.goal.text(f.unit) if f.goal else "-",
                f.verdict or "-",
            )
        )
    numeric = {2, 4, 5}
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {f.benchmark} / {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def _infra() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    env_file = ROOT / ".run" / "test" / "infra.env"
    if (not url or not bootstrap) and env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "DATABASE_URL" and not url:
                url = value.strip()
            if key == "KAFKA_BOOTSTRAP_SERVERS" and not bootstrap:
                bootstrap = value.strip()
    if not url or not bootstrap:
        raise SystemExit(
            "error: needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS "
            "(`make bench` starts the test profile's servers and sets them)"
        )
    return url, bootstrap


async def run_all(benchmarks: dict[str, Benchmark], ctx: Context) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    failed: list[str] = []
    for name, runner in benchmarks.items():
        ctx.progress(f"== {name}")
        try:
            figures += await runner(ctx)
        except Exception:
            failed.append(name)
            traceback.print_exc()
            figures.append(
                Figure(name, "(failed)", None, "", note="the benchmark raised; see stderr")
            )
    return figures, failed


def write_json(figures: list[Figure], ctx: Context, started: datetime, seconds: float) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": started.isoformat(),
        "seconds": round(seconds, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": ctx.settings,
        "figures": [f.as_json() for f in figures],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. ledger")
    args = parser.parse_args()
    benchmarks = discover(args.names)
    if not benchmarks:
        raise SystemExit(f"no benchmark matches {args.names}")
    url, bootstrap = _infra()
    ctx = Context(ROOT, url, bootstrap)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    figures, failed = asyncio.run(run_all(benchmarks, ctx))
    path = write_json(figures, ctx, started, time.monotonic() - t0)
    print(table(figures), flush=True)
    print(f"\nfigures: {path.relative_to(ROOT)} (and bench/results/latest.json)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)
