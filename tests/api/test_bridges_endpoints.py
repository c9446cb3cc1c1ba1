"""Career-bridge endpoints on the embedded demo referential: the shapes the counsellors' page reads."""

from __future__ import annotations


FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


def test_passerelles_of_h2102_have_the_page_shape(client):
    response = client.get("/occupations/H2102/passerelles", params={"k": 8})
    assert response.status_code == 200
    body = response.json()
    assert body["source"]["code"] == "H2102" and any(s["sector"] == FOOD for s in body["source"]["sectors"])
    items = body["passerelles"]
    assert len(items) == 8
    scores = [p["score"] for p in items]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    for p in items:
        assert {"code", "label", "sectors", "domain", "score", "similarity", "coverage", "viability",
                "shared", "close", "missing"} <= set(p)
        assert p["code"] != "H2102" and p["viability"] in {"stretch", "viable", "highly viable"}
        assert all(isinstance(s, str) for s in p["sectors"])
        for group in (p["shared"], p["close"], p["missing"]):
            assert [s["core"] for s in group] == sorted((s["core"] for s in group), reverse=True), "core first"
            assert all({"code", "label", "kind", "weight", "core"} <= set(s) for s in group)
        # a close skill names the source's skill it is close to, the rule and the evidence (issue 19)
        assert all({"code", "label", "similarity", "rule", "evidence"} <= set(s["via"]) for s in p["close"])
        assert all("via" not in s or s["via"] is None for s in p["missing"])
    assert any(p["close"] for p in items)


def test_cross_sector_only_leaves_every_sector_of_the_source(client):
    body = client.get("/occupations/H2102/passerelles", params={"k": 10, "cross_sector_only": "true"}).json()
    own = {s["sector"] for s in body["source"]["sectors"]}
    assert body["passerelles"]
    assert all(p["sectors"] and not (set(p["sectors"]) & own) for p in body["passerelles"])


def test_sector_filter_and_min_score(client):
    body = client.get("/occupations/H2102/passerelles",
                      params={"k": 50, "sector": METAL, "min_score": 0.05}).json()
    assert body["passerelles"]
    assert all(METAL in p["sectors"] and p["score"] >= 0.05 for p in body["passerelles"])


def test_unknown_occupation_and_sector_are_problems(client):
    response = client.get("/occupations/H2103X/passerelles")
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["suggestions"]
    response = client.get("/occupations/H2102/passerelles", params={"sector": "Industrie - Metalurgie"})
    assert response.status_code == 404
    assert response.json()["suggestions"][0]["code"] == METAL
    assert client.get("/occupations/H2102/passerelles", params={"k": 0}).status_code == 422


def test_sectors_lists_counts(client):
    body = client.get("/sectors").json()
    names = [s["sector"] for s in body["sectors"]]
    assert FOOD in names and METAL in names and names == sorted(names)
    assert all(s["occupations"] > 0 for s in body["sectors"])


def test_sector_pair_map_both_directions_with_common_skills(client):
    response = client.get(f"/sectors/{FOOD}/bridges/{METAL}", params={"k_per_source": 3})
    assert response.status_code == 200
    body = response.json()
    directions = {b["direction"] for b in body["bridges"]}
    assert directions == {f"{FOOD} -> {METAL}", f"{METAL} -> {FOOD}"}
    assert body["counts"]["a_to_b"] + body["counts"]["b_to_a"] == len(body["bridges"])
    uses = [s["bridges"] for s in body["common_skills"]]
    assert uses and uses == sorted(uses, reverse=True)
    # common skills count held skills only; close ones come apart, and each bridge counts the three kinds
    assert body["counts"]["close_skills"] == len(body["close_skills"]) or len(body["close_skills"]) == 50
    assert all({"shared_skills", "close_skills", "missing_skills", "close_core", "missing_core"} <= set(b)
               for b in body["bridges"])
    assert client.get(f"/sectors/{FOOD}/bridges/Nowhere").status_code == 404
    know_how = client.get(f"/sectors/{FOOD}/bridges/{METAL}", params={"kind": "savoir-faire"}).json()["common_skills"]
    assert know_how and all(s["kind"] == "savoir-faire" for s in know_how)
    assert client.get(f"/sectors/{FOOD}/bridges/{METAL}", params={"kind": "hobby"}).status_code == 422


def test_paths_are_explained_and_ranked(client):
    response = client.get("/paths", params={"from": "H2102", "to": "I1304", "n": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["source"]["code"] == "H2102" and body["target"]["code"] == "I1304"
    scores = [p["score"] for p in body["paths"]]
    assert scores and scores == sorted(scores, reverse=True)
    for p in body["paths"]:
        assert p["codes"][0] == "H2102" and p["codes"][-1] == "I1304" and 1 <= len(p["steps"]) <= 3
        assert all({"from", "code", "score", "shared", "missing", "viability"} <= set(s) for s in p["steps"])
    assert client.get("/paths", params={"from": "H2102", "to": "H2102"}).status_code == 422
    bad = client.get("/paths", params={"from": "H2102", "to": "ZZZ"})
    assert bad.status_code == 404 and bad.json()["field"] == "to"
    assert client.get("/paths", params={"from": "H2102", "to": "I1304", "max_steps": 4}).status_code == 422


def test_graph_formats_hubs_and_communities(client):
    body = client.get("/graph", params={"format": "json", "k": 3}).json()
    assert body["directed"] and len(body["nodes"]) >= 80 and len(body["links"]) == 3 * len(body["nodes"])
    graphml = client.get("/graph", params={"format": "graphml", "sector": METAL})
    assert graphml.status_code == 200 and graphml.headers["content-type"].startswith("application/graphml+xml")
    assert b"<graphml" in graphml.content
    gexf = client.get("/graph", params={"format": "gexf"})
    assert gexf.status_code == 200 and b"<gexf" in gexf.content
    assert client.get("/graph", params={"format": "png"}).status_code == 422
    hubs = client.get("/graph/hubs", params={"top": 3}).json()["hubs"]
    assert len(hubs) == 3 and hubs[0]["cross_sector_bridges"] >= hubs[-1]["cross_sector_bridges"]
    groups = client.get("/graph/communities").json()["communities"]
    assert sum(g["size"] for g in groups) == len(body["nodes"])


def test_http_min_label(client):
    response = client.get("/occupations/H2102/passerelles", params={"k": 50, "min_label": "viable"})
    assert response.status_code == 200
    body = response.json()
    assert body["filters"]["min_label"] == "viable"
    assert body["passerelles"] and all(p["viability"] in ("viable", "highly viable") for p in body["passerelles"])
    assert client.get("/occupations/H2102/passerelles", params={"min_label": "maybe"}).status_code == 422
