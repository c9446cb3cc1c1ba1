"""The HTTP skeleton on the embedded demo referential."""

from __future__ import annotations


def test_health_names_the_referential(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["referentiel"] == "demo" and len(body["fingerprint"]) == 64


def test_referentiel_gives_counts(client):
    body = client.get("/referentiel").json()
    assert body["counts"]["occupations"] >= 80 and body["counts"]["skills"] >= 600


def test_referentiel_says_which_bridge_score_is_served(client):
    """Issue 19, item 5: learned from official mobilities only where its cross-validation wins."""
    score = client.get("/referentiel").json()["bridge_score"]
    assert score["served"] == "learned" and "cross-validation" in score["rule"]
    assert score["learned_cv"]["recall@10"] > score["content"]["recall@10"]
    assert score["learned_cv"]["mrr"] > score["content"]["mrr"]


def test_occupation_card_of_h2102(client):
    response = client.get("/occupations/H2102")
    assert response.status_code == 200
    card = response.json()
    assert card["label"].startswith("Conducteur / Conductrice de ligne")
    assert card["skills"] and card["skills"][0]["core"] is True
    assert {"code", "label", "kind", "core", "weight"} <= set(card["skills"][0])
    assert any(s["sector"] == "Industrie - Alimentaire" for s in card["sectors"])
    assert card["titles"]


def test_unknown_occupation_is_a_problem_with_suggestions(client):
    response = client.get("/occupations/H2012")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/unknown-occupation")
    assert "H2102" in [s["code"] for s in body["suggestions"]]
    assert "Did you mean" in body["detail"]


def test_unknown_route_is_a_problem_too(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["title"]
