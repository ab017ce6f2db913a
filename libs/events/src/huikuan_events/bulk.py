"""Events by the thousand: envelopes and payloads given as columns of their models' fields,
checked and serialised by those models' own schemas, without a model instance each.

Building a pydantic instance costs several microseconds; a dunning run that emits half a
million events would spend more on instances than on everything else. Here each field of
a model is checked by that field's own compiled schema over a whole column at once (one
call per field), fields left out take the model's defaults, and each envelope is
serialised by the model's schema with its fields as a typed dict: exactly the bytes
`Envelope(..., data=payload.model_dump(mode="json")).to_bytes()` gives. A field added or
renamed in a model follows by itself. Only plain models qualify (no model validators,
computed fields or serialisers of their own): anything else is refused when first used
rather than checked or serialised differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import repeat
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic_core import CoreSchema, SchemaSerializer, SchemaValidator, core_schema

from huikuan_events.envelope import Envelope


class Columns(NamedTuple):
    """Many events of one payload model as columns: each event's subject, and for some or
    all of the model's fields one value per event (a field left out takes its default)."""

    model: type[BaseModel]
    subjects: Sequence[str]
    values: Mapping[str, Sequence[Any]]


_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class _Field:
    check: SchemaValidator  # of a list of the field's values
    default: Any  # _REQUIRED: none


def _model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], Any]:
    """The model's core schema (a plain model's) and its definitions, if any."""
    schema: Any = model.__pydantic_core_schema__
    definitions = None
    if schema["type"] == "definitions":
        definitions, schema = schema["definitions"], schema["schema"]
    fields = schema.get("schema", {})
    if (
        schema["type"] != "model"
        or fields.get("type") != "model-fields"
        or fields.get("computed_fields")
        or "serialization" in schema
    ):
        raise TypeError(f"{model.__name__} is not a plain model: no bulk path for it")
    return schema, definitions


def _with_definitions(schema: CoreSchema, definitions: Any) -> CoreSchema:
    return schema if definitions is None else core_schema.definitions_schema(schema, definitions)


@cache
def _fields(model: type[BaseModel]) -> dict[str, _Field]:
    """Each field of `model` in order: a check of a column of its values, its default."""
    schema, definitions = _model_schema(model)
    out: dict[str, _Field] = {}
    for name, f in schema["schema"]["fields"].items():
        inner, default = f["schema"], _REQUIRED
        if inner["type"] == "default":  # a default factory is not run: the column is needed
            inner, default = inner["schema"], inner.get("default", _REQUIRED)
        column = _with_definitions(core_schema.list_schema(inner), definitions)
        out[name] = _Field(SchemaValidator(column, schema.get("config")), default)
    return out


def _as_typed_dict(model: type[BaseModel]) -> CoreSchema:
    """`model`'s schema with a dict of its fields in place of an instance."""
    schema, definitions = _model_schema(model)
    typed = core_schema.typed_dict_schema(
        {
            name: core_schema.typed_dict_field(
                f["schema"],
                required=f["schema"]["type"] != "default",
                serialization_alias=f.get("serialization_alias"),
                serialization_exclude=f.get("serialization_exclude"),
            )
            for name, f in schema["schema"]["fields"].items()
        },
        config=schema.get("config"),
    )
    return _with_definitions(typed, definitions)


@cache
def _serializer(payload: type[BaseModel]) -> SchemaSerializer:
    """A serialiser of envelopes whose data is a `payload`, both as dicts."""
    envelope: Any = _as_typed_dict(Envelope)
    envelope["fields"]["data"]["schema"] = _as_typed_dict(payload)
    return SchemaSerializer(envelope)


def _check(
    model: type[BaseModel],
    columns: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any],
    elsewhere: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Fields of `model` checked by their own schemas: (those of one value for all, from
    `same` or their defaults; those given as `columns`, one value per row), each in the
    model's order. Fields in `elsewhere` are left to the caller."""
    fields = _fields(model)
    unknown = (set(columns) | set(same)) - set(fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    length = len(next(iter(columns.values()), ()))
    fixed: dict[str, Any] = {}
    varying: dict[str, list[Any]] = {}
    for name, field in fields.items():
        try:
            if name in columns:
                values = columns[name]
                if len(values) != length:
                    raise ValueError(f"{len(values)} values, not {length}")
                varying[name] = field.check.validate_python(values)
            elif name in same:
                fixed[name] = field.check.validate_python([same[name]])[0]
            elif name in elsewhere:
                continue
            elif field.default is _REQUIRED:
                raise ValueError("required, and not given")
            else:
                fixed[name] = field.default
        except ValueError as exc:  # pydantic's ValidationError too: say which field it was
            raise ValueError(f"{model.__name__}.{name}: {exc}") from exc
    return fixed, varying


def check(model: type[BaseModel], columns: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Every field of `model`, in its order, as a column checked by the field's own schema
    (one call per field; values coerced as the model would). A field left out takes its
    default; a required one left out, a field the model lacks, or a bad value raise
    `ValueError` naming the field."""
    fixed, varying = _check(model, columns, {})
    length = len(next(iter(columns.values()), ()))
    return {
        name: varying[name] if name in varying else [fixed[name]] * length
        for name in _fields(model)
    }


def envelope_bytes(
    payload: type[BaseModel],
    same: Mapping[str, Any],
    envelope: Mapping[str, Sequence[Any]],
    data: Mapping[str, Sequence[Any]],
) -> list[bytes]:
    """Many envelopes whose data is a `payload`: `same` the envelope's fields of one value
    for all, `envelope` those of one value per event (as columns, but `data`), `data` the
    payload's fields as columns. Every field is checked (as `check` does); returns each
    envelope's JSON, in order: the same bytes as `Envelope.to_bytes`."""
    fixed, varying = _check(Envelope, envelope, same, frozenset({"data"}))
    body_fixed, body_varying = _check(payload, data, {})
    length = len(next(iter(envelope.values()), ()))
    # One envelope dict and one data dict, every key in its model's order, their values
    # replaced event by event: the serialiser copies nothing out of them.
    body = {name: body_fixed.get(name) for name in _fields(payload)}
    envelope_dict = {name: fixed.get(name) for name in _fields(Envelope)}
    envelope_dict["data"] = body
    to_json = _serializer(payload).to_json
    names, body_names = list(varying), list(body_varying)
    rows = zip(*varying.values(), strict=True) if varying else repeat((), length)
    body_rows = zip(*body_varying.values(), strict=True) if body_varying else repeat((), length)
    written = []
    for row, body_row in zip(rows, body_rows, strict=True):
        envelope_dict.update(zip(names, row, strict=True))
        body.update(zip(body_names, body_row, strict=True))
        written.append(to_json(envelope_dict))
    return written
