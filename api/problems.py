"""RFC 9457 problem details: every error of the API is ``application/problem+json``.

``type`` is a stable URI under ``https://passerelles.example/problems/`` (a name, not a page to
fetch); ``detail`` is a sentence a non-developer can act on; ``suggestions`` lists close matches
when a code was unknown.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from referentiels import ReferentielError

PROBLEM_BASE = "https://passerelles.example/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer a problem+json."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail, self.extra = status, kind, title, detail, extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {"type": PROBLEM_BASE + self.kind, "title": self.title, "status": self.status,
                "detail": self.detail}
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body


def problem_response(problem: Problem, request: Request | None = None, headers: dict | None = None) -> Response:
    instance = str(request.url.path) if request is not None else None
    return Response(orjson.dumps(problem.body(instance)), status_code=problem.status,
                    media_type=MEDIA_TYPE, headers=headers)


def not_found(what: str, value: str, suggestions: list[dict] | None = None, field: str | None = None) -> Problem:
    hint = ""
    if suggestions:
        hint = " Did you mean " + ", ".join(f"{s['code']} ({s['label']})" for s in suggestions[:3]) + "?"
    return Problem(404, f"unknown-{what}", f"Unknown {what}", f"No {what} has the code {value!r}.{hint}",
                   field=field, value=value, suggestions=suggestions or [])


_STATUS_KINDS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 413: "payload-too-large", 415: "unsupported-media-type",
                 429: "too-many-requests"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = _STATUS_KINDS.get(exc.status_code, f"http-{exc.status_code}")
        title = kind.replace("-", " ").capitalize()
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}. See /docs for the endpoints."
        return problem_response(Problem(exc.status_code, kind, title, detail), request,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for error in exc.errors():
            location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append({"field": ".".join(location) or None, "message": error.get("msg"),
                           "location": str(error.get("loc", ("?",))[0])})
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        return problem_response(Problem(422, "invalid-request", "Invalid request", detail,
                                        field=first["field"], errors=errors), request)

    @app.exception_handler(ReferentielError)
    async def _referentiel(request: Request, exc: ReferentielError) -> Response:
        return problem_response(Problem(422, "invalid-data", "Invalid data", exc.describe(),
                                        field=exc.column, line=exc.line, file=exc.file), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover - last resort
        return problem_response(Problem(500, "internal-error", "Internal error",
                                        "The server failed to answer this request; it has been logged."), request)
