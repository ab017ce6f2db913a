"""Validate the compose file (deploy/compose/compose.yaml), for `make lint`.

    python -m tools.compose_check SCHEMA

- against the Compose specification's JSON schema, `SCHEMA`: `schema/compose-spec.json` of
  the Go module github.com/compose-spec/compose-go/v2 at the version the Makefile pins
  (downloaded once into .run/tools);
- against the table of process types (`huikuan_dev.processes`): each is a compose service
  of the same name running its service's image (`huikuan-<service>`, built from
  deploy/image/Dockerfile with `SERVICE=<service>`, as the chart names it) with its mode as
  the command, a health check, a read-only root filesystem, and after its service's
  one-shot `<service>-migrate`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from huikuan_dev.processes import PROCESS_TYPES, SERVICES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy/compose/compose.yaml"
DOCKERFILE = "deploy/image/Dockerfile"


def schema_errors(compose: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    ]


def _image_of(spec: dict[str, Any], service: str) -> list[str]:
    """What is wrong with how a compose service gets `service`'s image."""
    problems = []
    if str(spec.get("image", "")).split(":")[0] != f"huikuan-{service}":
        problems.append(f"image is not huikuan-{service}")
    build = spec.get("build") or {}
    if (COMPOSE.parent / build.get("context", "")).resolve() != ROOT or build.get(
        "dockerfile"
    ) != DOCKERFILE:
        problems.append(f"not built from {DOCKERFILE} with the repository as context")
    if (build.get("args") or {}).get("SERVICE") != service:
        problems.append(f"not built with SERVICE={service}")
    return problems


def process_errors(compose: dict[str, Any]) -> list[str]:
    services: dict[str, dict[str, Any]] = compose.get("services", {})
    errors = []
    for service in SERVICES:
        name = f"{service}-migrate"
        spec = services.get(name)
        if spec is None:
            errors.append(f"{name}: missing (the one-shot migrations of {service})")
            continue
        problems = _image_of(spec, service)
        if spec.get("command") != ["migrate"]:
            problems.append("command is not [migrate]")
        if spec.get("restart") != "no":
            problems.append('a one-shot: restart must be "no"')
        errors += [f"{name}: {problem}" for problem in problems]
    for process in PROCESS_TYPES:
        spec = services.get(process.name)
        if spec is None:
            errors.append(f"{process.name}: missing (a process type the chart runs)")
            continue
        problems = _image_of(spec, process.service)
        if spec.get("command") != [process.mode]:
            problems.append(f"command is not [{process.mode}]")
        if "test" not in (spec.get("healthcheck") or {}):
            problems.append("no health check")
        if spec.get("read_only") is not True:
            problems.append("the root filesystem is not read-only")
        after = (spec.get("depends_on") or {}).get(f"{process.service}-migrate") or {}
        if after.get("condition") != "service_completed_successfully":
            problems.append(f"does not wait for {process.service}-migrate to complete")
        errors += [f"{process.name}: {problem}" for problem in problems]
    return errors


def main() -> None:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).exists():
        sys.exit("usage: python -m tools.compose_check SCHEMA (the Makefile downloads it)")
    compose = yaml.safe_load(COMPOSE.read_text())
    schema = json.loads(Path(sys.argv[1]).read_text())
    errors = schema_errors(compose, schema) + process_errors(compose)
    if errors:
        sys.exit("error: deploy/compose/compose.yaml:\n  " + "\n  ".join(errors))
    print(
        f"compose: valid ({len(compose['services'])} services, {len(PROCESS_TYPES)} process types)"
    )


if __name__ == "__main__":
    main()
