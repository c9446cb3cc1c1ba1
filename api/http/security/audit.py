"""What the HTTP layer writes to the audit log: the row of an audited request, the id it names."""

from __future__ import annotations

import sqlite3
import sys

from fastapi import Request

from api.http.security.context import Security
from api.storage.keys import ANONYMOUS


async def body_id(request: Request) -> str | None:
    """The ``id`` of a JSON body being created (for the audit row); FastAPI has already read and
    parsed the body, so this is the cached value."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        body = await request.json()
    except Exception:  # noqa: BLE001 - not JSON: nothing to name
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return str(value)[:200] if value is not None else None


def record(security: Security, scope: dict, state: dict, resource: str, status: int) -> None:
    """Write the audit row of an audited request (its principal, the path's ``id`` or the created
    body's, or ``audit_id`` when the handler set it; the status; ``audit_action`` when the handler
    named what it did, e.g. ``transition:accepted``; ``audit_employer``: the employer of the offer
    named, offer ids being per employer); a failed write is reported on stderr, never
    turned into the response."""
    principal = state.get("principal") or ANONYMOUS
    params = scope.get("path_params") or {}
    client = scope.get("client")
    try:
        security.audit.record(principal, resource, scope["method"], scope["path"], status,
                              resource_id=params.get("id") or state.get("audit_id"),
                              client=client[0] if client else None,
                              action=state.get("audit_action") if status < 300 else None,
                              resource_employer=state.get("audit_employer"))
    except sqlite3.Error as error:  # pragma: no cover - disk full, database locked for 30 s
        print(f"passerelles: audit log write failed: {error}", file=sys.stderr)
