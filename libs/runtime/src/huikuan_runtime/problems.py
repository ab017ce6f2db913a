"""RFC 9457 problem details: one exception base carrying its status and stable type."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://huikuan.dev/problems/"


class Problem(Exception):
    """An error that becomes a problem+json response. Subclasses set status, slug, title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.status,
            self.slug,
            self.title,
            self.detail,
            instance=instance,
            errors=self.errors,
            **self.extensions,
        )


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extensions)
    return body


class InvalidInput(Problem):
    status = 422
    slug = "validation"
    title = "The request is not valid"


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"
    title = "Missing or invalid credentials"


class Forbidden(Problem):
    status = 403
    slug = "forbidden"
    title = "The credential lacks the required scope"


class NotFound(Problem):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    slug = "conflict"
    title = "Conflicts with the existing resource"


class RateLimited(Problem):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class UpstreamUnavailable(Problem):
    status = 503
    slug = "upstream-unavailable"
    title = "A service this call needs is unavailable"


class UpstreamFailed(Problem):
    """A service answered this request with a server error (not 503): the request failed,
    the service is not down."""

    status = 502
    slug = "upstream-failed"
    title = "A service this call needs failed to handle it"
