"""Turning a downstream reply into the gateway's response, unchanged."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from gateway.clients import Reply
from huikuan_runtime.logs import request_path_var
from huikuan_runtime.problems import PROBLEM_CONTENT_TYPE


def relay(reply: Reply) -> JSONResponse:
    """The downstream status and body as they are; a problem keeps its type and detail
    but names the public path the caller used as its `instance`."""
    if "problem+json" in reply.content_type and isinstance(reply.body, dict):
        path = request_path_var.get()
        body = {**reply.body, "instance": path} if path else reply.body
        return JSONResponse(body, status_code=reply.status, media_type=PROBLEM_CONTENT_TYPE)
    return JSONResponse(reply.body, status_code=reply.status)
