"""CLI: passerelles trainings validate|import|export on LHEO files (fixtures in tests/data/lheo)."""

from __future__ import annotations

import json
from pathlib import Path

from api.cli import main
from referentiels.lheo import read_lheo

DATA = Path(__file__).resolve().parent.parent / "data" / "lheo"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_validate_lheo_json(capsys):
    code, out, err = run(capsys, "trainings", "validate", str(DATA / "valid-2.3.xml"), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert {k: body[k] for k in ("format", "trainings", "sessions", "rome")} == {
        "format": "lheo", "trainings": 3, "sessions": 7, "rome": ["H2906", "H2913", "H2917"]}
    code, out, _ = run(capsys, "trainings", "validate", str(DATA / "valid-2.2.xml"))
    assert code == 0 and "LHEO 2.2" in out and "valid" in out


def test_validate_lists_records_left_out_and_exits_2(capsys):
    code, out, _ = run(capsys, "trainings", "validate", str(DATA / "mixed.xml"))
    assert code == 2 and "/lheo/offres/formation[3]/action[1]/session[1]/periode/debut" in out and "line 107" in out
    code, out, _ = run(capsys, "trainings", "validate", str(DATA / "mixed.xml"), "--json")
    assert code == 2 and json.loads(out)["trainings"] == 3 and len(json.loads(out)["left_out"]) == 6
    code, _, err = run(capsys, "trainings", "validate", str(DATA / "bad-date.xml"), "--records", "all")
    assert code == 2 and "periode/debut" in err and "20271301" in err and "Traceback" not in err
    code, _, err = run(capsys, "trainings", "validate", str(DATA / "bomb.xml"))
    assert code == 2 and "refused" in err and "Traceback" not in err


def test_import_then_export_gives_back_the_offer(capsys, tmp_path, monkeypatch):
    db = tmp_path / "p.sqlite3"
    monkeypatch.setenv("PASSERELLES_DATABASE", str(db))
    code, out, err = run(capsys, "trainings", "import", str(DATA / "valid-2.3.xml"), "--database", str(db))
    assert code == 0, err
    assert "3 trainings, 7 sessions imported" in out
    code, out, _ = run(capsys, "trainings", "list", "--skill", "DS0190")
    assert code == 0 and "AF-SOUD-BVS" in out and "AF-SOUD-STQ" in out
    exported = tmp_path / "out.xml"
    code, out, err = run(capsys, "trainings", "export", "--format", "lheo", "--out", str(exported),
                         "--database", str(db))
    assert code == 0, err
    again, original = read_lheo(exported), read_lheo(DATA / "valid-2.3.xml")
    ids = original.trainings["id"].to_list()
    mine = again.trainings.filter(again.trainings["id"].is_in(ids))
    assert mine.drop("line").equals(original.trainings.drop("line"))
    sessions = again.sessions.filter(again.sessions["training"].is_in(ids))
    assert sessions.drop("line").equals(original.sessions.drop("line"))
    # a bad file changes nothing
    code, _, err = run(capsys, "trainings", "import", str(DATA / "bad-code.xml"), "--database", str(db))
    assert code == 2 and "code-ROME" in err
    code, _, err = run(capsys, "trainings", "export", "--format", "pdf", "--database", str(db))
    assert code == 2 and "--format" in err


def test_access_routes_of_h2913_around_beauvais_on_the_demo(capsys):
    code, out, err = run(capsys, "access-routes", "H2913", "--basin", "beauvais", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["target"]["code"] == "H2913" and body["basin"]["id"] == "beauvais" and len(body["routes"]) == 10
    scores = [r["score"] for r in body["routes"]]
    assert scores == sorted(scores, reverse=True) and "H2913" not in [r["source"]["code"] for r in body["routes"]]
    assert body["routes"][0]["source"]["code"] in ("H2916", "H2917")  # the other welders lead in first
    for route in body["routes"]:
        covered = [c for t in route["trainings"] for c in t["covers"]]
        assert len(covered) + len(route["residual"]) == route["missing"]  # the gap, closed or not
        assert all(t["remote"] or t["distance_km"] <= 50 for t in route["trainings"])
    code, out, _ = run(capsys, "access-routes", "H2913", "--basin", "beauvais", "-k", "3")
    assert code == 0 and "Routes into H2913" in out
    code, _, err = run(capsys, "access-routes", "H2913", "--basin", "atlantis")
    assert code == 2 and "unknown job basin" in err
