"""docs/configuration.md is what the settings classes say (regenerate with `make docs`)."""

from __future__ import annotations

from tools.config_reference import REFERENCE, render


def test_the_configuration_reference_is_current() -> None:
    assert REFERENCE.read_text() == render(), "docs/configuration.md is stale: run make docs"


def test_every_variable_has_a_meaning() -> None:
    rows = [line for line in render().splitlines() if line.startswith("| `")]
    assert rows
    assert [row for row in rows if row.rstrip().endswith("|  |")] == []
