"""The recipe performer's own rules, against Docker's (moby/patternmatcher's cases), and
the build context the repository's .dockerignore sends."""

from __future__ import annotations

import pytest

from tests.packaging.recipe import DockerIgnore, RecipeError, expand
from tests.support import ROOT


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("*", "libs", True),
        ("*", "libs/runtime/x.py", True),  # a matching directory takes what is under it
        ("*.py", "libs/x.py", False),  # `*` stays within one segment
        ("**/*.py", "libs/a/b/x.py", True),
        ("**/tests", "tests/x.py", True),  # `**/` may match nothing
        ("**/tests", "services/ledger/tests/unit/x.py", True),
        ("**/tests", "services/ledger/contests/x.py", False),
        ("libs/**", "libs/a/x.py", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("/uv.lock", "uv.lock", True),  # a leading slash is dropped
        ("?v.lock", "uv.lock", True),
        ("docs/./x.md", "docs/x.md", True),  # patterns are cleaned
        ("a.b", "axb", False),  # `.` is not a wildcard
    ],
)
def test_a_pattern_matches_as_docker_matches_it(pattern: str, path: str, excluded: bool) -> None:
    assert DockerIgnore([pattern]).excluded(path) is excluded


def test_the_last_matching_pattern_wins() -> None:
    ignore = DockerIgnore(["*", "!libs", "**/tests", "# a comment", ""])
    assert ignore.excluded("README.md")
    assert not ignore.excluded("libs/runtime/x.py")
    assert ignore.excluded("libs/runtime/tests/test_x.py")


def test_the_context_holds_what_the_install_needs_and_no_tests() -> None:
    ignore = DockerIgnore.for_build(ROOT / "deploy/image/Dockerfile", ROOT)
    sent = list(ignore.files(ROOT))
    assert {path.split("/")[0] for path in sent} == {
        "pyproject.toml",
        "uv.lock",
        "libs",
        "services",
    }
    assert all(f"services/{s}/pyproject.toml" in sent for s in ("ledger", "gateway"))
    assert not [p for p in sent if "/tests/" in p or "__pycache__" in p or p.endswith(".pyc")]


def test_variables_expand_as_docker_expands_them() -> None:
    assert expand("huikuan-${SERVICE}", {"SERVICE": "ledger"}) == "huikuan-ledger"
    assert expand("$APP/venv:$UNSET", {"APP": "/app"}) == "/app/venv:"
    with pytest.raises(RecipeError):
        expand("${SERVICE:-ledger}", {})
