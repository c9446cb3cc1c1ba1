"""The HTTP tests' one way to build and start an app: ``make_app``, ``serve`` and ``client``.

    def env(make_app, serve):
        app = make_app(rate_limit_per_minute=1_000_000)          # demo referential, its own database
        key = app.state.security.keys.create("counsellor")[0]    # keys made before or after the start
        client = serve(app)                                      # started now, stopped at the module's end
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings


def bearer(key: str) -> dict:
    """The ``Authorization`` header of an API key."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def make_app(tmp_path_factory):
    """``make_app(**settings)``: a new app on the demo referential (unless ``referentiel=`` says
    otherwise) with its own SQLite database (unless ``database=``)."""

    def make(**settings):
        settings = {"referentiel": "demo", "database": tmp_path_factory.mktemp("db") / "p.sqlite3", **settings}
        return create_app(Settings(**settings))

    return make


@pytest.fixture(scope="module")
def serve():
    """``serve(app, **TestClient options)``: the app's started ``TestClient`` (lifespan run), stopped at
    the end of the test module."""
    with ExitStack() as stack:
        yield lambda app, **options: stack.enter_context(TestClient(app, **options))


@pytest.fixture(scope="module")
def client(make_app, serve) -> TestClient:
    """A started client of a demo app with a fresh database, one per test module."""
    return serve(make_app())
