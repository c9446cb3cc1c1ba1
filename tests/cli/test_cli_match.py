"""``passerelles synth``, then ``ingest`` and ``match`` on the store it fills."""

from __future__ import annotations

import json

from api.cli import main


def test_cli_synth_then_ingest_then_match(tmp_path, capsys):
    out, db = tmp_path / "synth", tmp_path / "p.sqlite3"
    assert main(["synth", "--seekers", "400", "--offers", "200", "--seed", "3", "--basins", "beauvais,amiens",
                 "--out", str(out)]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["n_seekers"] == 400 and (out / "seekers.parquet").exists()
    assert main(["ingest", "seekers", str(out / "seekers.parquet"), "--database", str(db)]) == 0
    assert main(["ingest", "offers", str(out / "offers.parquet"), "--database", str(db), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert report["taken"] == 200 and report["written"]
    assert main(["match", "offers", "S0000001", "-k", "3", "--database", str(db), "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert 1 <= len(hits) <= 3 and all({"offer", "score", "bridge", "matched", "missing"} <= set(h) for h in hits)
    assert main(["match", "candidates", "O0000001", "--database", str(db)]) == 0
    assert "c-" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,skills,occupation\nX1,NOPE,H2102\n")
    assert main(["ingest", "seekers", str(bad), "--database", str(db)]) == 2
    assert "line 2 (id X1): unknown skill code 'NOPE'" in capsys.readouterr().err
    assert main(["match", "offers", "nobody", "--database", str(db)]) == 2
    assert main(["synth", "--basins", "atlantis", "--out", str(out)]) == 2


def test_cli_candidates_of_an_offer_id_two_employers_hold(tmp_path, capsys):
    """Offer ids are per employer: the same id in one file for two employers is two offers, and
    ``match candidates`` asks which one (--employer) instead of picking one."""
    db, offers = tmp_path / "p.sqlite3", tmp_path / "offers.csv"
    offers.write_text("id,employer,occupation\nREF-001,E1,H2102\nREF-001,E2,H2913\nSOLO,E1,H2102\n")
    seekers = tmp_path / "seekers.csv"
    seekers.write_text("id,occupation,consent\nS1,H2102,yes\nS2,H2913,yes\n")
    assert main(["ingest", "seekers", str(seekers), "--database", str(db)]) == 0
    assert main(["ingest", "offers", str(offers), "--database", str(db)]) == 0
    capsys.readouterr()
    assert main(["match", "candidates", "REF-001", "--database", str(db)]) == 2
    assert "2 employers have an offer 'REF-001'" in capsys.readouterr().err
    best = {}
    for employer in ("E1", "E2"):
        assert main(["match", "candidates", "REF-001", "--employer", employer, "-k", "1", "--database", str(db),
                     "--json"]) == 0
        best[employer] = json.loads(capsys.readouterr().out)[0]["candidate"]["occupation"]
    assert best == {"E1": "H2102", "E2": "H2913"}
    assert main(["match", "candidates", "SOLO", "--database", str(db)]) == 0  # one employer: the id alone
    assert main(["match", "candidates", "SOLO", "--employer", "E2", "--database", str(db)]) == 2
    assert "for employer 'E2'" in capsys.readouterr().err
