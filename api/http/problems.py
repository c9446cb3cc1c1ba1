"""RFC 9457 problem details: every error of the API is ``application/problem+json``.

``type`` is a stable URI under ``https://passerelles.example/problems/`` (a name, not a page to
fetch); ``detail`` is a sentence a non-developer can act on; ``suggestions`` lists close matches
when a code was unknown.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from referentiels import ReferentielError

from api.services.errors import ServiceError

PROBLEM_BASE = "https://passerelles.example/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer a problem+json."""

    def __init__(self, status: int, kind: str, title: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail, self.extra = status, kind, title, detail, extra
        self.headers = headers

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json object; every string in it bounded (:func:`bounded`), so that a problem
        never echoes a huge path, name or value back."""
        body = {"type": PROBLEM_BASE + self.kind, "title": self.title, "status": self.status,
                "detail": bounded(self.detail, MAX_DETAIL_CHARS)}
        if instance:
            body["instance"] = bounded(instance, MAX_ECHO_CHARS)
        body.update({k: bounded(v) for k, v in self.extra.items() if v is not None})
        return body


MAX_DETAIL_CHARS = 2_000
"""The longest ``detail`` a problem sends (a sentence, with a few suggestions)."""
MAX_ECHO_CHARS = 300
"""The longest other string a problem sends (``instance``, a ``value`` given, a field name...)."""


def bounded(value: Any, limit: int = MAX_ECHO_CHARS, depth: int = 0) -> Any:
    """``value`` with every string longer than ``limit`` cut to ``limit`` characters ending in "…",
    in lists and dicts too (a 404 for a 50,000-character path sent 150 KB back: red team)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit - 1] + "…"
    if depth < 4 and isinstance(value, (list, tuple)):
        return [bounded(v, limit, depth + 1) for v in value]
    if depth < 4 and isinstance(value, dict):
        return {k: bounded(v, limit, depth + 1) for k, v in value.items()}
    return value


def problem_response(problem: Problem, request: Request | None = None, headers: dict | None = None) -> Response:
    instance = str(request.url.path) if request is not None else None
    if problem.headers:
        headers = {**problem.headers, **(headers or {})}
    return Response(orjson.dumps(problem.body(instance)), status_code=problem.status,
                    media_type=MEDIA_TYPE, headers=headers)


def service_problem(error: ServiceError) -> Problem:
    """The problem+json of a service's error: its status, type, title, detail and fields."""
    return Problem(error.status, error.kind, error.title, error.detail, **error.extra)


def not_found(what: str, value: str, suggestions: list[dict] | None = None, field: str | None = None) -> Problem:
    hint = ""
    if suggestions:
        hint = " Did you mean " + ", ".join(f"{s['code']} ({s['label']})" for s in suggestions[:3]) + "?"
    return Problem(404, f"unknown-{what}", f"Unknown {what}", f"No {what} has the code {value!r}.{hint}",
                   field=field, value=value, suggestions=suggestions or [])


def unknown_record(kind: str, id: str) -> Problem:
    """404 ``unknown-{kind}`` for a seeker or offer id: the one answer for "does not exist" and, to an
    employer, for "another employer's offer" (existence itself is information)."""
    return Problem(404, f"unknown-{kind}", f"Unknown {kind}", f"No {kind} has the id {id!r}.", value=id)


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
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return problem_response(Problem(422, "invalid-request", "Invalid request",
                                            "The body could not be read: send JSON text encoded in UTF-8.",
                                            field=None), request)
        kind = _STATUS_KINDS.get(exc.status_code, f"http-{exc.status_code}")
        title = kind.replace("-", " ").capitalize()
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}. See /docs for the endpoints."
        return problem_response(Problem(exc.status_code, kind, title, detail), request,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(validation_problem(exc.errors()), request)

    from matching.normalise import InvalidText

    @app.exception_handler(InvalidText)
    async def _invalid_text(request: Request, exc: InvalidText) -> Response:
        # A free text the normaliser refuses (empty, too long, binary) that a route did not catch.
        where = "a text" if exc.index is None else f"text number {exc.index + 1}"
        return problem_response(Problem(422, "invalid-text", "Invalid text", f"{where}: {exc.message}",
                                        reason=exc.reason, index=exc.index), request)

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        # Bad input a service refused (unknown basin or seeker, unreadable data...): its own status and type.
        return problem_response(service_problem(exc), request)

    @app.exception_handler(ReferentielError)
    async def _referentiel(request: Request, exc: ReferentielError) -> Response:
        return problem_response(Problem(422, "invalid-data", "Invalid data", exc.describe(),
                                        field=exc.column, line=exc.line, file=exc.file), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:  # last resort: a bug
        # Connection: close — the server drops the connection after an unexpected error (uvicorn
        # closes it once the exception is re-raised); saying so keeps a client from sending its
        # next request on it and seeing a reset (issue 17).
        return problem_response(Problem(500, "internal-error", "Internal error",
                                        "The server failed to answer this request; it has been logged."), request,
                                headers={"Connection": "close"})


# -- validation errors a non-developer can act on ---------------------------------------------------

_LOCATIONS = {"body": "the body", "query": "the query string", "path": "the address", "header": "a header",
              "cookie": "a cookie"}


def _shown(value: Any, limit: int = 60) -> str:
    try:
        text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits, a nested too deep
        text = str(value)[:limit + 1]
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)
    text = text if len(text) <= limit else text[:limit] + "…"
    return repr(text) if isinstance(value, str) else text


#: Kinds whose sentence is "'<field>' must be <what>, not <the value given>.".
_MUST_BE: dict[str, str] = {
    **dict.fromkeys(("int_parsing", "int_type", "int_from_float"), "a whole number"),
    **dict.fromkeys(("float_parsing", "float_type", "finite_number"), "a (finite) number"),
    **dict.fromkeys(("bool_parsing", "bool_type"), "true or false"),
    **dict.fromkeys(("string_type", "string_unicode"), "text"),
    "list_type": "a list ([...])",
}
#: Bounds on a number: the words before the bound (the bound is the first value of the error's ctx).
_BOUNDS = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
           "less_than": "less than"}
#: Other kinds: (the field's name, the error's ctx, the value given) -> the sentence.
_SENTENCES: dict[str, Callable[[str, dict, Any], str]] = {
    "string_too_short": lambda name, ctx, given: f"{name} must have at least {ctx.get('min_length')} character(s).",
    "string_too_long": lambda name, ctx, given:
        f"{name} must have at most {ctx.get('max_length')} characters (it has {len(str(given))}).",
    "too_short": lambda name, ctx, given: f"{name} must have at least {ctx.get('min_length')} item(s).",
    "too_long": lambda name, ctx, given: f"{name} must have at most {ctx.get('max_length')} items.",
    **dict.fromkeys(("literal_error", "enum"), lambda name, ctx, given:
                    f"{name} must be one of {ctx.get('expected', '?')}, not {_shown(given)}."),
    "extra_forbidden": lambda name, ctx, given: f"{name} is not a known field: remove it.",
    "invalid_text": lambda name, ctx, given: f"{name} {ctx.get('reason', 'is not printable text')}.",
    "invalid_id": lambda name, ctx, given: f"{name} {ctx.get('reason', 'is not a valid id')}: {ctx.get('rule', '')}.",
    "string_pattern_mismatch": lambda name, ctx, given: f"{name} does not have the expected form ({ctx.get('pattern')}).",
}


def _message(error: dict, field: str | None) -> str:
    """One sentence naming the field, what is wrong and what is expected."""
    kind, ctx, given = error.get("type", ""), error.get("ctx") or {}, error.get("input")
    name = f"'{field}'" if field else "The value"
    if kind == "missing":
        return f"{name} is required: add it to {_LOCATIONS.get(error['location'], 'the request')}."
    if kind == "json_invalid":
        where = ctx.get("error", "")
        return f"The body is not valid JSON ({where}); check the quotes, commas and brackets." if where else \
            "The body is not valid JSON; check the quotes, commas and brackets."
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"{name if field else 'The body'} must be a JSON object ({{\"field\": value, ...}})."
    if kind in _MUST_BE:
        return f"{name} must be {_MUST_BE[kind]}, not {_shown(given)}."
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"{name} must be {_BOUNDS[kind]} {bound}, not {_shown(given)}."
    if kind in _SENTENCES:
        return _SENTENCES[kind](name, ctx, given)
    message = str(error.get("msg", "is invalid"))
    return f"{name}: {message[0].lower() + message[1:] if message else 'is invalid'}."


def validation_problem(raw_errors: Any) -> Problem:
    """FastAPI/pydantic validation errors -> one 422 problem: ``detail`` is the first error as a
    sentence that names the field; ``errors`` lists every one (``field``, ``location``, ``message``)."""
    errors = []
    for error in raw_errors:
        loc = tuple(error.get("loc", ()))
        location = str(loc[0]) if loc else "body"
        parts = [str(p) for p in loc[1:]] if loc and loc[0] in _LOCATIONS else [str(p) for p in loc]
        field = None if error.get("type") == "json_invalid" else (".".join(parts) or None)
        error = {**error, "location": location}
        errors.append({"field": field, "location": location, "message": _message(error, field),
                       "type": error.get("type")})
    first = errors[0] if errors else {"field": None, "message": "The request is invalid."}
    detail = first["message"]
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} listed in 'errors'.)"
    return Problem(422, "invalid-request", "Invalid request", detail, field=first["field"], errors=errors)


PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"},
                   "field": {"type": ["string", "null"]},
                   "suggestions": {"type": "array"}, "errors": {"type": "array", "items": {"type": "object"}}},
    "additionalProperties": True,
}
