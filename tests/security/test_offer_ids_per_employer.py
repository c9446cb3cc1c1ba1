"""Offer ids are per employer: ``(employer, id)`` is an offer's key (api/storage/store.py, docs/offers.md).

On main there was one id namespace for every employer: employer B's ``POST /offers`` of an id
employer A holds answered 409 (an enumeration oracle for competitors' ids) and B's ``PUT`` of it a
404, so two employers could not both use their own ATS reference ``REF-001``. Now, to an employer
key, another employer's id is an id it does not have: a PUT or POST creates B's own offer (201),
GET / DELETE / candidates answer exactly the 404 of a missing id (same status, body, and the same
SQL statements: the same timing class); deletions and candidate pools are per employer; the
response cache never serves A's answer to B; counsellors name the employer with ``?employer=``.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import key

OFFER = {"occupation": "H2102", "must": [], "contract": "CDI"}


@pytest.fixture(scope="module")
def ready(env):
    """A's REF-001 (H2102) and two consenting seekers, one per occupation the tests use."""
    client = env["client"]
    for seeker in ({"id": "S-food", "occupation": "H2102", "consent": True},
                   {"id": "S-metal", "occupation": "H2913", "consent": True}):
        assert client.put(f"/seekers/{seeker['id']}", json=seeker, headers=key(env, "counsellor")).status_code == 201
    created = client.put("/offers/REF-001", json={"id": "REF-001", **OFFER}, headers=key(env, "employer_a"))
    assert created.status_code == 201 and created.json()["employer"] == "EMP-A"
    return env


def _problem(response, id: str) -> tuple:
    body = response.json()
    return (response.status_code, response.headers["content-type"], body["type"], body["title"],
            body["detail"].replace(id, "X"), body.get("value", "").replace(id, "X"), sorted(body))


def test_b_puts_an_id_a_has_and_gets_its_own_new_offer(ready):
    client, env = ready["client"], ready
    a, b = key(env, "employer_a"), key(env, "employer_b")
    before = client.get("/offers/REF-001", headers=a).json()
    response = client.put("/offers/REF-001", json={"id": "REF-001", "occupation": "H2913", "contract": "CDD"},
                          headers=b)
    assert response.status_code == 201, response.text  # main: 404 (the id was A's)
    mine = response.json()
    assert mine["employer"] == "EMP-B" and mine["occupation"] == "H2913" and mine["key"] != before["key"]
    assert client.get("/offers/REF-001", headers=a).json() == before  # A's offer unchanged
    again = client.put("/offers/REF-001", json={"id": "REF-001", "occupation": "H2913", "contract": "CDI"}, headers=b)
    assert again.status_code == 200 and again.json()["key"] == mine["key"]  # B replaces its own
    assert client.get("/offers/REF-001", headers=a).json() == before
    # POST of an id another employer holds is no oracle either: B's own REF-002 is created
    assert client.post("/offers", json={"id": "REF-002", **OFFER}, headers=a).status_code == 201
    assert client.post("/offers", json={"id": "REF-002", **OFFER}, headers=b).status_code == 201  # main: 409
    assert client.post("/offers", json={"id": "REF-002", **OFFER}, headers=b).status_code == 409  # its own exists
    for employer in ("employer_a", "employer_b"):
        assert client.delete("/offers/REF-002", headers=key(env, employer)).status_code == 204


def test_another_employers_id_is_exactly_a_missing_id(ready):
    """B's GET, DELETE and candidates of A-only REF-A answer as for an id nobody has: same status,
    content type, problem type, title, detail and fields (the id aside), and the store runs the
    same SQL statements for both (the same timing class: one indexed lookup of (employer, id))."""
    client, env = ready["client"], ready
    a, b = key(env, "employer_a"), key(env, "employer_b")
    assert client.put("/offers/REF-A", json={"id": "REF-A", **OFFER}, headers=a).status_code == 201
    client.get("/offers/REF-A/candidates", headers=a)  # A's answer is in the response cache now
    store = ready["app"].state.passerelles.pool.store
    for method, path in (("GET", "/offers/{}"), ("GET", "/offers/{}/candidates?k=5"), ("DELETE", "/offers/{}")):
        answers, statements = [], []
        for offer in ("REF-A", "REF-NOBODY"):
            client.get("/referentiel", headers=b)  # the pool has synced: no catch-up in the traced request
            traced: list[str] = []
            store._db.set_trace_callback(traced.append)
            try:
                response = client.request(method, path.format(offer), headers=b)
            finally:
                store._db.set_trace_callback(None)
            answers.append(_problem(response, offer))
            statements.append([s.replace(offer, "X") for s in traced])
        assert answers[0] == answers[1], (method, path, answers)
        assert answers[0][0] == 404 and answers[0][2].endswith("/unknown-offer")
        assert statements[0] == statements[1], (method, path, statements)
    assert client.get("/offers/REF-A", headers=a).status_code == 200  # still A's, untouched


def test_candidate_pools_and_erasure_are_per_employer(ready):
    client, env = ready["client"], ready
    a, b, counsellor = key(env, "employer_a"), key(env, "employer_b"), key(env, "counsellor")
    assert client.put("/offers/POOL-1", json={"id": "POOL-1", **OFFER}, headers=a).status_code == 201
    assert client.put("/offers/POOL-1", json={"id": "POOL-1", "occupation": "H2913"}, headers=b).status_code == 201
    pool = ready["app"].state.passerelles.pool

    def best(headers, **params) -> str:
        body = client.get("/offers/POOL-1/candidates", params={"k": 1, **params}, headers=headers).json()
        return body["candidates"][0]["candidate"]["occupation"]

    assert best(a) == "H2102" and best(b) == "H2913"  # each pool is computed from the caller's own offer
    assert best(counsellor, employer="EMP-A") == "H2102" and best(counsellor, employer="EMP-B") == "H2913"
    size = len(pool.offers)
    assert client.delete("/offers/POOL-1", headers=b).status_code == 204  # B erases its own
    assert len(pool.offers) == size - 1
    assert client.get("/offers/POOL-1", headers=b).status_code == 404
    assert client.get("/offers/POOL-1", headers=a).json()["occupation"] == "H2102"  # A's kept
    assert best(a) == "H2102"
    assert client.delete("/offers/POOL-1", headers=b).status_code == 404
    assert client.delete("/offers/POOL-1", headers=a).status_code == 204


def test_counsellors_name_the_employer_when_several_hold_an_id(ready):
    client, env = ready["client"], ready
    a, b, counsellor = key(env, "employer_a"), key(env, "employer_b"), key(env, "counsellor")
    for headers in (a, b):
        assert client.put("/offers/TWO", json={"id": "TWO", **OFFER}, headers=headers).status_code == 201
    ambiguous = client.get("/offers/TWO", headers=counsellor)
    assert ambiguous.status_code == 409 and ambiguous.json()["type"].endswith("/ambiguous-offer")
    assert ambiguous.json()["employers"] == ["EMP-A", "EMP-B"]
    assert client.get("/offers/TWO/candidates", headers=counsellor).status_code == 409
    assert client.delete("/offers/TWO", headers=counsellor).status_code == 409  # nothing deleted
    assert client.get("/offers/TWO", params={"employer": "EMP-B"}, headers=counsellor).json()["employer"] == "EMP-B"
    assert client.get("/offers/TWO", params={"employer": "EMP-C"}, headers=counsellor).status_code == 404
    # a counsellor's own offer (no employer) is a third one, addressed by employer= (empty)
    assert client.put("/offers/TWO", json={"id": "TWO", **OFFER}, headers=counsellor).status_code == 201
    assert client.get("/offers/TWO", params={"employer": ""}, headers=counsellor).json()["employer"] is None
    mismatch = client.put("/offers/TWO", params={"employer": "EMP-A"}, json={"id": "TWO", "employer": "EMP-B", **OFFER},
                          headers=counsellor)
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "employer"
    # an employer key naming another employer: 403 whether or not that employer has the id
    for offer in ("TWO", "NOBODY"):
        response = client.get(f"/offers/{offer}", params={"employer": "EMP-A"}, headers=b)
        assert response.status_code == 403 and response.json()["type"].endswith("/not-your-offer")
    assert client.get("/offers/TWO", params={"employer": "EMP-B"}, headers=b).status_code == 200  # its own: fine
    for employer in ("EMP-A", "EMP-B", ""):
        assert client.delete("/offers/TWO", params={"employer": employer}, headers=counsellor).status_code == 204


def test_audit_rows_name_the_offers_employer(ready):
    client, env = ready["client"], ready
    a, b, counsellor = key(env, "employer_a"), key(env, "employer_b"), key(env, "counsellor")
    for headers in (a, b):
        assert client.put("/offers/AUD", json={"id": "AUD", **OFFER}, headers=headers).status_code == 201
    for _ in range(2):  # the second read is answered by the cache's fast lane: audited the same way
        assert client.get("/offers/AUD", params={"employer": "EMP-B"}, headers=counsellor).status_code == 200
        assert client.get("/offers/AUD", headers=a).status_code == 200
    rows = client.get("/audit", params={"resource": "offer", "resource_id": "AUD", "limit": 100},
                      headers=key(env, "admin")).json()["items"]
    reads = [(r["role"], r["resource_employer"]) for r in rows if r["action"] == "read"]
    assert reads == [("counsellor", "EMP-B"), ("employer", "EMP-A")] * 2
    writes = [(r["role"], r["resource_employer"]) for r in rows if r["action"] == "replace"]
    assert writes == [("employer", "EMP-A"), ("employer", "EMP-B")]
    only_b = client.get("/audit", params={"resource": "offer", "resource_id": "AUD", "resource_employer": "EMP-B"},
                        headers=key(env, "admin")).json()["items"]
    assert {r["resource_employer"] for r in only_b} == {"EMP-B"} and len(only_b) == 3


def test_an_employer_parameter_breaking_the_id_rule_is_a_422(ready):
    response = ready["client"].get("/offers/REF-001", params={"employer": "a/b"}, headers=key(ready, "counsellor"))
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/invalid-id") and body["field"] == "employer" and body["location"] == "query"
