"""CLI: passerelles gaps, trainings validate|list|synth, basins list|tension|passerelles|needs, synth --trainings."""

from __future__ import annotations

import json

import pytest

from api.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gaps_worked_example(capsys):
    code, out, _ = run(capsys, "gaps", "H2102", "H2913")
    assert code == 0
    assert "DS0195" in out and "DT003 Titre professionnel Soudeur assembleur industriel" in out
    code, out, _ = run(capsys, "gaps", "H2102", "H2913", "--json", "--basin", "beauvais", "--radius", "30",
                       "--from", "2026-01-01", "--to", "2026-06-30")
    body = json.loads(out)
    assert [t["id"] for t in body["plan"]["trainings"]] == ["DT002"] and body["plan"]["residual"]


@pytest.mark.parametrize("argv, needle", [
    (("gaps", "H2102", "X9999"), "unknown occupation"),
    (("gaps", "H2102", "H2913", "--basin", "atlantis"), "unknown job basin"),
    (("gaps", "H2102", "H2913", "--from", "2026-02-30"), "--from/--to"),
])
def test_gaps_errors_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err


def test_trainings_commands(capsys, tmp_path):
    out_file = tmp_path / "t.csv"
    assert run(capsys, "trainings", "synth", "120", "--out", str(out_file), "--seed", "2")[0] == 0
    code, out, _ = run(capsys, "trainings", "validate", str(out_file))
    assert code == 0 and "120 trainings" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,organisation,skills,hours,basin\nB1,x,y,DS0190,10,nowhere\n", encoding="utf-8")
    code, _, err = run(capsys, "trainings", "validate", str(bad))
    assert code == 2 and "line 2" in err and "basin" in err
    code, out, _ = run(capsys, "trainings", "list", "--skill", "DS0190")
    assert code == 0 and "DT003" in out


def test_synth_then_basins(capsys, tmp_path):
    folder, db = tmp_path / "synth", tmp_path / "p.sqlite3"
    code, out, err = run(capsys, "synth", "--seekers", "400", "--offers", "300", "--basins", "beauvais,bordeaux",
                         "--trainings", "200", "--out", str(folder))
    assert code == 0, err
    assert (folder / "trainings.csv").exists()
    assert run(capsys, "trainings", "validate", str(folder / "trainings.csv"))[0] == 0
    for kind in ("seekers", "offers"):
        code, _, err = run(capsys, "ingest", kind, str(folder / f"{kind}.parquet"), "--database", str(db),
                           "--mode", "valid")
        assert code == 0, err
    code, out, _ = run(capsys, "basins", "list")
    assert code == 0 and "bayonne" in out
    code, out, _ = run(capsys, "basins", "tension", "beauvais", "--database", str(db), "--json")
    body = json.loads(out)
    assert code == 0 and body["occupations"] and sum(o["offers"] for o in body["occupations"]) > 0
    code, out, _ = run(capsys, "basins", "passerelles", "beauvais", "H2102", "-k", "3", "--database", str(db))
    assert code == 0 and out.count("combined") == 3
    code, out, err = run(capsys, "basins", "passerelles", "beauvais", "H2102", "-k", "5", "--sector",
                         "Industrie - Métallurgie", "--min-score", "0.05", "--database", str(db), "--json")
    body = json.loads(out)
    assert code == 0 and body["passerelles"], err
    assert all("Industrie - Métallurgie" in p["sectors"] and p["score"] >= 0.05 for p in body["passerelles"])
    assert run(capsys, "basins", "passerelles", "beauvais", "H2102", "--sector", "Metal", "--database", str(db))[0] == 2
    import polars as pl

    seeker = pl.read_parquet(folder / "seekers.parquet").filter(pl.col("basin") == "beauvais")["id"][0]
    code, out, err = run(capsys, "match", "offers", seeker, "-k", "5", "--toward-tension", "--database", str(db),
                         "--json")
    hits = json.loads(out)
    assert code == 0 and hits, err
    assert [h["combined"] for h in hits] == sorted((h["combined"] for h in hits), reverse=True)
    code, out, _ = run(capsys, "match", "offers", seeker, "-k", "3", "--toward-tension", "--database", str(db))
    assert code == 0 and out.count("combined") == 3
    code, out, _ = run(capsys, "basins", "needs", "beauvais", "--database", str(db), "--targets", "H2913,H2906",
                       "--catalogue", str(folder / "trainings.csv"), "--json")
    body = json.loads(out)
    assert code == 0 and body["seekers_with_target"] > 0 and body["skills"]
    code, _, err = run(capsys, "basins", "needs", "atlantis", "--database", str(db))
    assert code == 2 and "unknown job basin" in err
