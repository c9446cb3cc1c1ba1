"""Access control of the HTTP API, one module per job: roles, rate_limit, budget (work budgets and heavy
requests), audit, cache, logs (keys redacted from the access log), middleware, openapi."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from api.http.security import logs
from api.http.security.cache import CachedHit, Guard, ResponseCache
from api.http.security.context import Security
from api.http.security.middleware import SecurityMiddleware
from api.http.security.openapi import document, guard_of, iter_routes
from api.http.security.rate_limit import RateLimiter
from api.http.security.roles import (OFFER_EMPLOYER_DOC, TENSION_ROLES, admin, ambiguous_offer, kits, offer_access,
                                     offer_scope, offers, offers_create, offers_ingest, referential, referential_cached,
                                     require, scope_offer, seekers, seekers_ingest, tension, tension_access)
from api.storage.audit import AuditLog
from api.storage.keys import ANONYMOUS, ROLES, KeyError_, KeyStore, Principal

__all__ = ["TENSION_ROLES", "tension", "tension_access", "ANONYMOUS", "ROLES", "AuditLog", "CachedHit", "Guard", "KeyError_", "KeyStore", "Principal", "RateLimiter",
           "ResponseCache", "Security", "SecurityMiddleware", "admin", "document", "guard_of", "install", "iter_routes",
           "kits", "OFFER_EMPLOYER_DOC", "ambiguous_offer", "offer_access", "offer_scope", "offers", "offers_create",
           "offers_ingest",
           "referential", "referential_cached", "require", "scope_offer", "seekers", "seekers_ingest"]


def install(app: FastAPI, settings: Any) -> Security:
    """Build the app's :class:`Security`, add the middleware (413, audit), and complete the OpenAPI
    document: the ``Problem`` schema, problem+json 401/403/429 on every guarded operation (with
    its roles in ``x-roles``; anonymous access allowed where public), 413 where there is a body,
    and 422 as problem+json. Call after every router is included."""
    security = Security(settings)
    app.state.security = security
    logs.install()  # no key in uvicorn's access log, even one sent as ?api_key= (issue 17)
    app.add_middleware(SecurityMiddleware, security=security)

    @app.exception_handler(CachedHit)
    async def _serve_cached(request: Request, hit: CachedHit) -> Response:
        status, headers, body = hit.entry[:3]
        response = Response(body, status_code=status)
        response.raw_headers = [(k, v) for k, v in headers]
        return response
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            document(schema, app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return security
