"""Whole job ads to codes over HTTP and on the command line (issue 21 item 3), demo referential."""

from __future__ import annotations

import csv
import json

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.http.app import create_app
from api.http.routers.normalise import MAX_OFFER_CHARS
from api.settings import Settings

AD = {"title": "Conducteur de ligne agroalimentaire (H/F)", "naf": "1013A",
      "description": "Vos missions :\n- Appliquer les règles d'hygiène en zone de production alimentaire.\n"
                     "- Relever et consigner les températures de la chaîne du froid."}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(referentiel="demo", database=tmp_path_factory.mktemp("db") / "p.sqlite3")
    with TestClient(create_app(settings)) as c:
        yield c


def test_offers_give_occupations_and_skills_with_their_sentence_in_order(client):
    response = client.post("/normalise/offers", json={"offers": [AD, {"title": "Cariste"}], "k": 3})
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["best"]["code"] == "H2102" and len(first["candidates"]) == 3 and first["naf"] == "1013A"
    assert [(s["code"], s["sentence"]) for s in first["skills"]] == [
        ("DS0001", "Appliquer les règles d'hygiène en zone de production alimentaire."),
        ("DS0005", "Relever et consigner les températures de la chaîne du froid.")]
    assert second["best"]["code"] == "N1101" and second["skills"] == [] and second["naf"] is None


@pytest.mark.parametrize(("offer", "field"), [
    ({"title": ""}, "offers.1.title"),
    ({"title": "Cariste", "naf": "'; drop table"}, "offers.1.naf"),
    ({"title": "Cari\u0000ste"}, "offers.1.title"),
])
def test_a_bad_offer_is_a_422_naming_it(client, offer, field):
    response = client.post("/normalise/offers", json={"offers": [AD, offer]})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/invalid-offer") and body["field"] == field


def test_the_work_budget_of_one_request_is_a_413(client):
    many = [{"title": "Cariste", "description": "x" * 19_000}] * (MAX_OFFER_CHARS // 19_000 + 1)
    response = client.post("/normalise/offers", json={"offers": many})
    assert response.status_code == 413 and response.json()["type"].endswith("/too-much-work")


def test_the_cli_reads_jsonl_and_csv_one_row_per_ad(tmp_path, capsys):
    jsonl = tmp_path / "ads.jsonl"
    jsonl.write_text(json.dumps(AD, ensure_ascii=False) + "\n" + json.dumps({"title": "=cariste"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["normalise", "offers", str(jsonl), "-k", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["code"] for r in rows] == ["H2102", "N1101"] and rows[1]["title"] == "'=cariste"  # no formula
    assert {"code", "label", "score", "code_2", "label_2", "score_2", "naf", "skills"} <= set(rows[0])
    assert [s["code"] for s in json.loads(rows[0]["skills"])] == ["DS0001", "DS0005"]
    table = tmp_path / "ads.csv"
    table.write_text("title,description\nCariste,\n", encoding="utf-8")
    assert main(["normalise", "offers", str(table), "--out", str(tmp_path / "o.parquet")]) == 0


def test_the_cli_names_the_bad_line(tmp_path, capsys):
    jsonl = tmp_path / "ads.jsonl"
    jsonl.write_text(json.dumps(AD) + "\n" + json.dumps({"title": "Cariste", "naf": "bakery"}) + "\n", encoding="utf-8")
    assert main(["normalise", "offers", str(jsonl), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "line 2, naf: expected a NAF code" in err and "Traceback" not in err
    jsonl.write_text("{not json\n", encoding="utf-8")
    assert main(["normalise", "offers", str(jsonl), "--out", str(tmp_path / "o.csv")]) == 2
    assert "line 1: not a JSON object" in capsys.readouterr().err


def test_long_ads_are_read_in_parts_in_order(client):
    """Past budget.CHUNK_CHARS of text the ads are read in several parts (a deadline and a departed
    client are checked between parts): the answer keeps the input order."""
    key = client.app.state.security.keys.create("federation")[0]   # past the anonymous 20,000 characters
    filler = "Accueil des clients du magasin et mise en rayon. " * 160        # about 8,000 characters
    ads = [{"title": t, "description": filler} for t in ["Cariste", "Conducteur de ligne agroalimentaire"] * 3]
    response = client.post("/normalise/offers", json={"offers": ads, "k": 1}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    assert [r["best"]["code"] for r in response.json()["results"]] == ["N1101", "H2102"] * 3
