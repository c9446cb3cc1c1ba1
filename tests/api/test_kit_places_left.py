"""A kit's sessions show the places left, not only the capacity (issue 20 hardening): the plans and
access-routes sheets carry ``places`` (the session's capacity) and ``places_left`` (capacity minus the
places held by accepted pre-registrations), the figure ``GET /trainings/{id}``, plans and access
routes give (``TrainingService.places_left``). A kit asked again after an acceptance shows it, even
though the first answer was cached. Before: only the capacity, so a kit handed to a region showed a
full session as open."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.prescription_service import PrescriptionService
from api.settings import Settings
from api.storage.keys import Principal

LHEO = Path(__file__).resolve().parent.parent / "data" / "lheo" / "valid-2.3.xml"
KIT = {"from_sector": "Industrie - Alimentaire", "to_sector": "Industrie - Métallurgie", "basin": "beauvais"}
SESSION, TRAINING, SIRET = "SE-BVS-2703", "AF-SOUD-BVS", "12345678900017"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def env(tmp_path):
    settings = Settings(referentiel="demo", database=tmp_path / "k.sqlite3", rate_limit_per_minute=1_000_000,
                        rate_limit_burst=100_000)
    app = create_app(settings)
    create = app.state.security.keys.create
    keys = {"federation": create("federation")[0], "counsellor": create("counsellor", prescriber="france-travail")[0],
            "org": create("organisation", organisation=SIRET)[0]}
    with TestClient(app) as client:
        r = client.post("/trainings:ingest", content=LHEO.read_bytes(),
                        headers={"Content-Type": "application/xml", **bearer(keys["federation"])})
        assert r.status_code == 200, r.text
        for i in range(3):
            app.state.passerelles.pool.put("seekers", {"id": f"P{i}", "occupation": "H2102", "basin": "beauvais",
                                                       "skills": [], "consent": False}, create=True)
        yield client, keys


def kit_rows(client, keys) -> tuple[list[dict], list[dict]]:
    r = client.get("/kits", params={**KIT, "format": "json"}, headers=bearer(keys["counsellor"]))
    assert r.status_code == 200, r.text
    body = r.json()
    return ([row for row in body["access_routes"] if row.get("session") == SESSION],
            [row for row in body["plans"] if row.get("session") == SESSION])


def test_a_kit_built_after_an_acceptance_shows_the_places_left_of_its_sessions(env):
    client, keys = env
    before, _ = kit_rows(client, keys)
    assert before, "the access routes of Beauvais go through the welding session SE-BVS-2703 (20 places)"
    assert all(row["places"] == 20 and row["places_left"] == 20 for row in before), before[0]
    for i in range(2):
        created = client.post("/prescriptions", json={"seeker": f"P{i}", "training": TRAINING, "session": SESSION,
                                                      "target": "H2913", "origin": "bridge"},
                              headers=bearer(keys["counsellor"]))
        assert created.status_code == 201, created.text
        moved = client.post(f"/prescriptions/{created.json()['id']}/transitions", json={"to": "accepted"},
                            headers=bearer(keys["org"]))
        assert moved.status_code == 200, moved.text
    left = {s["id"]: s["places_left"] for s in client.get(f"/trainings/{TRAINING}").json()["sessions"]}
    assert left[SESSION] == 18
    after, _ = kit_rows(client, keys)  # the first kit is in the response cache: it must not be served
    assert after and all(row["places"] == 20 and row["places_left"] == 18 for row in after), after[0]
    r = client.get("/kits", params={**KIT, "format": "xlsx"}, headers=bearer(keys["counsellor"]))
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["Voies d'accès"]
    header = [c.value for c in sheet[1]]
    assert "Capacité" in header and "Places restantes" in header
    column = header.index("Places restantes")
    values = {row[header.index("Session")]: row[column] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values[SESSION] == 18


def test_the_plans_sheet_carries_the_chosen_session_and_its_places_left(env):
    """``build_kit`` with a plan per bridge (the CLI's ``--catalogue``): each plan row names the
    session the plan chose, with its capacity and places left as ``GET /trainings/{id}`` gives them."""
    from api.services.kits.build import build_kit
    from api.services.training_service import TrainingService

    client, keys = env
    state = client.app.state.passerelles
    service = TrainingService.of(state)

    def plans():
        return build_kit(state.referentiel, state.passerelles, KIT["from_sector"], KIT["to_sector"],
                         plan_for=lambda a, b: service.occupation_gap(a, b)["plan"]).plans

    chosen = plans().filter(plans()["places"].is_not_null())
    assert chosen.height, "some plan chooses a session with known places"
    training, session, places = chosen["training"][0], chosen["session"][0], chosen["places"][0]
    owner = client.get(f"/trainings/{training}").json()
    org = Principal("k-org", "organisation", organisation=owner["siret"] or owner["organisation"])
    prescriptions = PrescriptionService.of(state)
    record, _ = prescriptions.submit(Principal("k-c", "counsellor"), {"seeker": "P0", "training": training,
                                                                      "session": session, "target": "H2913",
                                                                      "origin": "gap-plan"})
    prescriptions.transition(org, record["id"], "accepted")
    rows = plans().filter(plans()["session"] == session)
    assert rows.height and set(rows["places"].to_list()) == {places}
    assert set(rows["places_left"].to_list()) == {places - 1}
    shown = {s["id"]: s for s in client.get(f"/trainings/{training}").json()["sessions"]}[session]
    assert shown["places_left"] == places - 1
