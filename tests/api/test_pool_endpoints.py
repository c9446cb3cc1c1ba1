"""Seekers and offers over HTTP on the demo referential: CRUD, bulk ingest, matching both ways, problems.

Keys: a counsellor (seekers, matching), an employer (its offers and their candidates), an admin.
"""

from __future__ import annotations

import io

import polars as pl
import pytest

from referentiels.synthetic import synthesize
from referentiels.territories import default_basins

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def env(demo, make_app, serve):
    app = make_app(rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    keys = app.state.security.keys
    h = {role: {"Authorization": f"Bearer {keys.create(role)[0]}"} for role in ("counsellor", "admin")}
    h["employer"] = {"Authorization": f"Bearer {keys.create('employer', employer='EMP-1')[0]}"}
    population = synthesize(demo, 300, 120, default_basins().filter(pl.col("id") == "beauvais"), seed=9)
    yield {"client": serve(app), "h": h, "population": population, "demo": demo}


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_seeker_crud(env):
    client, h = env["client"], env["h"]["counsellor"]
    seeker = {"id": "crud-1", "skills": ["DS0001", "DS0002"], "occupation": "H2102", "basin": "beauvais",
              "radius_km": 25, "consent": True}
    created = client.post("/seekers", json=seeker, headers=h)
    assert created.status_code == 201 and created.json()["lat"] is not None  # the basin's coordinates
    problem(client.post("/seekers", json=seeker, headers=h), 409)
    assert client.get("/seekers/crud-1", headers=h).json()["skills"] == ["DS0001", "DS0002"]
    replaced = client.put("/seekers/crud-1", json={**seeker, "skills": ["DS0003"]}, headers=h)
    assert replaced.status_code == 200 and replaced.json()["skills"] == ["DS0003"]
    assert client.put("/seekers/crud-2", json={**seeker, "id": "crud-2"}, headers=h).status_code == 201
    body = problem(client.put("/seekers/crud-2", json=seeker, headers=h), 422)
    assert "path" in body["detail"]
    assert client.delete("/seekers/crud-1", headers=h).status_code == 204
    problem(client.get("/seekers/crud-1", headers=h), 404)
    problem(client.delete("/seekers/crud-1", headers=h), 404)


def test_unknown_codes_and_free_text(env):
    client, h = env["client"], env["h"]["counsellor"]
    body = problem(client.post("/seekers", json={"id": "x", "skills": ["NOPE"], "occupation": "H2102"}, headers=h), 422)
    assert "unknown skill code 'NOPE'" in body["detail"]
    label = env["demo"].skills.filter(pl.col("code") == "DS0001")["label"][0]
    created = client.post("/seekers", json={"id": "text-1", "skills_text": [label.lower()], "occupation": "H2102"},
                          headers=h)
    assert created.status_code == 201, created.text
    assert "DS0001" in created.json()["skills"] and created.json()["skills_text"] == [label.lower()]


def test_bulk_ingest_all_or_nothing_then_valid_rows(env):
    client, h = env["client"], env["h"]["admin"]
    csv = "id,skills,occupation,basin\nbulk-1,DS0001|DS0002,H2102,beauvais\nbulk-2,XX,H2102,beauvais\n"
    body = problem(client.post("/seekers:ingest", content=csv, headers={**h, "content-type": "text/csv"}), 422)
    assert body["type"].endswith("rejected-rows") and body["rejected"] == [
        {"line": 3, "id": "bulk-2", "reason": "unknown skill code 'XX'"}]
    problem(client.get("/seekers/bulk-1", headers=env["h"]["counsellor"]), 404)  # nothing written
    done = client.post("/seekers:ingest?mode=valid", content=csv, headers={**h, "content-type": "text/csv"})
    assert done.status_code == 200 and done.json()["taken"] == 1 and done.json()["rejected_count"] == 1
    assert client.get("/seekers/bulk-1", headers=env["h"]["counsellor"]).status_code == 200
    problem(client.post("/seekers:ingest", content=b"id\n", headers={**h, "content-type": "image/png"}), 415)
    problem(client.post("/seekers:ingest?mode=some", content=csv, headers={**h, "content-type": "text/csv"}), 422)


def test_ingest_parquet_then_match_both_ways(env):
    client, h = env["client"], env["h"]
    population = env["population"]
    for kind, frame in (("seekers", population.seekers), ("offers", population.offers)):
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        response = client.post(f"/{kind}:ingest", content=buffer.getvalue(),
                               headers={**h["admin"], "content-type": "application/vnd.apache.parquet"})
        assert response.status_code == 200 and response.json()["taken"] == frame.height, response.text
    seeker = population.seekers.filter(pl.col("consent"))["id"][0]
    body = client.get(f"/seekers/{seeker}/offers", params={"k": 5, "radius": 40}, headers=h["counsellor"]).json()
    assert body["seeker"] == seeker and 1 <= len(body["offers"]) <= 5
    first = body["offers"][0]
    assert {"offer", "score", "coverage", "must_coverage", "bridge", "distance_km", "matched", "missing"} <= set(first)
    assert first["distance_km"] <= 40 and first["bridge"]["to"]["code"] == first["offer"]["occupation"]
    scores = [o["score"] for o in body["offers"]]
    assert scores == sorted(scores, reverse=True)
    offer = population.offers["id"][0]
    body = client.get(f"/offers/{offer}/candidates", params={"k": 7}, headers=h["counsellor"]).json()
    assert 1 <= len(body["candidates"]) <= 7
    ids = set(population.seekers["id"])
    for c in body["candidates"]:
        assert c["candidate"]["pseudonym"].startswith("c-") and c["candidate"]["pseudonym"] not in ids
    problem(client.get(f"/seekers/{seeker}/offers", params={"k": 0}, headers=h["counsellor"]), 422)
    problem(client.get("/seekers/nobody/offers", headers=h["counsellor"]), 404)
    problem(client.get("/offers/nothing/candidates", headers=h["counsellor"]), 404)


def test_employer_offer_and_its_candidates(env):
    client, h = env["client"], env["h"]
    skills = [s["code"] for s in env["demo"].occupation("H2913")["skills"]][:6]
    client.post("/seekers", json={"id": "welder", "skills": skills, "occupation": "H2913", "basin": "beauvais",
                                  "radius_km": 30, "consent": True}, headers=h["counsellor"])
    offer = {"id": "emp-offer", "occupation": "H2913", "must": skills[:2], "desired": skills[2:4], "basin": "beauvais"}
    created = client.post("/offers", json=offer, headers=h["employer"])
    assert created.status_code == 201 and created.json()["employer"] == "EMP-1"
    body = client.get("/offers/emp-offer/candidates", params={"k": 3}, headers=h["employer"]).json()
    best = body["candidates"][0]
    assert best["coverage"] == 1.0 and best["bridge"]["same_occupation"] and best["missing"] == []
    assert client.put("/offers/emp-offer", json={**offer, "must": skills[:1]}, headers=h["employer"]).status_code == 200
    assert client.delete("/offers/emp-offer", headers=h["employer"]).status_code == 204
    problem(client.get("/offers/emp-offer", headers=h["counsellor"]), 404)
