"""What routers receive through ``Depends``: the app's served state."""

from __future__ import annotations

from fastapi import Request

from api.services.state import AppState


async def get_state(request: Request) -> AppState:  # async: no threadpool hop per request (issue 7)
    """The :class:`AppState` built once by ``create_app`` (``app.state.passerelles``)."""
    return request.app.state.passerelles
