"""The OpenAPI document's access control and error model: roles, 401/403/429, problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.http.problems import MEDIA_TYPE, PROBLEM_SCHEMA


def _problem_response(description: str) -> dict:
    return {"description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _guards(route: Any) -> list[Any]:
    """The ``require``/``offer_access`` dependencies of a route (its own and its routers')."""
    dependant = getattr(route, "dependant", None)
    found, stack = [], list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if hasattr(dep.call, "roles"):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def iter_routes(routes: Any) -> Any:
    """Every endpoint route of an app, through included routers (FastAPI nests them)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from iter_routes(original.routes)
        else:
            yield route


def document(schema: dict, app: FastAPI, settings: Any) -> None:
    """Add the access control and error model to an OpenAPI document, in place."""
    guards = {}
    for route in iter_routes(app.routes):
        found = guard_of(route)
        if found is not None:
            for method in getattr(route, "methods", ()):
                guards[(route.path, method.lower())] = found
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses or "requestBody" in operation or operation.get("parameters"):
                responses["422"] = _problem_response("Invalid request: names the field and what to change")
            if "requestBody" in operation:
                responses.setdefault("413", _problem_response("The body is larger than the server accepts"))
            if operation.get("parameters"):  # an unknown id, code, sector or basin in the path or query
                responses.setdefault("404", _problem_response("Unknown id or code, with suggestions where useful"))
                responses.setdefault("400", _problem_response("Parameters that do not go together"))
            for status, response in responses.items():
                if status[:1] in "45" and "content" not in response:
                    response["content"] = _problem_response("")["content"]
            if path.endswith(":ingest"):
                responses.setdefault("415", _problem_response("The body's format is not one of those accepted"))
            if method in ("post", "put") and guards.get((path, method), (None, None, None))[2]:
                responses.setdefault("409", _problem_response("A record with this id already exists"))
            guard = guards.get((path, method))
            if guard is None and not operation.get("security"):
                continue
            responses.setdefault("401", _problem_response("No API key, or an unknown or revoked one"))
            responses.setdefault("403", _problem_response("The key's role may not use this endpoint"))
            responses.setdefault("429", {**_problem_response("Rate limit of the key exceeded"),
                                         "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                                     "description": "Seconds to wait"}}})
            if guard is not None:
                roles, public, _ = guard
                operation["x-roles"] = sorted(roles)
                if public and getattr(settings, f"public_{public}", False):
                    operation["x-public"] = True
                    operation["security"] = [*operation.get("security", []), {}]


def guard_of(route: Any) -> tuple[frozenset[str], str | None, str | None] | None:
    """``(roles, public setting, audited resource)`` of a route's guard, or None for an unguarded
    route (tests, docs)."""
    guards = _guards(route)
    if not guards:
        return None
    roles = frozenset().union(*(g.roles for g in guards))
    public = next((g.public for g in guards if g.public), None)
    audit = next((g.audit for g in guards if g.audit), None)
    return roles, public, audit
