"""The role matrix of the pre-registration endpoints: who may call what, an organisation never sees
another's sessions, a funder never sees a person, employers, federations and anonymous callers refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.storage.keys import KeyError_, KeyStore


@pytest.fixture
def env(prescription_env):
    with TestClient(prescription_env["app"]) as client:
        env = {**prescription_env, "client": client}
        auth, keys = env["auth"], env["keys"]
        r = client.post("/prescriptions", json={"seeker": "P1", "training": "T-SOUD", "session": "S1",
                                                "target": "H2913", "origin": "bridge", "note": "private note",
                                                "contact": {"email": "p1@example.org"}},
                        headers=auth(keys["counsellor"]))
        assert r.status_code == 201
        env["a"] = r.json()["id"]  # on org-a's session
        r = client.post("/prescriptions", json={"seeker": "P2", "training": "T-MAINT", "session": "S3",
                                                "target": "H2913", "origin": "search"}, headers=auth(keys["counsellor"]))
        env["b"] = r.json()["id"]  # on org-b's session
        yield env


def call(env, who: str | None, method: str, path: str, **kw):
    headers = env["auth"](env["keys"][who]) if who else {}
    return env["client"].request(method, path, headers=headers, **kw)


NEW = {"seeker": "P3", "training": "T-SOUD", "session": "S2", "target": "H2913", "origin": "search"}


@pytest.mark.parametrize("who, expected", [
    ("counsellor", 201), ("org-a", 403), ("funder", 403), ("employer", 403), ("federation", 403), ("admin", 403),
    (None, 401)])
def test_who_may_pre_register(env, who, expected):
    assert call(env, who, "POST", "/prescriptions", json=NEW).status_code == expected


@pytest.mark.parametrize("who, expected", [
    ("counsellor", 200), ("org-a", 200), ("org-b", 200), ("funder", 403), ("employer", 403), ("federation", 403),
    ("admin", 403), (None, 401)])
def test_who_may_list(env, who, expected):
    assert call(env, who, "GET", "/prescriptions").status_code == expected


@pytest.mark.parametrize("who, expected", [
    ("funder", 200), ("admin", 200), ("counsellor", 403), ("org-a", 403), ("employer", 403), ("federation", 403),
    (None, 401)])
def test_who_may_read_the_dashboard(env, who, expected):
    assert call(env, who, "GET", "/funders/dashboard").status_code == expected
    assert call(env, who, "GET", "/funders/dashboard?format=xlsx").status_code == expected


def test_an_organisation_sees_its_own_sessions_only(env):
    listed = call(env, "org-a", "GET", "/prescriptions").json()
    assert [p["id"] for p in listed["items"]] == [env["a"]] and listed["total"] == 1
    assert [p["id"] for p in call(env, "org-b", "GET", "/prescriptions").json()["items"]] == [env["b"]]
    # another organisation's record: 404 as if it did not exist, for reading and for answering
    for path, method, kw in ((f"/prescriptions/{env['b']}", "GET", {}),
                             (f"/prescriptions/{env['b']}/transitions", "POST", {"json": {"to": "accepted"}})):
        r = call(env, "org-a", method, path, **kw)
        assert r.status_code == 404 and r.json()["type"].endswith("/unknown-prescription")
    # filtering by another's session shows nothing either
    assert call(env, "org-a", "GET", "/prescriptions?training=T-MAINT&session=S3").json()["total"] == 0
    assert call(env, "org-a", "GET", "/prescriptions?seeker=P2").status_code == 403


def test_pseudonym_until_accepted_then_the_contact(env):
    before = call(env, "org-a", "GET", f"/prescriptions/{env['a']}").json()
    assert before["seeker"].startswith("c-") and "P1" not in str(before)
    assert "contact" not in before and "note" not in before
    after = call(env, "org-a", "POST", f"/prescriptions/{env['a']}/transitions", json={"to": "accepted"}).json()
    assert after["contact"] == {"email": "p1@example.org"} and after["seeker"] == before["seeker"]
    assert "note" not in after  # the counsellor's note stays with counsellors
    counsellor = call(env, "counsellor", "GET", f"/prescriptions/{env['a']}").json()
    assert counsellor["seeker"] == "P1" and counsellor["note"] == "private note"


def test_roles_of_each_move(env):
    # a counsellor cannot answer for the organisation, an organisation cannot withdraw the person
    r = call(env, "counsellor", "POST", f"/prescriptions/{env['a']}/transitions", json={"to": "accepted"})
    assert r.status_code == 403 and r.json()["allowed"] == ["withdrawn"]
    r = call(env, "org-a", "POST", f"/prescriptions/{env['a']}/transitions", json={"to": "withdrawn"})
    assert r.status_code == 403 and r.json()["allowed"] == ["accepted", "refused", "waitlisted"]
    for who in ("funder", "employer", "federation", "admin"):
        r = call(env, who, "POST", f"/prescriptions/{env['a']}/transitions", json={"to": "accepted"})
        assert r.status_code == 403, who
    assert call(env, None, "GET", f"/prescriptions/{env['a']}").status_code == 401


@pytest.mark.parametrize("path", ["/prescriptions/a%E2%80%AEb", "/prescriptions/" + "x" * 101])
def test_ids_follow_the_identifier_rule(env, path):
    r = call(env, "counsellor", "GET", path)
    assert r.status_code == 422 and r.json()["field"] == "id"


def test_bodies_are_checked_field_by_field(env):
    r = call(env, "counsellor", "POST", "/prescriptions", json={**NEW, "seeker": "a/b"})
    assert r.status_code == 422 and r.json()["field"] == "seeker"
    r = call(env, "counsellor", "POST", "/prescriptions", json={**NEW, "origin": "elsewhere"})
    assert r.status_code == 422
    r = call(env, "counsellor", "POST", "/prescriptions", json={**NEW, "surprise": 1})
    assert r.status_code == 422
    r = call(env, "counsellor", "GET", "/prescriptions?limit=100000")
    assert r.status_code == 422
    r = call(env, "counsellor", "GET", "/prescriptions?state=lost")
    assert r.status_code == 422 and r.json()["field"] == "state"


def test_keys_carry_prescriber_and_organisation(tmp_path):
    store = KeyStore(tmp_path / "k.sqlite3")
    _, record = store.create("counsellor", prescriber="cap-emploi")
    assert record["prescriber"] == "cap-emploi"
    for kwargs in ({"role": "counsellor", "prescriber": "pole-emploi"}, {"role": "organisation"},
                   {"role": "funder", "prescriber": "other"}, {"role": "counsellor", "organisation": "X"},
                   {"role": "organisation", "organisation": "a/b"}):
        with pytest.raises(KeyError_):
            store.create(**kwargs)
    key, _ = store.create("organisation", organisation="12345678900011")
    principal = store.authenticate(key)
    assert principal.role == "organisation" and principal.organisation == "12345678900011"


def test_an_old_keys_table_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript("""CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('counsellor', 'employer', 'federation', 'admin')), employer TEXT,
            name TEXT, rate_per_minute INTEGER, created_at TEXT NOT NULL, revoked_at TEXT,
            CHECK ((role = 'employer') = (employer IS NOT NULL)));
            INSERT INTO api_keys VALUES ('0000abcd', 'h', 'employer', 'E1', NULL, NULL, '2026-01-01', NULL);""")
    store = KeyStore(path)
    assert store.get("0000abcd")["employer"] == "E1"
    store.create("funder")
    assert store.count() == 2
