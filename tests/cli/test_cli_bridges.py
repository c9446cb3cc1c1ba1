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
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert report["served"]["score"] == "learned"  # its cross-validation beats the content score here
    assert "skipped" in report["held_claims"]  # the labelled pairs name ROME skills, not the demo's
    assert set(results) == {"tfidf_cosine", "skill_cosine", "bridge_content", "bridge_learned_cv"}
    assert results["bridge_content"]["recall@10"] >= results["tfidf_cosine"]["recall@10"]


def test_cli_min_label(capsys):
    assert main(["bridges", "H2102", "--min-label", "viable", "-k", "30", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["passerelles"]
    assert found and all(p["viability"] in ("viable", "highly viable") for p in found)
    assert main(["bridges", "H2102", "--min-label", "maybe"]) == 2
    assert "is not one of 'stretch', 'viable', 'highly viable'" in capsys.readouterr().err


def test_cli_bridges_text_shows_the_three_kinds_and_sector_maps_the_close_skills_apart(capsys):
    assert main(["bridges", "H2102", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "held    (" in out and "close   (" in out and "missing (" in out and " (~ " in out
    assert main(["sector-map", FOOD, METAL, "--k-per-source", "2", "--top-skills", "3"]) == 0
    out = capsys.readouterr().out
    assert "common skills (bridges whose source holds them)" in out and "close skills, apart" in out


def test_cli_evaluate_rejects_a_bad_labelled_file(tmp_path, capsys):
    bad = tmp_path / "pairs.csv"
    bad.write_text("source_code,target_code,label\n1,2,1\n", encoding="utf-8")
    assert main(["evaluate", "demo", "--held-claims", str(bad)]) == 2
    assert "missing split" in capsys.readouterr().err
    bad.write_text("source_code,target_code,label,split\n1,2,yes,test\n", encoding="utf-8")
    assert main(["evaluate", "demo", "--held-claims", str(bad)]) == 2
    assert "expected label 0 or 1" in capsys.readouterr().err
    assert main(["evaluate", "demo", "--held-claims", str(tmp_path / "none.csv")]) == 2
