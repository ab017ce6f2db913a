"""Turning a downstream reply into the gateway's response, unchanged."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from gateway.clients import Reply
from huikuan_runtime.logs import request_path_var
from huikuan_runtime.problems import PROBLEM_CONTENT_TYPE


def relay(reply: Reply) -> Response:
    """The downstream status and body as they are, bytes untouched; a problem keeps its
    type and detail but names the public path the caller used as its `instance`."""
    if "problem+json" in reply.content_type:
        body, path = reply.body, request_path_var.get()
        if isinstance(body, dict) and path:
            body = {**body, "instance": path}
        return JSONResponse(body, status_code=reply.status, media_type=PROBLEM_CONTENT_TYPE)
    return Response(reply.content, status_code=reply.status, media_type="application/json")
