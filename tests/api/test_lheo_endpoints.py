"""POST /trainings:ingest with LHEO XML, GET /trainings/{id}, plans that choose sessions, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "lheo"
PROBLEM = "application/problem+json"
XML = {"Content-Type": "application/xml"}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _app(db: Path):
    settings = Settings(referentiel="demo", database=db, rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    return create_app(settings)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "p.sqlite3"
    app = _app(db)
    keys = {role: app.state.security.keys.create(role)[0] for role in ("counsellor", "federation", "admin")}
    with TestClient(app) as client:
        env = {"client": client, "keys": keys, "db": db}
        env["ingested"] = _ingest(env, "valid-2.3.xml")
        yield env


def _ingest(env, name: str, **params):
    return env["client"].post("/trainings:ingest", content=(DATA / name).read_bytes(), params=params,
                              headers={**XML, **bearer(env["keys"]["federation"])})


def test_ingest_lheo_then_trainings_sessions_and_evidence(env):
    c = env["client"]
    assert c.post("/trainings:ingest", content=(DATA / "valid-2.3.xml").read_bytes(), headers=XML).status_code == 401
    r = env["ingested"]
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["format"], body["received"], body["sessions"], body["rome"], body["persisted"]) == (
        "lheo", 3, 7, ["H2906", "H2913", "H2917"], True)
    t = c.get("/trainings/AF-SOUD-BVS").json()
    assert t["places"] == 20 and t["formation"] == "FOR-SOUD-01" and t["siret"] == "12345678900017"
    vias = {(e["via"], e.get("occupation") or e.get("phrase")) for e in t["evidence"]}
    assert ("rome", "H2913") in vias and ("text", "Lire un plan ou un schéma technique") in vias
    sessions = {s["id"]: s for s in t["sessions"]}
    assert sessions["SE-BVS-2703"]["places"] == 20 and sessions["SE-BVS-2703"]["state"] == "ouvert"
    assert sessions["SE-BVS-NC"]["start"] is None and sessions["SE-BVS-NC"]["state"] == "suspendu"
    stq = {s["id"]: s for s in c.get("/trainings/AF-SOUD-STQ").json()["sessions"]}
    assert stq["SE-STQ-27"]["places"] == 10 and stq["SE-STQ-27"]["capacity_set_by_organisation"]
    listed = c.get("/trainings", params={"q": "soudeur assembleur"}).json()["trainings"]
    assert {x["id"] for x in listed} >= {"AF-SOUD-BVS", "AF-SOUD-STQ"}
    assert all(isinstance(x.get("evidence"), list) for x in listed if x["id"].startswith("AF-"))
    r = c.get("/trainings/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_plan_gives_each_training_its_session(env):
    r = env["client"].get("/occupations/H2102/gaps/H2913",
                          params={"basin": "beauvais", "radius": 30, "from": "2027-01-01", "to": "2027-12-31"})
    assert r.status_code == 200, r.text
    steps = {s["id"]: s for s in r.json()["plan"]["trainings"]}
    assert "AF-SOUD-BVS" in steps
    session = steps["AF-SOUD-BVS"]["session"]
    assert session["id"] in ("SE-BVS-2703", "SE-BVS-2709") and session["start"] >= "2027-01-01"
    assert session["city"] == "Beauvais" and session["places"] == 20
    assert steps["AF-SOUD-BVS"]["next_start"] == session["start"]


def test_bad_lheo_is_a_problem_and_changes_nothing(env):
    c = env["client"]
    before = c.get("/trainings", params={"limit": 1}).json()["total"]
    r = _ingest(env, "bad-date.xml")
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["type"].endswith("invalid-catalogue")
    assert problem["column"] == "/lheo/offres/formation[1]/action[1]/session[1]/periode/debut"
    assert problem["line"] == 27 and problem["found"] == "20271301"
    for name in ("bomb.xml", "external-entity.xml", "external-dtd.xml"):
        r = _ingest(env, name)
        assert r.status_code == 422 and "refused" in r.json()["detail"], name
    r = _ingest(env, "mixed.xml")  # records=all: the first bad record refuses the body
    assert r.status_code == 422
    assert c.get("/trainings", params={"limit": 1}).json()["total"] == before
    r = _ingest(env, "mixed.xml", records="valid")
    assert r.status_code == 200, r.text
    assert r.json()["received"] == 3 and len(r.json()["left_out"]) == 6
    assert c.get("/trainings", params={"limit": 1}).json()["total"] == before + 3


def test_body_limit(env, monkeypatch):
    from api.http.routers import trainings

    monkeypatch.setattr(trainings, "MAX_CATALOGUE_BYTES", 1000)
    r = _ingest(env, "valid-2.3.xml")
    assert r.status_code == 413


def test_ingested_offer_survives_a_restart(env):
    app = _app(env["db"])
    with TestClient(app) as client:
        t = client.get("/trainings/AF-SOUD-STQ")
        assert t.status_code == 200, t.text
        assert {s["id"] for s in t.json()["sessions"]} == {"SE-STQ-27", "AF-SOUD-STQ-S2"}
        assert any(e["via"] == "text" for e in client.get("/trainings/AF-SOUD-BVS").json()["evidence"])


def test_access_routes_use_the_sessions_near_the_basin(env):
    c = env["client"]
    r = c.get("/occupations/H2913/access-routes", params={"basin": "beauvais", "k": 12})
    assert r.status_code == 200, r.text
    body = r.json()
    routes = {route["source"]["code"]: route for route in body["routes"]}
    assert len(routes) == 12 and "H2913" not in routes
    # routes that miss the welding skills are closed by a welding training of Beauvais, at its next session
    # (AF-SOUD-BVS, or the shorter ones of mixed.xml when another test ingested it first)
    stepped = [t for route in routes.values() for t in route["trainings"] if t["session"] is not None]
    assert stepped and all((t["remote"] or t["session"]["city"] == "Beauvais") and t["session"]["start"] >= "2027-01-01"
                           for t in stepped)
    assert {t["session"]["id"] for t in stepped} <= {"SE-BVS-2703", "S1a", "S3ok", "S4b", "SE-QUAL-27"}
    assert any(not t["remote"] and t["session"]["places"] for t in stepped)
    listed = body["sessions"]
    assert [s["start"] for s in listed] == sorted(s["start"] for s in listed)
    assert {s["id"] for s in listed} == {t["session"]["id"] for t in stepped}
    for s in listed:
        assert set(s["routes"]) == {code for code, route in routes.items()
                                    if any((t["session"] or {}).get("id") == s["id"] for t in route["trainings"])}
    assert all(t["id"] != "AF-SOUD-STQ" for route in routes.values() for t in route["trainings"])  # 90 km away
    assert c.get("/occupations/H2913/access-routes", params={"basin": "atlantis"}).status_code == 404
    assert c.get("/occupations/X9999/access-routes", params={"basin": "beauvais"}).status_code == 404
    assert c.get("/occupations/H2913/access-routes").status_code == 422


def test_kit_has_an_access_routes_sheet(env):
    import io

    import openpyxl

    from api.services.kits.build import build_kit
    from api.services.kits.export import render
    from api.services.training_service import TrainingService

    state = env["client"].app.state.passerelles
    service = TrainingService.of(state)
    kit = build_kit(state.referentiel, state.passerelles, "Industrie - Alimentaire", "Industrie - Métallurgie",
                    basins=[{"id": "beauvais", "name": "Beauvais"}],
                    access_for=lambda code, basin: service.access_routes(code, basin, k=5))
    routes = kit.access_routes
    assert routes.height and set(routes["basin"].to_list()) == {"beauvais"}
    hubs = kit.hubs.filter(kit.hubs["sector"] == "Industrie - Métallurgie")["occupation"].head(5).to_list()
    assert set(routes["target"].to_list()) == set(hubs)
    assert (routes["source"] != routes["target"]).all()
    sessions = routes.filter(routes["session"].is_not_null())
    assert sessions.height == 0 or (sessions["city"] == "Beauvais").all()
    book = openpyxl.load_workbook(io.BytesIO(render(kit, "xlsx")))
    sheet = book["Voies d'accès"]
    assert [c.value for c in sheet[1]][:3] == ["Bassin (id)", "Bassin", "Code cible"]
    assert sheet.max_row == routes.height + 1


@pytest.mark.parametrize("batch_actions", [1, 1000])
def test_stored_only_and_served_ingests_agree(tmp_path, batch_actions):
    """The ingest spools each batch (records and catalogue frames) and reads the catalogue back in
    one piece: it serves what one read of the file gives; without ``serve`` (the CLI) it only
    stores, says the same counts, and a process reading the store serves the same trainings."""
    import polars as pl

    from api.services.state import AppState
    from api.services.training_service import LheoImport, TrainingService

    def service(db):
        s = TrainingService.of(AppState.from_settings(Settings(referentiel="demo", database=db)))
        s.lheo_batch_actions = batch_actions
        return s

    served, stored = service(tmp_path / "a.sqlite3"), service(tmp_path / "b.sqlite3")
    a = served.ingest(DATA / "valid-2.3.xml", fmt="lheo", records="valid")
    b = stored.ingest(DATA / "valid-2.3.xml", fmt="lheo", records="valid", serve=False)
    assert a == b and a["received"] > 1 and a["trainings"] == a["before"] + a["received"]
    run = LheoImport(DATA / "valid-2.3.xml", served.referentiel, served._skill_normaliser())
    for _ in run.batches():
        pass
    one = run.catalogue()
    assert len(one) == a["received"]
    ids = pl.col("id").is_in(one.frame["id"].implode())
    mine = served.catalogue  # served without the large texts: the store keeps them
    lean = one.without_texts()
    assert mine.texts_stored and mine.offer.columns == ["id"] and mine.frame.filter(ids)["evidence"].is_null().all()
    assert mine.frame.filter(ids).equals(lean.frame) and mine.offer.equals(lean.offer)
    whole = served.full_catalogue()  # read back from the store: what the import gave
    assert whole.frame.filter(ids).equals(one.frame) and whole.offer.equals(one.offer)
    assert mine.sessions.filter(pl.col("training").is_in(one.frame["id"].implode())).equals(one.sessions)
    assert (mine.teaches[np.flatnonzero(mine.frame.select(ids).to_series().to_numpy())] != one.teaches).nnz == 0
    again = service(tmp_path / "b.sqlite3").catalogue  # a new process on the stored-only database
    assert again.frame["id"].to_list() == mine.frame["id"].to_list()
    assert again.sessions.height == mine.sessions.height


def test_a_training_shows_what_a_counsellor_reads_and_keeps_it_after_a_restart(tmp_path):
    """GET /trainings/{id}: the LHEO web addresses, trainer organisation, hours in centre and in
    company, hourly price, indicative duration, access, recruitment scope, further places, and each
    session's registration period and terms; the same after a restart (read back from the store)."""
    db = tmp_path / "p.sqlite3"
    app = _app(db)
    key = app.state.security.keys.create("federation")[0]
    with TestClient(app) as c:
        r = c.post("/trainings:ingest", content=(DATA / "counsellor-2.3.xml").read_bytes(),
                   headers={**XML, **bearer(key)})
        assert r.status_code == 200, r.text
        first = c.get("/trainings/AF-MAINT-CRL").json()
    with TestClient(_app(db)) as c:
        again = c.get("/trainings/AF-MAINT-CRL").json()
    for t in (first, again):
        lheo = t["lheo"]
        assert lheo["urls"] == ["https://formation.example.org/maintenance/creil", "www.example.org/creil",
                                "https://formation.example.org/maintenance"]
        assert lheo["trainer"] == {"siret": "98765432100017", "name": "Atelier école de l'Oise"}
        assert (lheo["hours_centre"], lheo["hours_company"], lheo["hourly_price"]) == (690, 210, 12.5)
        assert lheo["recruitment_scope"] == {"code": "3", "label": "Région"}
        assert lheo["indicative_duration"] == "8 mois" and lheo["disabled_access"].startswith("Locaux")
        assert [p["city"] for p in lheo["other_places"]] == ["Nogent-sur-Oise"]
        sessions = {s["id"]: s for s in t["sessions"]}
        assert sessions["SE-MAINT-2703"]["registration"] == {
            "from": "2027-01-05", "from_precision": "day", "to": "2027-03-31", "to_precision": "month",
            "terms": "Information collective puis entretien individuel & tests de positionnement"}
        assert sessions["SE-MAINT-2709"]["registration"]["from"] is None
    assert first == again


def test_a_training_after_ingests_that_replace_and_extend_the_catalogue(tmp_path):
    """GET /trainings/{id} reads the rows of the catalogue served now (an index built when it is
    served, not on each call): after ``mode=replace`` the old trainings are gone and the new ones
    show their sessions as the whole session table sorts them (start, unknown last, then id); an
    append brings the old ones back with the same sessions."""
    from api.services.training_service import TrainingService, offer_dict, session_dict

    app = _app(tmp_path / "p.sqlite3")
    key = app.state.security.keys.create("federation")[0]

    def ingest(name: str, mode: str):
        r = c.post("/trainings:ingest", content=(DATA / name).read_bytes(), params={"mode": mode},
                   headers={**XML, **bearer(key)})
        assert r.status_code == 200, r.text

    def expected(training_id: str) -> list[dict]:  # the definition: the training's rows of the session frame
        catalogue = TrainingService.of(app.state.passerelles).catalogue
        s = catalogue.session_frame().filter(pl.col("training") == training_id)
        return [session_dict(row) for row in s.to_dicts()]

    def expected_offer(training_id: str) -> dict:
        offer = TrainingService.of(app.state.passerelles).full_catalogue().offer.filter(pl.col("id") == training_id)
        return offer_dict(offer.row(0, named=True))

    with TestClient(app) as c:
        ingest("valid-2.3.xml", "append")
        first = c.get("/trainings/AF-SOUD-BVS").json()
        assert [s["id"] for s in first["sessions"]][-1] == "SE-BVS-NC"  # the unknown start last
        assert first["sessions"] == expected("AF-SOUD-BVS")
        ingest("counsellor-2.3.xml", "replace")
        assert c.get("/trainings/AF-SOUD-BVS").status_code == 404
        maint_body = c.get("/trainings/AF-MAINT-CRL").json()
        assert maint_body["lheo"] == expected_offer("AF-MAINT-CRL")
        maint = maint_body["sessions"]
        assert maint == expected("AF-MAINT-CRL") and len(maint) >= 2
        assert [s["start"] for s in maint] == sorted(s["start"] for s in maint)
        ingest("valid-2.3.xml", "append")
        assert c.get("/trainings/AF-SOUD-BVS").json() == first and first["lheo"] == expected_offer("AF-SOUD-BVS")
        assert c.get("/trainings/AF-MAINT-CRL").json()["sessions"] == maint


def test_responses_of_a_served_ingest_a_restart_and_the_whole_offer_in_memory_agree(tmp_path):
    """The served catalogue of an ingest (and of a restart on its store) reads the large texts of
    its LHEO trainings (evidence, the action as read) from the store when asked: each training's
    page, the list, a plan, access routes and the LHEO export are the same JSON as when the whole
    offer is held in memory (the catalogue ``read_offer`` gives, served as it is)."""
    import io

    from api.services.training_service import TrainingService

    db = tmp_path / "p.sqlite3"
    app = _app(db)
    key = app.state.security.keys.create("federation")[0]
    urls = ["/trainings?limit=100", "/trainings?q=soudeur", "/trainings?skill=H2913&limit=3",
            "/occupations/H2102/gaps/H2913?basin=beauvais&radius=30&from=2027-01-01&to=2027-12-31",
            "/occupations/H2913/access-routes?basin=beauvais&k=12"]

    def answers(c) -> dict:
        ids = [t["id"] for t in c.get("/trainings", params={"limit": 100}).json()["trainings"]]
        out = {u: c.get(u).json() for u in urls + [f"/trainings/{i}" for i in ids]}
        buffer = io.BytesIO()
        TrainingService.of(c.app.state.passerelles).export_lheo(buffer)
        out["export"] = buffer.getvalue()
        return out

    with TestClient(app) as c:
        for name in ("valid-2.3.xml", "counsellor-2.3.xml"):
            assert c.post("/trainings:ingest", content=(DATA / name).read_bytes(),
                          headers={**XML, **bearer(key)}).status_code == 200
        served = answers(c)
        service = TrainingService.of(app.state.passerelles)
        whole = service._default()
        for name in ("valid-2.3.xml", "counsellor-2.3.xml"):
            whole = whole.extend(service.read_offer(DATA / name)[0])
        with service._lock:
            service._from_store = False
            service._set(whole)
        assert whole.offer is not None and "objective" in whole.offer.columns
        in_memory = answers(c)
    with TestClient(_app(db)) as c:
        restarted = answers(c)
    assert len(served) > 10 and any(t.get("lheo") for t in served.values() if isinstance(t, dict))
    for url in served:
        assert served[url] == in_memory[url] == restarted[url], url
