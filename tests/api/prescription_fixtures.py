"""A small known catalogue with sessions, and an app with keys of every role, for the pre-registration tests."""

from __future__ import annotations

from datetime import date

import polars as pl

from api.http.app import create_app
from api.services.training_service import TrainingService
from api.settings import Settings
from referentiels.trainings import SESSION_SCHEMA, from_frame

#: (training, SIRET, organisation name, basin, financed places, [(session, own capacity or None, state)])
TRAININGS = [
    ("T-SOUD", "11111111100011", "Forge Formation", "beauvais", 8, [("S1", 2, "ouvert"), ("S2", None, "ouvert")]),
    ("T-MAINT", "22222222200022", "Atelier Maintenance", "saint-quentin", 3, [("S3", None, "ouvert"),
                                                                           ("S4", 1, "fermé")]),
]
ORG_A, ORG_B = "11111111100011", "22222222200022"


def catalogue(referentiel):
    skill = referentiel.skills["code"][0]
    frame = pl.DataFrame([{"id": t, "title": f"Formation {t}", "organisation": name, "skills": [skill], "hours": 400.0,
                           "basin": basin, "lat": None, "lon": None, "remote": False, "start_dates": [],
                           "cost": None, "funder": "Région", "formacode": None, "occupations": ["H2913"],
                           "siret": siret, "places": places}
                          for t, siret, name, basin, places, _ in TRAININGS])
    sessions = pl.DataFrame([{"id": s, "training": t, "start": date(2027, 3, 1), "start_precision": "day",
                              "end": date(2027, 9, 1), "end_precision": "day", "state": state,
                              "registration_lines": [], "registration_postcode": None, "registration_city": None,
                              "capacity": cap}
                             for t, _, _, _, _, ss in TRAININGS for s, cap, state in ss], schema=SESSION_SCHEMA)
    return from_frame(frame, referentiel, source="test", sessions=sessions)


def make_app(database):
    settings = Settings(referentiel="demo", database=database, rate_limit_per_minute=1_000_000,
                        rate_limit_burst=100_000)
    app = create_app(settings)
    state = app.state.passerelles
    service = TrainingService.of(state)
    with service._lock:
        service._from_store = False  # serve exactly this catalogue
        service._set(catalogue(state.referentiel))
    create = app.state.security.keys.create
    keys = {
        "counsellor": create("counsellor", prescriber="france-travail")[0],
        "counsellor-ml": create("counsellor", prescriber="mission-locale")[0],
        "org-a": create("organisation", organisation=ORG_A)[0],
        "org-b": create("organisation", organisation=ORG_B)[0],
        "funder": create("funder", name="Région")[0],
        "admin": create("admin")[0],
        "employer": create("employer", employer="E1")[0],
        "federation": create("federation")[0],
    }
    for i in range(12):
        state.pool.put("seekers", {"id": f"P{i}", "occupation": "H2102", "basin": "beauvais", "skills": [],
                                   "consent": False}, create=True)
    return app, keys


def auth(key: str, **headers) -> dict:
    return {"Authorization": f"Bearer {key}", **headers}
