"""``ORJSONResponse``: JSON rendered by orjson, this project's own (FastAPI's class of that name is deprecated).

FastAPI now serialises through Pydantic when a route declares a response model, and deprecates its
``fastapi.responses.ORJSONResponse``. The routes that return one of these skip both Pydantic and
``jsonable_encoder`` on purpose: their bodies are large dicts of plain values built by the core (every
explanation of a top-k), which orjson writes in one call (issue 7 measured the walk). Same rendering as
FastAPI's class: non-string keys allowed, numpy scalars and arrays serialised.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class ORJSONResponse(JSONResponse):
    """``application/json`` rendered by ``orjson.dumps`` (the app's default response class)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)
