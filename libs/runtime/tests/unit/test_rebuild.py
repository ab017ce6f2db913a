"""What a service declares for `python -m <service> rebuild`, checked before anything runs:
every service either has a projection to rebuild or says why not, carried columns name the
key they are matched by, and `rebuild` of a service without a projection answers why and
touches nothing (its settings are not even read)."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from fastapi import FastAPI

from huikuan_runtime.migrations import RUNTIME_SQL
from huikuan_runtime.rebuild import Carried, Projection, Refused
from huikuan_runtime.service import ServiceSpec, main


def _no_settings() -> NoReturn:
    raise AssertionError("the settings were read")


def _no_app(settings: Any) -> FastAPI:
    raise AssertionError("the app was made")


def _spec(**fields: Any) -> ServiceSpec:
    return ServiceSpec(
        name="svc", settings=_no_settings, app=_no_app, migrations=RUNTIME_SQL, **fields
    )


def test_a_service_has_a_projection_or_says_why_it_has_none() -> None:
    with pytest.raises(ValueError, match="or why there is none"):
        _spec()
    with pytest.raises(ValueError, match="or why there is none"):
        _spec(projection=Projection(tables=("t",)), no_projection="because")
    with pytest.raises(ValueError, match="rebuilt by the service's consumer"):
        _spec(projection=Projection(tables=("t",)))


def test_carried_columns_name_their_key_and_names_are_plain() -> None:
    with pytest.raises(ValueError, match="need the key"):
        Carried("credit_limit", columns=("manual_minor",))
    with pytest.raises(Refused, match="not a plain lower-case identifier"):
        Carried("limit; DROP TABLE x")
    projection = Projection(tables=("book",), carried=(Carried("promise"),))
    assert projection.classified() >= {
        "book",
        "promise",
        "processed_event",
        "subject_cursor",
        "event_sequence",
        "outbox_event",
        "schema_migration",
    }


def test_rebuild_of_a_service_without_a_projection_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(_spec(no_projection="it is the system of record"), ["rebuild"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "svc has nothing to rebuild: it is the system of record\n"
