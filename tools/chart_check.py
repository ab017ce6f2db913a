"""Lint, render and validate the Helm chart (deploy/helm/huikuan), for `make lint`.

    python -m tools.chart_check

`helm lint` with each values file, then `helm template` with the minimal defaults and with
the production-like values, and every rendered object validated strictly (no unknown
fields) against the Kubernetes schemas of the version named below (kubernetes-validate).
The Deployments rendered are the process types of `huikuan_dev.processes`, no more, no
fewer: each runs its service's image (`huikuan-<service>`) with its mode as the argument.
Every migration Job (a pre-install hook, which runs before the release's ConfigMap exists)
gets the same plain settings as the Deployments from a hook ConfigMap of its own: `migrate`
creates the topics, so it needs the Kafka settings too. helm is built from the Go module
proxy into .run/tools by the Makefile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from huikuan_dev.processes import PROCESS_TYPES

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy/helm/huikuan"
KUBERNETES = "1.33.0"
VALUES = {
    "minimal": [],
    "production": [CHART / "values-production.yaml"],
}


def helm() -> str:
    tool = os.environ.get("HELM") or str(ROOT / ".run/tools/bin/helm")
    if not Path(tool).exists():
        sys.exit(f"error: {tool} is missing (the Makefile builds it: make lint)")
    return tool


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])} …:\n{done.stdout}{done.stderr}")
    return done.stdout


def deployed(rendered: str) -> set[tuple[str, str, str]]:
    """(component, service, mode) of every Deployment in `rendered`."""
    found = set()
    for document in yaml.safe_load_all(rendered):
        if not document or document.get("kind") != "Deployment":
            continue
        component = document["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = document["spec"]["template"]["spec"]["containers"]
        image: str = container["image"].rsplit("/", 1)[-1].split(":")[0]
        args: list[Any] = container.get("args") or []
        found.add((component, image.removeprefix("huikuan-"), " ".join(map(str, args))))
    return found


def migration_problems(rendered: str) -> list[str]:
    """What a migration Job of `rendered` lacks: a ConfigMap rendered as a hook that runs
    before it, holding every setting of the release's own ConfigMap."""
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    maps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ConfigMap"}
    own = [d for d in maps.values() if "helm.sh/hook" not in d["metadata"].get("annotations", {})]
    problems = []
    for job in (d for d in documents if d["kind"] == "Job"):
        name = job["metadata"]["name"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
        hooks = [maps[r] for r in refs if r in maps]
        weight = int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
        if not hooks or any(
            "pre-install" not in m["metadata"].get("annotations", {}).get("helm.sh/hook", "")
            or int(m["metadata"]["annotations"].get("helm.sh/hook-weight", "0")) >= weight
            for m in hooks
        ):
            problems.append(f"{name}: no hook ConfigMap made before it")
        elif any(set(m["data"]) - set(hooks[0]["data"]) for m in own):
            problems.append(f"{name}: its ConfigMap lacks settings the processes get")
    return problems


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, files in VALUES.items():
            extra = [arg for f in files for arg in ("-f", str(f))]
            _run(helm(), "lint", "--strict", str(CHART), *extra)
            rendered = _run(helm(), "template", "huikuan", str(CHART), *extra)
            out = Path(tmp, f"{name}.yaml")
            out.write_text(rendered)
            kinds = sorted(
                {
                    line.split(":", 1)[1].strip()
                    for line in rendered.splitlines()
                    if line.startswith("kind:")
                }
            )
            _run(
                sys.executable,
                "-m",
                "kubernetes_validate",
                "--strict",
                "--quiet",
                "-k",
                KUBERNETES,
                str(out),
            )
            expected = {(p.name, p.service, p.mode) for p in PROCESS_TYPES}
            if (found := deployed(rendered)) != expected:
                sys.exit(
                    f"error: chart ({name}) Deployments differ from huikuan_dev.processes:\n"
                    f"  not deployed: {sorted(expected - found)}\n"
                    f"  not a process type: {sorted(found - expected)}"
                )
            if problems := migration_problems(rendered):
                sys.exit(f"error: chart ({name}) migrations: " + "; ".join(problems))
            count = rendered.count("\nkind:")
            print(f"chart ({name}): {count} objects valid ({', '.join(kinds)})")


if __name__ == "__main__":
    main()
