"""Access control on the real routes: roles, employer scoping, revocation, rate limits, audit log,
public/protected referential, body size limit (api/http/security/)."""

from __future__ import annotations

import sqlite3
import warnings

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.storage.keys import KeyStore
from api.settings import Settings

warnings.filterwarnings("ignore", category=DeprecationWarning)

PROBLEM = "application/problem+json"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def env(tmp_path_factory, make_app, serve):
    database = tmp_path_factory.mktemp("db") / "p.sqlite3"
    app = make_app(database=database, rate_limit_per_minute=1_000_000, rate_limit_burst=100_000,
                   max_body_bytes=100_000)
    keys = app.state.security.keys
    made = {role: keys.create(role)[0] for role in ("counsellor", "federation", "admin")}
    made["employer_a"] = keys.create("employer", employer="EMP-A")[0]
    made["employer_b"] = keys.create("employer", employer="EMP-B")[0]
    client = serve(app)
    seeker = {"id": "S-1", "occupation": "H2102", "skills": [], "consent": True}
    assert client.post("/seekers", json=seeker, headers=bearer(made["counsellor"])).status_code == 201
    offer = {"id": "O-A", "occupation": "H2102", "must": []}
    response = client.post("/offers", json=offer, headers=bearer(made["employer_a"]))
    assert response.status_code == 201, response.text
    yield {"client": client, "keys": made, "app": app, "database": database}


def test_no_key_is_401_problem(env):
    response = env["client"].get("/seekers/S-1")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"].endswith("/unauthorized") and "API key" in body["detail"]


def test_unknown_and_malformed_keys_are_401(env):
    client = env["client"]
    for key in ("nope", "psl_00000000_" + "A" * 43, "' OR 1=1 --", ("psl_" + "é" * 50).encode("latin-1")):
        response = client.get("/seekers/S-1", headers={"X-API-Key": key})
        assert response.status_code == 401, key


def test_both_header_forms_are_accepted(env):
    client, key = env["client"], env["keys"]["counsellor"]
    assert client.get("/seekers/S-1", headers=bearer(key)).status_code == 200
    assert client.get("/seekers/S-1", headers={"X-API-Key": key}).status_code == 200


def test_federation_key_reading_a_seeker_is_403(env):
    response = env["client"].get("/seekers/S-1", headers=bearer(env["keys"]["federation"]))
    assert response.status_code == 403
    body = response.json()
    assert body["type"].endswith("/forbidden") and "federation" in body["detail"]
    assert body["allowed_roles"] == ["counsellor"]
    # nor their matches, nor an offer's candidates, nor ingest
    client, key = env["client"], env["keys"]["federation"]
    assert client.get("/seekers/S-1/offers", headers=bearer(key)).status_code == 403
    assert client.get("/offers/O-A/candidates", headers=bearer(key)).status_code == 403
    assert client.post("/seekers:ingest", content=b"[]", headers={**bearer(key), "content-type": "application/json"}
                       ).status_code == 403


def test_employer_reading_another_employers_candidates_is_404(env):
    """Another employer's offer answers as an unknown one (issue 17, finding 8: no existence oracle)."""
    client, keys = env["client"], env["keys"]
    own = client.get("/offers/O-A/candidates", headers=bearer(keys["employer_a"]))
    assert own.status_code == 200
    assert all(c.get("seeker", c.get("id", "c-")).startswith("c-") or "S-1" not in str(c) for c in own.json()["candidates"])
    other = client.get("/offers/O-A/candidates", headers=bearer(keys["employer_b"]))
    assert other.status_code == 404
    assert other.json()["type"].endswith("/unknown-offer")


def test_employer_sees_and_changes_only_its_own_offers(env):
    client, keys = env["client"], env["keys"]
    b = bearer(keys["employer_b"])
    assert client.get("/offers/O-A", headers=b).status_code == 404
    assert client.delete("/offers/O-A", headers=b).status_code == 404
    # offer ids are per employer: B's PUT of the id A holds makes B's own offer, A's is untouched
    own = {"id": "O-A", "occupation": "H2913", "employer": "EMP-B"}
    assert client.put("/offers/O-A", json=own, headers=b).status_code == 201
    a_offer = client.get("/offers/O-A", headers=bearer(keys["employer_a"])).json()
    assert a_offer["employer"] == "EMP-A" and a_offer["occupation"] == "H2102"
    assert client.delete("/offers/O-A", headers=b).status_code == 204  # B's own, A's still there
    assert client.get("/offers/O-A", headers=bearer(keys["employer_a"])).status_code == 200
    # writing an offer in another employer's name
    forged = client.post("/offers", json={"id": "O-X", "occupation": "H2102", "employer": "EMP-A"}, headers=b)
    assert forged.status_code == 403 and forged.json()["field"] == "employer"
    # its own offer: the employer id comes from the key
    created = client.post("/offers", json={"id": "O-B", "occupation": "H2102"}, headers=b)
    assert created.status_code == 201 and created.json()["employer"] == "EMP-B"
    assert client.get("/offers/O-B", headers=b).status_code == 200
    assert client.get("/offers/O-B", headers=bearer(keys["employer_a"])).status_code == 404
    # an employer never reads seekers
    assert client.get("/seekers/S-1", headers=b).status_code == 403
    # a counsellor reads every offer
    assert client.get("/offers/O-B", headers=bearer(keys["counsellor"])).status_code == 200


def test_admin_only_endpoints(env):
    client, keys = env["client"], env["keys"]
    for role in ("counsellor", "federation", "employer_a"):
        assert client.get("/keys", headers=bearer(keys[role])).status_code == 403
        assert client.get("/audit", headers=bearer(keys[role])).status_code == 403
    assert client.get("/keys", headers=bearer(keys["admin"])).status_code == 200
    # admin manages keys, it does not read personal data
    assert client.get("/seekers/S-1", headers=bearer(keys["admin"])).status_code == 403


def test_revoked_key_is_401_at_once(env):
    client, admin = env["client"], bearer(env["keys"]["admin"])
    created = client.post("/keys", json={"role": "counsellor", "name": "temp"}, headers=admin)
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert client.get("/seekers/S-1", headers=bearer(key)).status_code == 200  # cached now
    revoked = client.delete(f"/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = client.get("/seekers/S-1", headers=bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_key_revoked_by_another_process_is_401(env):
    """``passerelles keys revoke`` writes through its own connection, as another process would: the
    server's cached key is re-read because the keys' generation (a trigger on ``api_keys``) moved."""
    from api.cli import main

    client = env["client"]
    store = KeyStore(env["database"])
    key, record = store.create("counsellor")
    assert client.get("/seekers/S-1", headers=bearer(key)).status_code == 200
    assert main(["keys", "revoke", record["id"], "--database", str(env["database"])]) == 0
    assert client.get("/seekers/S-1", headers=bearer(key)).status_code == 401
    store.close()


def test_key_changed_by_plain_sql_is_seen_and_other_writes_keep_the_cache(tmp_path):
    """The key cache is trusted while the keys' generation holds: any change to ``api_keys``, even a
    plain SQL UPDATE or DELETE by another connection (an older process, an operator), moves it
    through the triggers; a commit to another table of the same database (the audit log, the
    pre-registrations) does not, so a cached key is not read again."""
    import sqlite3

    store = KeyStore(tmp_path / "k.sqlite3")
    revoked, record = store.create("counsellor")
    deleted, other = store.create("organisation", organisation="11111111100011")
    assert store.authenticate(revoked).key_id == record["id"] and store.authenticate(deleted).key_id == other["id"]
    generation = store._version
    outside = sqlite3.connect(tmp_path / "k.sqlite3", isolation_level=None)
    outside.execute("CREATE TABLE IF NOT EXISTS elsewhere (x)")
    outside.execute("INSERT INTO elsewhere VALUES (1)")
    assert store.authenticate(revoked).key_id == record["id"] and store._version == generation
    outside.execute("UPDATE api_keys SET revoked_at = '2026-01-01' WHERE id = ?", (record["id"],))
    assert store.authenticate(revoked) is None
    outside.execute("DELETE FROM api_keys WHERE id = ?", (other["id"],))
    assert store.authenticate(deleted) is None
    outside.close()
    store.close()


def test_rate_limit_is_429_with_retry_after(env):
    client, admin = env["client"], bearer(env["keys"]["admin"])
    key = client.post("/keys", json={"role": "counsellor", "rate_per_minute": 2}, headers=admin).json()["key"]
    statuses = [client.get("/seekers/S-1", headers=bearer(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get("/seekers/S-1", headers=bearer(key))
    assert limited.status_code == 429 and limited.headers["content-type"].startswith(PROBLEM)
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    # another key is not limited by this one
    assert client.get("/seekers/S-1", headers=bearer(env["keys"]["counsellor"])).status_code == 200


def test_audit_log_records_personal_data_access_and_is_append_only(env):
    client, keys = env["client"], env["keys"]
    client.get("/seekers/S-1", headers=bearer(keys["counsellor"]))
    client.get("/seekers/S-1", headers=bearer(keys["federation"]))
    page = client.get("/audit", params={"resource": "seeker", "resource_id": "S-1", "limit": 500},
                      headers=bearer(keys["admin"])).json()
    rows = page["items"]
    assert any(r["role"] == "counsellor" and r["action"] == "read" and r["status"] == 200 for r in rows)
    assert any(r["role"] == "federation" and r["status"] == 403 for r in rows)
    created = client.get("/audit", params={"resource": "seeker", "resource_id": "S-1"}, headers=bearer(keys["admin"]))
    assert any(r["action"] == "create" and r["status"] == 201 for r in created.json()["items"])
    conn = sqlite3.connect(env["database"])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET status = 200")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    conn.close()


def test_audit_pagination_link(env):
    client, admin = env["client"], bearer(env["keys"]["admin"])
    first = client.get("/audit", params={"limit": 2}, headers=admin)
    body = first.json()
    assert len(body["items"]) == 2 and body["total"] > 2 and body["next"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(body["next"], headers=admin).json()
    assert second["offset"] == 2 and second["items"][0]["seq"] == body["items"][-1]["seq"] + 1
    bad = client.get("/audit", params={"limit": 0}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "limit"


def test_referential_is_public_by_default_and_docs_always(env):
    client = env["client"]
    for path in ("/health", "/referentiel", "/occupations/H2102", "/openapi.json", "/docs", "/"):
        assert client.get(path).status_code == 200, path
    # a revoked or unknown key is refused even where anonymous calls are accepted
    assert client.get("/referentiel", headers={"X-API-Key": "psl_00000000_" + "B" * 43}).status_code == 401


def test_referential_protected_by_setting(tmp_path):
    settings = Settings(referentiel="demo", database=tmp_path / "p.sqlite3", public_referentiel=False)
    app = create_app(settings)
    key, _ = app.state.security.keys.create("employer", employer="E")
    with TestClient(app) as client:
        for path in ("/health", "/openapi.json", "/docs", "/"):
            assert client.get(path).status_code == 200, path
        for path in ("/referentiel", "/occupations/H2102", "/occupations?q=soudeur", "/sectors"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers=bearer(key)).status_code == 200, path
        assert client.get("/kits", params={"from_sector": "a", "to_sector": "b"}, headers=bearer(key)).status_code == 403
        schema = client.get("/openapi.json").json()
        assert {} not in schema["paths"]["/referentiel"]["get"]["security"]


def test_body_size_limit_is_413(env):
    client, key = env["client"], env["keys"]["counsellor"]
    big = {"id": "S-big", "skills_text": ["x" * 1000] * 150}
    response = client.post("/seekers", json=big, headers=bearer(key))
    assert response.status_code == 413 and response.headers["content-type"].startswith(PROBLEM)
    assert "100,000 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(50):
            yield b"x" * 10_000

    streamed = client.post("/seekers", content=chunks(), headers={**bearer(key), "content-type": "application/json"})
    assert streamed.status_code == 413


def test_openapi_documents_roles_and_problems(env):
    schema = env["client"].get("/openapi.json").json()
    operation = schema["paths"]["/offers/{id}/candidates"]["get"]
    assert operation["x-roles"] == ["counsellor", "employer"]
    for status in ("401", "403", "422", "429"):
        assert operation["responses"][status]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert "413" in schema["paths"]["/seekers"]["post"]["responses"]
    assert {} in schema["paths"]["/occupations/{code}"]["get"]["security"]  # public: anonymous allowed
    assert "security" not in schema["paths"]["/health"]["get"]


def test_every_route_is_guarded_or_deliberately_public(env):
    """A router added later without a guard fails here: the public set is explicit."""
    from api.http.security import guard_of, iter_routes

    public = {"/health", "/", "/static/{name}", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    unguarded = {route.path for route in iter_routes(env["app"].routes) if guard_of(route) is None}
    assert unguarded <= public, f"routes without access control: {sorted(unguarded - public)}"


def test_response_cache_answers_the_same_bytes_after_the_guard(tmp_path):
    """Referential GETs are cached per path and query; a cached answer still needs a key when the
    referential is not public, and still counts against the rate limit."""
    settings = Settings(referentiel="demo", database=tmp_path / "p.sqlite3", public_referentiel=False)
    app = create_app(settings)
    key, _ = app.state.security.keys.create("federation", rate_per_minute=5)
    with TestClient(app) as client:
        first = client.get("/occupations/H2102/passerelles?k=3", headers=bearer(key))
        second = client.get("/occupations/H2102/passerelles?k=3", headers=bearer(key))
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert app.state.security.cache.hits == 1
        assert client.get("/occupations/H2102/passerelles?k=3").status_code == 401
        assert client.get("/occupations/H2102/passerelles?k=4", headers=bearer(key)).json() != first.json()
        statuses = [client.get("/occupations/H2102/passerelles?k=3", headers=bearer(key)).status_code for _ in range(4)]
        assert statuses[-1] == 429


def test_cached_candidates_follow_the_store_and_stay_audited(env):
    client, keys, app = env["client"], env["keys"], env["app"]
    a = bearer(keys["employer_a"])
    first = client.get("/offers/O-A/candidates?k=5", headers=a)
    misses = app.state.security.cache.misses
    again = client.get("/offers/O-A/candidates?k=5", headers=a)
    assert again.content == first.content and app.state.security.cache.misses == misses  # a hit
    # B's answer is keyed by B's employer: A's cached answer is never served to it
    assert client.get("/offers/O-A/candidates?k=5", headers=bearer(keys["employer_b"])).status_code == 404
    misses = app.state.security.cache.misses
    seeker = {"id": "S-cache", "occupation": "H2102", "consent": True}
    assert client.put("/seekers/S-cache", json=seeker, headers=bearer(keys["counsellor"])).status_code == 201
    after = client.get("/offers/O-A/candidates?k=5", headers=a)
    assert after.status_code == 200 and app.state.security.cache.misses == misses + 1  # the store moved
    rows = client.get("/audit", params={"resource": "offer", "resource_id": "O-A", "limit": 500},
                      headers=bearer(keys["admin"])).json()["items"]
    assert sum(r["path"] == "/offers/O-A/candidates" and r["key_id"] and r["status"] == 200 for r in rows) >= 3


def test_cached_answers_keep_every_check_of_the_normal_path(env):
    """The middleware answers a repeated GET from the cache before FastAPI routes it: the key, the
    role, the employer's ownership, revocation and the audit log still hold there."""
    client, keys, app = env["client"], env["keys"], env["app"]
    path = "/offers/O-A/candidates?k=3"
    first = client.get(path, headers=bearer(keys["employer_a"]))
    hits = app.state.security.cache.hits
    by_header = client.get(path, headers={"X-API-Key": keys["employer_a"]})
    assert by_header.status_code == 200 and by_header.content == first.content
    assert app.state.security.cache.hits == hits + 1
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {keys['employer_a']}"}).status_code == 401
    assert client.get(path, headers=bearer(keys["federation"])).status_code == 403
    assert client.get(path, headers=bearer(keys["employer_b"])).status_code == 404
    temp, record = app.state.security.keys.create("counsellor")
    assert client.get(path, headers=bearer(temp)).status_code == 200
    app.state.security.keys.revoke(record["id"])
    assert client.get(path, headers=bearer(temp)).status_code == 401
    rows = client.get("/audit", params={"key_id": record["id"], "limit": 500}, headers=bearer(keys["admin"])).json()
    assert [(r["path"], r["status"]) for r in rows["items"]] == [("/offers/O-A/candidates", 200)]


def test_rate_limit_is_one_budget_for_every_app_on_the_same_database(tmp_path):
    """Two workers serving one database share a key's budget: 3 requests a minute is 3 in all."""
    settings = Settings(referentiel="demo", database=tmp_path / "p.sqlite3", rate_limit_burst=300)
    first, second = create_app(settings), create_app(settings)
    key, _ = first.state.security.keys.create("federation", rate_per_minute=3)
    with TestClient(first) as a, TestClient(second) as b:
        statuses = [(a if i % 2 else b).get("/occupations/H2102/passerelles?k=2", headers=bearer(key)).status_code
                    for i in range(6)]
        assert statuses == [200, 200, 200, 429, 429, 429]
        limited = a.get("/occupations/H2102", headers=bearer(key))
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 20


TAKER = """
import sys, time
from api.http.security import RateLimiter
limiter = RateLimiter(1, 40, sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(sum(limiter.take("key:shared") == 0.0 for _ in range(100)))
"""


def test_rate_limit_holds_across_processes(tmp_path):
    """Two processes taking 100 requests each from the same key's bucket at the same time: its burst
    of 40 (and 1 a minute) is spent once in all, not once per process (80)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    path, start = tmp_path / "p.sqlite3.locks", time.time() + 1.0
    root = Path(__file__).resolve().parents[2]
    runs = [subprocess.Popen([sys.executable, "-c", TAKER, str(path), str(start)], cwd=root, text=True,
                             stdout=subprocess.PIPE) for _ in range(2)]
    taken = [int(run.communicate(timeout=60)[0]) for run in runs]
    assert sum(taken) == 40, taken
