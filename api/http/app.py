"""The FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from api.http.responses import ORJSONResponse

from api.http import problems

from api.http import security
from api.http.routers import admin, basins, bridges, kits, normalise, offers, prescriptions, referentiel, seekers, \
    trainings, web
from api.settings import Settings
from api.services.state import AppState


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """Build the app. The referential and everything derived from it are loaded here, once."""
    settings = settings or Settings()
    app = FastAPI(
        title="Passerelles",
        description="Cross-sector skills matching on ROME 4.0: career bridges (passerelles), "
                    "seeker/offer matching, training gaps.",
        version="0.1.0",
        default_response_class=ORJSONResponse,
        # FastAPI's native OpenTelemetry asks the global providers on every request (~8% of the CPU
        # of a cached answer under load, issue 7); the project exports no traces: ask nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.passerelles = state or AppState.from_settings(settings)
    problems.install(app)
    # FastAPI tries the routers in this order, walking every route of each router before (twice for
    # the one that matches): the pre-registration writes, the hottest routes under 50 concurrent
    # prescribers (issue 20), come right after /health. No two routers share a path, so the order
    # changes nothing but the cost (and the order of the paths in the OpenAPI document).
    for module in (referentiel, prescriptions, normalise, web, bridges, kits, seekers, offers, admin, trainings,
                   basins):
        app.include_router(module.router)
    security.install(app, settings)  # after every router: keys, roles, rate limits, 413, audit (api/http/security/)
    # The title normaliser gains its encoder in the background (issue 21): answers cached before then
    # were lexical, so they are dropped when it is ready; the build starts now, not at the first search.
    semantic = app.state.passerelles.semantic_titles  # cheap: nothing is fitted nor built here
    semantic.on_ready(app.state.security.cache.clear)
    semantic.start()  # a thread when an encoder loaded; nothing otherwise
    # The same for the skill normaliser (its build waits on the encoder's lock behind the titles').
    skills = app.state.passerelles.semantic_skills
    skills.on_ready(app.state.security.cache.clear)
    skills.start()
    return app


def create_served_app() -> FastAPI:
    """``create_app()`` for a server process (``passerelles serve``: each worker calls it), then the
    objects built at start (referential, skill space, indexes, normalisers: some 230,000 on the
    demo) are moved out of the garbage collector's reach (``gc.freeze``). A full collection walked
    them all, 200-250 ms on the shared host, and one request in a few hundred waited for it: the
    p99 of 50 concurrent prescribers. Tests build many apps with ``create_app`` and keep the
    collector as it is."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
