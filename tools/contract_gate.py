"""The breaking-change gate for our two public contracts: the gateway's OpenAPI document
(`docs/openapi/public.json`) and the event schemas (`docs/events/schemas.json`).

    python -m tools.contract_gate check   # make lint: exit 1 on a breaking or stale document
    python -m tools.contract_gate write   # make docs: regenerate, refusing a breaking change

The committed documents are the previous version. `check` generates both from the code and
compares them with it using oasdiff (https://www.oasdiff.com, installed from the Go module
proxy by the Makefile): a breaking change fails, and so does an additive change that was not
regenerated. `write` regenerates after the same comparison; `ALLOW_BREAKING=1 make docs`
overrides it for a deliberate change.

Regenerating (or merging a branch that did) must not hide a break either, so `check` also
walks the history since the gate began, commit by commit along the first parents: every
commit whose documents break those of the commit before it must say so in its message with
a `Breaking-Change: <why>` trailer (or be listed in `contract-acknowledged.txt`, for
commits made before the trailer was asked for).

What counts as breaking follows oasdiff's rules with the levels in `oasdiff-levels.txt`:
a removed or renamed route, field or enum value, a type change, a new required request
field. Additive changes (a new route, an optional request field, a response field, a new
enum value in a response) pass. Events are compared as what consumers read: each event type
is a response of its own in a small OpenAPI document made from the JSON Schemas.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / ".run/tools/bin/oasdiff"
OPENAPI = Path("docs/openapi/public.json")
EVENTS = Path("docs/events/schemas.json")
LEVELS = Path(__file__).with_name("oasdiff-levels.txt")
ACKNOWLEDGED = Path(__file__).with_name("contract-acknowledged.txt")
TRAILER = re.compile(r"^Breaking-Change: \S", re.MULTILINE)


def public_openapi() -> dict[str, Any]:
    """The gateway's public document, as it serves it at /v1/openapi.json."""
    from gateway.api.app import create_app
    from gateway.config import Settings

    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def event_schemas() -> dict[str, Any]:
    from huikuan_events.registry import json_schemas

    return json_schemas()


def events_as_openapi(schemas: Mapping[str, Any]) -> dict[str, Any]:
    """Each event type (and the envelope) as the response of `GET /events/{type}`, so that
    oasdiff judges a change the way a consumer of the event sees it."""
    paths = {
        f"/events/{name}": {
            "get": {
                "operationId": name.replace(".", "_"),
                "responses": {
                    "200": {
                        "description": name,
                        "content": {"application/json": {"schema": schema}},
                    }
                },
            }
        }
        for name, schema in sorted(schemas.items())
    }
    return {"openapi": "3.1.0", "info": {"title": "Huikuan events", "version": "1"}, "paths": paths}


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def oasdiff() -> str:
    tool = os.environ.get("OASDIFF") or str(TOOL)
    if not Path(tool).exists():
        sys.exit(f"error: {tool} is missing (the Makefile installs it: make lint)")
    return tool


def breaking(base: Mapping[str, Any], revision: Mapping[str, Any], what: str) -> list[str]:
    """oasdiff's breaking changes from `base` to `revision`, one line each."""
    with tempfile.TemporaryDirectory() as tmp:
        old, new = Path(tmp, f"committed-{what}.json"), Path(tmp, f"code-{what}.json")
        old.write_text(_dump(base))
        new.write_text(_dump(revision))
        done = subprocess.run(
            [
                oasdiff(),
                "breaking",
                str(old),
                str(new),
                "--severity-levels",
                str(LEVELS),
                "--fail-on",
                "ERR",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode not in (0, 1):
        sys.exit(f"error: oasdiff failed on {what}: {done.stderr.strip()}")
    found = json.loads(done.stdout or "[]")
    return [
        f"{what}: {c.get('operation', '')} {c.get('path', '')}: {c['text']} [{c['id']}]"
        for c in found
        if c.get("level", 0) >= 3
    ]


def _compare(as_events: bool, base: dict[str, Any], revision: dict[str, Any]) -> list[str]:
    if as_events:
        return breaking(events_as_openapi(base), events_as_openapi(revision), "events")
    return breaking(base, revision, "public API")


def _committed(path: Path) -> dict[str, Any] | None:
    full = ROOT / path
    if not full.exists():
        return None
    committed: dict[str, Any] = json.loads(full.read_text())
    return committed


def problems(api: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(breaking changes, stale documents) of the code against the committed documents."""
    from huikuan_events import docs

    broken: list[str] = []
    stale: list[str] = []
    api = api if api is not None else public_openapi()
    for path, current, as_events in ((OPENAPI, api, False), (EVENTS, event_schemas(), True)):
        committed = _committed(path)
        if committed is None:
            stale.append(f"{path} is missing")
        else:
            broken += _compare(as_events, committed, current)
    if (ROOT / OPENAPI).exists() and (ROOT / OPENAPI).read_text() != _dump(api):
        stale.append(f"{OPENAPI} differs from what the code generates")
    stale += [
        f"{EVENTS.parent / name} differs from the models"
        for name in docs.stale(ROOT / EVENTS.parent)
    ]
    return broken, stale


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def _at(commit: str, path: Path) -> dict[str, Any] | None:
    text = _git("show", f"{commit}:{path}")
    if not text:
        return None
    document: dict[str, Any] = json.loads(text)
    return document


def unacknowledged() -> list[str]:
    """Commits since the gate began that break a committed document without saying so."""
    first = _git("log", "--format=%H", "--diff-filter=A", "--", "tools/contract_gate.py")
    if not first.strip():
        return []  # no history here (an export, a shallow clone): nothing to walk
    since = first.split()[-1]
    acknowledged = {
        line.split()[0]
        for line in ACKNOWLEDGED.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    found: list[str] = []
    for commit in _git("rev-list", "--first-parent", f"{since}..HEAD").split():
        parent = f"{commit}^1"
        if not _git("diff", "--name-only", parent, commit, "--", str(OPENAPI), str(EVENTS)):
            continue
        if commit in acknowledged or TRAILER.search(_git("show", "-s", "--format=%B", commit)):
            continue
        for path, as_events in ((OPENAPI, False), (EVENTS, True)):
            before, after = _at(parent, path), _at(commit, path)
            if before is None or after is None:
                continue
            for line in _compare(as_events, before, after):
                found.append(f"{commit[:12]}: {line}")
    return found


def check() -> int:
    broken, stale = problems()
    history = unacknowledged()
    for line in history:
        print(f"breaking, not acknowledged (Breaking-Change: trailer): {line}", file=sys.stderr)
    for line in broken:
        print(f"breaking: {line}", file=sys.stderr)
    for line in stale:
        print(f"stale: {line} (run `make docs`)", file=sys.stderr)
    if broken:
        print(
            "error: the change above breaks a public contract; keep the old shape, add beside "
            "it, or make a new version",
            file=sys.stderr,
        )
    return 1 if broken or stale or history else 0


def write() -> int:
    from huikuan_events import docs

    api = public_openapi()  # built once: compared, then written
    broken, _ = problems(api)
    if broken and os.environ.get("ALLOW_BREAKING") != "1":
        for line in broken:
            print(f"breaking: {line}", file=sys.stderr)
        print(
            "error: nothing written: the code breaks a public contract (ALLOW_BREAKING=1 "
            "writes it anyway, for a deliberate new major version)",
            file=sys.stderr,
        )
        return 1
    (ROOT / OPENAPI).parent.mkdir(parents=True, exist_ok=True)
    (ROOT / OPENAPI).write_text(_dump(api))
    docs.main(["write", str(ROOT / EVENTS.parent)])
    print(f"wrote {OPENAPI} and {EVENTS.parent}/")
    return 0


def main() -> None:
    # The documents are the code's, not a deployment's: its development settings will do.
    os.environ.setdefault("HUIKUAN_ENV", "development")
    parser = argparse.ArgumentParser(prog="python -m tools.contract_gate")
    parser.add_argument("command", choices=("check", "write"))
    args = parser.parse_args()
    sys.exit(check() if args.command == "check" else write())


if __name__ == "__main__":
    main()
