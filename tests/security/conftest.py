"""Fixtures of the security tests (issue 17): an app on the demo referential with a key per role and
two employers, in-process (``env["client"]``); helpers in ``security_helpers``."""

from __future__ import annotations

import warnings

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """{client, keys: {counsellor, admin, federation, employer_a, employer_b}, app, database}."""
    database = tmp_path_factory.mktemp("db") / "p.sqlite3"
    settings = Settings(referentiel="demo", database=database, rate_limit_per_minute=10_000_000,
                        rate_limit_burst=1_000_000)
    app = create_app(settings)
    keys = app.state.security.keys
    made = {role: keys.create(role)[0] for role in ("counsellor", "federation", "admin")}
    made["employer_a"] = keys.create("employer", employer="EMP-A")[0]
    made["employer_b"] = keys.create("employer", employer="EMP-B")[0]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"client": client, "keys": made, "app": app, "database": database}
