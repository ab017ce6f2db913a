"""Lint, render and validate the Helm chart (deploy/helm/huikuan), for `make lint`.

    python -m tools.chart_check

`helm lint` with each values file, then `helm template` with the minimal defaults and with
the production-like values, and every rendered object validated strictly (no unknown
fields) against the Kubernetes schemas of the version named below (kubernetes-validate).
helm is built from the Go module proxy into .run/tools by the Makefile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
            count = rendered.count("\nkind:")
            print(f"chart ({name}): {count} objects valid ({', '.join(kinds)})")


if __name__ == "__main__":
    main()
