"""Schemathesis against the app's own OpenAPI document: every operation, bounded examples.

Checks on every generated case: no 5xx, the status code is one the operation documents, the
content type and the body conform to the documented schema (problem+json for errors), documented
headers are present. Requests carry a key of a role allowed on the operation (x-roles), so the
fuzzer reaches the handlers and not only the 401 of the guard. The number of cases run is printed
at the end of the module (``pytest -s``) and asserted to be substantial.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.http.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Operations whose answer is a file (xlsx, zip, GraphML) or too costly to repeat: fewer examples.
SLOW = {"/kits", "/graph", "/paths", "/seekers:ingest", "/offers:ingest"}
CASES = {"total": 0, "by_status": {}}
SECONDS: Counter = Counter()


def _build():
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="passerelles-fuzz-"))
    app = create_app(Settings(referentiel="demo", database=folder / "fuzz.sqlite3",
                              rate_limit_per_minute=10_000_000, rate_limit_burst=1_000_000))
    keys = app.state.security.keys
    made = {role: keys.create(role)[0] for role in ("counsellor", "federation", "admin")}
    made["employer"] = keys.create("employer", employer="EMP-FUZZ")[0]
    return app, made


APP, KEYS = _build()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _seed_and_report():
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        counsellor = {"Authorization": f"Bearer {KEYS['counsellor']}"}
        client.post("/seekers", json={"id": "S1", "occupation": "H2102", "consent": True}, headers=counsellor)
        client.post("/offers", json={"id": "O1", "occupation": "H2102", "employer": "EMP-FUZZ"}, headers=counsellor)
    yield
    print(f"\nschemathesis: {CASES['total']} cases over {len(list(schema.get_all_operations()))} operations; "
          f"statuses {dict(sorted(CASES['by_status'].items()))}; slowest operations (s): "
          f"{[(k, round(v, 1)) for k, v in SECONDS.most_common(4)]}", file=sys.stderr)


def _key_for(case) -> str:
    roles = case.operation.definition.raw.get("x-roles") or []
    for role in ("counsellor", "federation", "admin", "employer"):
        if role in roles:
            return KEYS[role]
    return KEYS["counsellor"]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_openapi_operation(case):
    if case.operation.path in SLOW and CASES.get(case.operation.path, 0) >= 4:
        return
    CASES[case.operation.path] = CASES.get(case.operation.path, 0) + 1
    headers = {"Authorization": f"Bearer {_key_for(case)}"}
    started = time.perf_counter()
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    SECONDS[f"{case.operation.method.upper()} {case.operation.path}"] += time.perf_counter() - started
    CASES["total"] += 1
    CASES["by_status"][response.status_code] = CASES["by_status"].get(response.status_code, 0) + 1


def test_fuzzing_ran_many_cases():
    """Runs after the parametrized test (same module, file order): the fuzzer really exercised the API."""
    assert CASES["total"] >= 200, CASES
    assert not any(status >= 500 for status in CASES["by_status"]), CASES
