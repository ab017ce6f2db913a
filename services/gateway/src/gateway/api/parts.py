"""Parts of an aggregated answer (the customer summary, an invoice with its prediction): one
downstream's answer each, `{status: ok|none|unavailable, detail, data}`, where a slow or dead
service degrades only its own part."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from gateway.clients import Downstream
from huikuan_runtime.problems import Problem

PartStatus = Literal["ok", "none", "unavailable"]


class SummaryPart(BaseModel):
    status: PartStatus
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    status: PartStatus
    json: bytes  # the part as the answer carries it


async def fetch(
    client: Downstream,
    path: str,
    tenant: str,
    timeout: float,
    *,
    missing: str | None = None,
    params: dict[str, Any] | None = None,
) -> Part:
    """One downstream's part; failure is reported in the part, not raised (`missing` is the
    detail of a 404, `none`; by default that the service has nothing on the customer). The
    service's answer is passed on as it is: it was built from the same model the document
    declares, so it is neither parsed nor validated again here."""
    try:
        reply = await client.request("GET", path, tenant, params=params, deadline=timeout)
    except Problem as exc:
        return failed("unavailable", exc.detail)
    if reply.status == 404:
        return failed("none", missing or f"{client.name} has nothing on this customer yet")
    if reply.status != 200:
        return failed("unavailable", f"{client.name} answered {reply.status}")
    return Part("ok", b'{"status":"ok","detail":null,"data":' + reply.content + b"}")


def failed(status: PartStatus, detail: str) -> Part:
    return Part(status, json.dumps({"status": status, "detail": detail, "data": None}).encode())
