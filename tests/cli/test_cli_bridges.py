"""``passerelles bridges``, ``paths``, ``graph export``, ``sector-map`` and ``evaluate`` on the demo referential."""

from __future__ import annotations

import json

from api.cli import main

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


def test_cli_bridges_paths_graph_and_evaluate(tmp_path, capsys):
    assert main(["bridges", "H2102", "-k", "3", "--cross-sector-only", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert len(body["passerelles"]) == 3
    assert main(["bridges", "H2102X"]) == 2
    assert "H2102" in capsys.readouterr().err
    assert main(["bridges", "H2102", "--sector", "Nowhere"]) == 2
    assert main(["paths", "H2102", "I1304", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["paths"]
    out = tmp_path / "g.graphml"
    assert main(["graph", "export", "--out", str(out), "--format", "graphml", "-k", "3"]) == 0
    assert out.read_bytes().startswith(b"<?xml")
    assert main(["graph", "export", "--out", str(out), "--format", "png"]) == 2
    capsys.readouterr()
    assert main(["sector-map", FOOD, METAL, "--json", "--k-per-source", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["common_skills"]
    assert main(["evaluate", "demo", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert set(results) == {"tfidf_cosine", "skill_cosine", "bridge_content", "bridge_learned_cv"}
    assert results["bridge_content"]["recall@10"] >= results["tfidf_cosine"]["recall@10"]


def test_cli_min_label(capsys):
    assert main(["bridges", "H2102", "--min-label", "viable", "-k", "30", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["passerelles"]
    assert found and all(p["viability"] in ("viable", "highly viable") for p in found)
    assert main(["bridges", "H2102", "--min-label", "maybe"]) == 2
    assert "is not one of 'stretch', 'viable', 'highly viable'" in capsys.readouterr().err
