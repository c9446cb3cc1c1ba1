"""Free text to codes over HTTP, on the embedded demo referential: search as you type, batches, bad input."""

from __future__ import annotations

import pytest


def test_search_as_you_type_finds_the_welder(client):
    response = client.get("/occupations", params={"q": "Soudeuse", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["confident"] is True and body["best"]["code"] == "H2913"
    assert len(body["candidates"]) == 3
    assert {"code", "label", "score", "matched"} <= set(body["candidates"][0])
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_search_on_a_prefix_already_suggests(client):
    body = client.get("/occupations", params={"q": "cari"}).json()
    assert body["candidates"][0]["code"] == "N1101"  # Cariste


def test_the_search_route_leaves_the_occupation_card_alone(client):
    assert client.get("/occupations/H2102").json()["code"] == "H2102"
    assert client.get("/occupations/H2012").status_code == 404


def test_gibberish_is_not_confident_but_still_suggests(client):
    body = client.get("/occupations", params={"q": "xqzwv"}).json()
    assert body["confident"] is False and body["best"] is None and body["candidates"]


@pytest.mark.parametrize(("q", "reason"), [("", "empty"), ("   ", "empty"), ("x" * 501, "too-long"),
                                           ("soud\x00eur", "binary"), ("\ufffd\ufffd", "binary")])
def test_bad_text_is_a_422_problem_naming_the_reason(client, q, reason):
    response = client.get("/occupations", params={"q": q})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/invalid-text") and body["field"] == "q" and body["reason"] == reason
    assert body["detail"].startswith("q: ")


def test_missing_q_and_bad_k_are_422(client):
    assert client.get("/occupations").status_code == 422
    assert client.get("/occupations", params={"q": "cariste", "k": 0}).status_code == 422
    assert client.get("/occupations", params={"q": "cariste", "k": 51}).status_code == 422


def test_batch_of_titles_answers_in_order(client):
    texts = ["Cariste", "conducteur de ligne agro", "Soudeuse TIG", "opérateur/trice de prod (H/F)"]
    response = client.post("/normalise/titles", json={"texts": texts, "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["referentiel"] == "demo" and 0 < body["threshold"] < 1
    assert [r["text"] for r in body["results"]] == texts
    assert [r["candidates"][0]["code"] for r in body["results"][:2]] == ["N1101", "H2102"]
    assert body["results"][2]["candidates"][0]["code"] in {"H2913", "H2916"}  # welders
    assert all(len(r["candidates"]) <= 2 for r in body["results"])


def test_batch_of_skills_finds_skill_codes(client, demo):
    label = demo.skills["label"][0]
    code = demo.skills["code"][0]
    body = client.post("/normalise/skills", json={"texts": [label.upper(), label[: len(label) * 3 // 4]]}).json()
    assert body["results"][0]["best"]["code"] == code
    assert code in [c["code"] for c in body["results"][1]["candidates"]]


def test_a_bad_item_of_a_batch_is_named_by_its_index(client):
    response = client.post("/normalise/titles", json={"texts": ["cariste", "  "]})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "texts.1" and body["reason"] == "empty"


@pytest.mark.parametrize("payload", [{"texts": []}, {"texts": "cariste"}, {"texts": ["cariste"], "k": 0}, {}])
def test_malformed_batches_are_422(client, payload):
    response = client.post("/normalise/skills", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_binary_body_is_a_4xx_problem(client):
    response = client.post("/normalise/titles", content=b"\xff\xfe\x00\x01binary",
                           headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_code_that_is_a_title_gets_the_normaliser_suggestions(client):
    response = client.get("/occupations/soudeuse")
    assert response.status_code == 404
    assert response.json()["suggestions"][0]["code"] == "H2913"
