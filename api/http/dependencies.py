"""What routers receive through ``Depends``: the app's served state, and lists of occupation codes."""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the dependency that
# ``occupation_codes`` builds, and they name that function's arguments (its closure).
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request

from api.http.problems import Problem, not_found
from api.services.state import AppState


async def get_state(request: Request) -> AppState:  # async: no threadpool hop per request (issue 7)
    """The :class:`AppState` built once by ``create_app`` (``app.state.passerelles``)."""
    return request.app.state.passerelles


#: Most occupation codes one list parameter may name.
MAX_CODES = 200


def occupation_codes(name: str, description: str) -> Callable[..., Awaitable[list[str] | None]]:
    """A dependency for the query parameter ``name``: occupation codes separated by commas (``A,B``),
    each known to the served referential; ``None`` when absent or empty. An unknown code is a 404
    problem with suggestions naming ``name``; more than :data:`MAX_CODES` codes a 422. The bounds show
    in the OpenAPI document (``maxLength``) and in ``description``."""

    async def codes(state: Annotated[AppState, Depends(get_state)],
                    value: Annotated[str | None, Query(alias=name, max_length=MAX_CODES * 8, description=(
                        f"{description} Comma-separated, at most {MAX_CODES} codes."))] = None) -> list[str] | None:
        found = [c.strip() for c in (value or "").split(",") if c.strip()]
        if len(found) > MAX_CODES:
            raise Problem(422, "invalid-request", "Invalid request",
                          f"{name} names {len(found)} codes; at most {MAX_CODES}.", field=name)
        for code in found:
            if code not in state.referentiel.occupation_index:
                raise not_found("occupation", code, state.occupation_suggester.suggest(code), field=name)
        return found or None

    return codes
