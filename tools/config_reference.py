"""The configuration reference, `docs/configuration.md`, generated from the settings classes
(their fields, types, defaults and attribute docstrings), so it cannot drift from the code.

    python -m tools.config_reference write   # make docs
    python -m tools.config_reference check   # make lint; exit 1 when the file is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from huikuan_runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs/configuration.md"


def _services() -> list[tuple[str, type[ServiceSettings]]]:
    from credit.config import Settings as Credit
    from gateway.config import Settings as Gateway
    from ledger.config import Settings as Ledger
    from reminders.config import Settings as Reminders

    return [("ledger", Ledger), ("credit", Credit), ("reminders", Reminders), ("gateway", Gateway)]


def _alias(info: FieldInfo) -> str | None:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return alias if isinstance(alias, str) else None


def _type(info: FieldInfo) -> str:
    """The annotation as a reader writes it (`float`, `str | None`), escaped for a table."""
    written = str(info.annotation)
    text = written if "[" in written or "|" in written else info.annotation.__name__  # type: ignore[union-attr]
    for module in ("typing.", "datetime.", "pydantic.types.", "ipaddress."):
        text = text.replace(module, "")
    return text.replace("|", "\\|")


def _default(info: FieldInfo) -> str:
    value: Any = info.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        return "a development placeholder" if value.get_secret_value() else "empty"
    if value is None:
        return "unset"
    if value in ((), [], {}, ""):
        return "empty"
    return f"`{value}`"


def _meaning(info: FieldInfo) -> str:
    return " ".join((info.description or "").split()).replace("|", "\\|")


def _rows(fields: Iterator[tuple[str, str, FieldInfo]]) -> list[str]:
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [
        f"| `{var}` | {_type(info)} | {default} | {_meaning(info)} |"
        for var, default, info in fields
    ]
    return rows


def render() -> str:
    base = ServiceSettings.model_fields
    shared = [(name, info) for name, info in base.items() if _alias(info)]
    per_service = [name for name, info in base.items() if not _alias(info)]
    services = _services()
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings classes by `make docs` (`tools/config_reference.py`);",
        "`make lint` fails when it is stale. Every process of a service (API, relay, consumer,",
        "scheduler, dispatcher …) reads its service's settings once, at start, from the",
        "environment. Outside `HUIKUAN_ENV=development` the development placeholders refuse to",
        "start.",
        "",
        "## Shared by every process",
        "",
        *_rows((_alias(info) or name, _default(info), info) for name, info in shared),
        "",
        "## Every service, with its prefix",
        "",
        "Each service reads these with its own prefix (`LEDGER_`, `CREDIT_`, `REMINDERS_`,",
        "`GATEWAY_`); the default is the service's own where it differs.",
        "",
        "| variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name in per_service:
        info = base[name]
        each = [(svc, _default(cls.model_fields[name])) for svc, cls in services]
        same = len({value for _, value in each}) == 1
        defaults = each[0][1] if same else ", ".join(f"{svc} {value}" for svc, value in each)
        lines.append(
            f"| `<PREFIX>{name.upper()}` | {_type(info)} | {defaults} | {_meaning(info)} |"
        )
    for svc, cls in services:
        prefix = str(cls.model_config.get("env_prefix", ""))
        own = [(n, i) for n, i in cls.model_fields.items() if n not in base]
        lines += ["", f"## {svc} (`{prefix}`)", ""]
        if not own:
            lines.append("Nothing of its own beyond the variables above.")
            continue
        lines += _rows((f"{prefix}{n.upper()}", _default(i), i) for n, i in own)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.config_reference")
    parser.add_argument("command", choices=("check", "write"))
    args = parser.parse_args()
    text = render()
    if args.command == "write":
        REFERENCE.write_text(text)
        print(f"wrote {REFERENCE.relative_to(ROOT)}")
        return
    if not REFERENCE.exists() or REFERENCE.read_text() != text:
        print(f"stale: {REFERENCE.relative_to(ROOT)} (run `make docs`)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
