"""Gaps, trainings and basins over HTTP on the demo referential, with a synthetic population in the store."""

from __future__ import annotations

import json

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from referentiels.synthetic import synthesize
from referentiels.territories import default_basins

PROBLEM = "application/problem+json"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def env(make_app, serve):
    app = make_app(rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    keys = {role: app.state.security.keys.create(role)[0] for role in ("counsellor", "federation", "admin")}
    state = app.state.passerelles
    basins = default_basins().filter(pl.col("id").is_in(["beauvais", "saint-quentin", "bordeaux"]))
    population = synthesize(state.referentiel, 600, 300, basins, seed=1,
                            occupations=None)
    # a clear tension: welders wanted in Beauvais, food line operators looking
    offers = pl.concat([population.offers, pl.DataFrame(
        [{"id": f"OW{i}", "employer": "E-W", "occupation": "H2913", "must": [], "desired": [],
          "basin": "beauvais", "lat": None, "lon": None, "contract": "CDI", "opening": "2026-02-01"}
         for i in range(12)], schema=population.offers.schema)])
    assert state.pool.ingest("seekers", population.seekers, mode="valid").written
    assert state.pool.ingest("offers", offers, mode="valid").written
    state.pool.put("seekers", {"id": "S-H2102", "occupation": "H2102", "basin": "beauvais", "radius_km": 40,
                               "skills": ["DS0001", "DS0017", "DS0131"], "consent": True}, create=True)
    return {"client": serve(app), "keys": keys}


def test_occupation_gap_worked_example(env):
    r = env["client"].get("/occupations/H2102/gaps/H2913")
    assert r.status_code == 200, r.text
    body = r.json()
    missing = [s["code"] for s in body["missing"]]
    assert body["missing"][0]["core"] and "DS0195" in missing[:9]
    assert [t["id"] for t in body["plan"]["trainings"]] == ["DT002", "DT003", "DT013"]
    assert body["plan"]["hours"] == 1085
    # the gap keeps the close skills (related to one held, not held), marked possibly quick to acquire;
    # the demo catalogue teaches all but those (issue 19)
    close = {s["code"] for s in body["missing"] if s.get("possibly_quick_to_acquire")}
    assert close and body["close_skills"] == len(close)
    assert all(s["close_to"]["code"] for s in body["missing"] if s["code"] in close)
    assert {s["code"] for s in body["plan"]["residual"]} <= close
    claimed = [s["code"] for t in body["plan"]["trainings"] for s in t["covers"]]
    assert sorted(claimed + [s["code"] for s in body["plan"]["residual"]]) == sorted(missing)
    near = env["client"].get("/occupations/H2102/gaps/H2913",
                             params={"basin": "beauvais", "radius": 30, "from": "2026-01-01", "to": "2026-06-30"}).json()
    assert [t["id"] for t in near["plan"]["trainings"]] == ["DT002"] and near["plan"]["residual"]
    assert near["plan"]["trainings"][0]["distance_km"] == 0.0
    exact = env["client"].get("/occupations/H2102/gaps/H2906", params={"related": False, "plan": False}).json()
    soft = env["client"].get("/occupations/H2102/gaps/H2906", params={"plan": False}).json()
    assert len(exact["missing"]) >= len(soft["missing"]) and "plan" not in soft
    assert soft["close_skills"] > 0 and exact["close_skills"] == 0


def test_unknown_codes_and_basins_are_problems(env):
    c = env["client"]
    r = c.get("/occupations/H2102/gaps/soudeur")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = c.get("/occupations/H2102/gaps/H2913", params={"basin": "beauvai"})
    assert r.status_code == 404 and "beauvais" in r.json()["detail"]
    r = c.get("/occupations/H2102/gaps/H2913", params={"lat": 49.0})
    assert r.status_code == 422 and r.json()["type"].endswith("bad-place")


def test_seeker_gap_needs_a_counsellor(env):
    c, keys = env["client"], env["keys"]
    assert c.get("/seekers/S-H2102/gaps", params={"target": "H2913"}).status_code == 401
    r = c.get("/seekers/S-H2102/gaps", params={"target": "H2913"}, headers=bearer(keys["counsellor"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"]["seeker"] == "S-H2102" and body["missing"]
    for t in body["plan"]["trainings"]:
        assert t["remote"] or t["distance_km"] <= 40
    r = c.get("/seekers/NOPE/gaps", params={"target": "H2913"}, headers=bearer(keys["counsellor"]))
    assert r.status_code == 404 and r.json()["type"].endswith("unknown-seeker")


def test_trainings_list_and_ingest(env):
    c, keys = env["client"], env["keys"]
    listed = c.get("/trainings", params={"skill": "DS0190"}).json()
    assert listed["total"] >= 2 and all("DS0190" in t["skills"] for t in listed["trainings"])
    body = json.dumps([{"id": "N1", "title": "Soudage orbital", "organisation": "Institut de Soudure",
                        "skills": ["DS0190"], "hours": 35, "basin": "beauvais", "start_dates": ["2026-03-02"]}])
    assert c.post("/trainings:ingest", content=body, headers={"content-type": "application/json"}).status_code == 401
    r = c.post("/trainings:ingest", content=body,
               headers={"content-type": "application/json", **bearer(keys["admin"])})
    assert r.status_code == 200, r.text
    assert r.json()["trainings"] == r.json()["before"] + 1
    assert c.get("/trainings", params={"q": "orbital"}).json()["total"] == 1
    bad = "id,title,organisation,skills,hours,basin\nB1,x,y,DS0190,-3,beauvais\n"
    r = c.post("/trainings:ingest", content=bad, headers={"content-type": "text/csv", **bearer(keys["admin"])})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert (problem["line"], problem["column"], problem["found"]) == (2, "hours", "-3")


def test_basins_tension_and_needs(env):
    c, keys = env["client"], env["keys"]
    basins = c.get("/basins").json()
    assert basins["count"] >= 30 and {"beauvais", "bayonne"} <= {b["id"] for b in basins["basins"]}
    assert c.get("/basins/beauvais/tension").status_code == 401
    h = bearer(keys["federation"])
    t = c.get("/basins/beauvais/tension", headers=h).json()
    welder = next(o for o in t["occupations"] if o["occupation"] == "H2913")
    assert welder["offers"] >= 12 and welder["in_tension"] and 0 < welder["tension"] < 1
    only = c.get("/basins/beauvais/tension", params={"in_tension": True}, headers=h).json()
    assert all(o["in_tension"] for o in only["occupations"])
    grid = c.get("/basins/beauvais/tension", params={"occupations": "H2913,I1304"}, headers=h).json()
    assert [o["occupation"] for o in grid["occupations"]] == ["H2913", "I1304"]
    ranked = c.get("/basins/beauvais/passerelles/H2102", params={"k": 5}, headers=h).json()["passerelles"]
    assert len(ranked) == 5 and all(p["combined"] >= q["combined"] for p, q in zip(ranked, ranked[1:]))
    neutral = c.get("/basins/beauvais/passerelles/H2102", params={"k": 5, "weight": 0}, headers=h).json()
    assert [p["score"] for p in neutral["passerelles"]] == sorted([p["score"] for p in neutral["passerelles"]],
                                                                  reverse=True)
    needs = c.get("/basins/beauvais/training-needs", headers=h).json()
    assert any(x["code"] == "H2913" for x in needs["targets"])
    assert needs["seekers_with_target"] > 0 and needs["skills"] and needs["trainings"]
    assert 0 <= needs["closable_share"] <= 1
    weights = [s["missing_weight"] for s in needs["skills"]]
    assert weights == sorted(weights, reverse=True)
    assert c.get("/basins/atlantis/training-needs", headers=h).status_code == 404


def test_seeker_passerelles_toward_tension(env):
    c, keys = env["client"], env["keys"]
    assert c.get("/seekers/S-H2102/passerelles").status_code == 401
    r = c.get("/seekers/S-H2102/passerelles", params={"k": 5}, headers=bearer(keys["counsellor"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["basin"] == "beauvais" and body["source"]["code"] == "H2102" and len(body["passerelles"]) == 5
    assert c.get("/seekers/NOPE/passerelles", headers=bearer(keys["counsellor"])).status_code == 404


def test_kits_get_plans_and_tension(env):
    from api.services.errors import UnknownBasin
    from api.services.kits.sources import kit_inputs
    from referentiels.trainings import DEMO_CATALOGUE

    state = env["client"].app.state.passerelles
    inputs = kit_inputs(state, basins=["beauvais"], catalogue=DEMO_CATALOGUE)
    assert inputs["basins"] == [{"id": "beauvais", "name": "Beauvais"}]
    plan = inputs["plan_for"]("H2102", "H2913")
    assert [t["id"] for t in plan["trainings"]] == ["DT002", "DT003", "DT013"]
    tension = inputs["tension_for"]("beauvais", ["H2913", "H2102"])
    assert tension.columns[:3] == ["basin", "basin_name", "occupation"] and tension.height == 2
    with pytest.raises(UnknownBasin, match="atlantis"):
        kit_inputs(state, basins=["atlantis"], catalogue=None)
    r = env["client"].get("/kits", params={"from_sector": "Industrie - Alimentaire",
                                           "to_sector": "Industrie - Métallurgie", "basin": "atlantis"},
                          headers=bearer(env["keys"]["federation"]))
    assert r.status_code == 404 and r.json()["type"].endswith("unknown-basin")
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "unknown job basin(s) atlantis; GET /basins lists them"
    assert (r.json()["field"], r.json()["value"]) == ("basin", "atlantis")


def test_ingested_trainings_survive_a_restart_and_enter_the_plans(tmp_path):
    """POST /trainings:ingest writes to the store: a new app on the same database serves the training."""
    database = tmp_path / "p.sqlite3"

    def app_on(db):
        app = create_app(Settings(referentiel="demo", database=db))
        return app, app.state.security.keys.create("admin")[0]

    app, admin = app_on(database)
    with TestClient(app) as c:
        gap = c.get("/occupations/H2102/gaps/H2913", params={"plan": False}).json()
        missing = [s["code"] for s in gap["missing"]]
        short = json.dumps([{"id": "N-PERSIST", "title": "Soudure et métallerie, parcours court",
                             "organisation": "AFPI Oise", "skills": missing, "hours": 70, "basin": "beauvais",
                             "start_dates": ["2026-04-06"], "cost": 900, "funder": "Région"}])
        r = c.post("/trainings:ingest", content=short, headers={"content-type": "application/json", **bearer(admin)})
        assert r.status_code == 200 and r.json()["persisted"], r.text
        bad = "id,title,organisation,skills,hours,basin\nB1,x,y,DS0190,35,beauvais\nB2,x,y,DS0190,zero,beauvais\n"
        r = c.post("/trainings:ingest", content=bad, headers={"content-type": "text/csv", **bearer(admin)})
        assert r.status_code == 422 and r.json()["line"] == 3
    app.state.passerelles.pool.store.close()

    restarted, admin = app_on(database)
    with TestClient(restarted) as c:
        assert c.get("/trainings", params={"q": "parcours court"}).json()["total"] == 1
        ids = [t["id"] for t in c.get("/trainings", params={"limit": 1000}).json()["trainings"]]
        assert "B1" not in ids, "a refused body wrote nothing"
        assert "DT002" in ids and ids[-1] == "N-PERSIST", "appended to the demo catalogue"
        plan = c.get("/occupations/H2102/gaps/H2913").json()["plan"]
        assert [t["id"] for t in plan["trainings"]] == ["N-PERSIST"] and plan["residual"] == []
        one = "id,title,organisation,skills,hours,basin\nR1,Seule formation,GRETA,DS0190,35,beauvais\n"
        r = c.post("/trainings:ingest", params={"mode": "replace"}, content=one,
                   headers={"content-type": "text/csv", **bearer(admin)})
        assert r.status_code == 200 and r.json()["trainings"] == 1
    restarted.state.passerelles.pool.store.close()

    again, _ = app_on(database)
    with TestClient(again) as c:
        assert [t["id"] for t in c.get("/trainings").json()["trainings"]] == ["R1"], "a replace survives too"


def test_a_training_ingested_by_one_worker_is_served_by_the_other(tmp_path):
    """Two apps on one database stand for `uvicorn --workers 2`: an ingest on one reaches the other
    on its next request, without a restart."""
    database = tmp_path / "p.sqlite3"
    first, second = (create_app(Settings(referentiel="demo", database=database)) for _ in range(2))
    admin = first.state.security.keys.create("admin")[0]
    with TestClient(first) as a, TestClient(second) as b:
        assert b.get("/trainings", params={"q": "entre deux workers"}).json()["total"] == 0  # b read its catalogue
        body = "id,title,organisation,skills,hours,basin\nW2,Soudure entre deux workers,GRETA,DS0190,35,beauvais\n"
        r = a.post("/trainings:ingest", content=body, headers={"content-type": "text/csv", **bearer(admin)})
        assert r.status_code == 200, r.text
        assert b.get("/trainings", params={"q": "entre deux workers"}).json()["total"] == 1
        assert a.get("/trainings", params={"q": "entre deux workers"}).json()["total"] == 1
    for app in (first, second):
        app.state.passerelles.pool.store.close()
