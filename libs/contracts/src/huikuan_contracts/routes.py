"""A public route the gateway forwards to the service that owns it, declared as data: the
public path, the service, the scope it needs and the models of its body, query and
response. Each service's table is in `huikuan_contracts.<service>.routes`; the gateway
mounts them (`gateway.api.proxy.mount`), the service implements them, and a test compares
the two sides' documents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    service: str
    scope: str
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    also: dict[int, str] | None = None  # other success statuses and what they mean
    problems: tuple[int, ...] = (404,)
    summary: str | None = None
    tags: tuple[str, ...] = ()
    upstream: str | None = None  # the service's path when it differs from the public one
    # Path parameters that are not caller ids (the default): name -> type with its constraints.
    params: Mapping[str, Any] | None = None
    timeout: float | None = None  # seconds, when the call may take longer than the default
    example: Mapping[str, Any] | None = None  # a body for the document; must validate

    def __post_init__(self) -> None:
        if self.example is not None:  # an example the body model refuses fails at import
            if self.body is None:
                raise ValueError(f"{self.method} {self.path} takes no body to give an example of")
            self.body.model_validate_json(json.dumps(self.example))
