"""Training catalogue: the documented format, clear errors, JSON input, the synthetic generator."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from referentiels import ReferentielError
from referentiels.trainings import (DEMO_CATALOGUE, demo_trainings, from_frame, load_trainings,
                                    synthesize_trainings, to_csv)

HEADER = "id,title,organisation,skills,hours,basin,lat,lon,remote,start_dates,cost,funder,formacode,occupations\n"
GOOD = "T1,Soudage,AFPA,DS0187|DS0188,140,beauvais,,,false,2026-03-02|2026-01-05,2100,Région,23054,H2913\n"


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_demo_catalogue_loads(demo):
    c = demo_trainings(demo)
    assert len(c) >= 20 and c.frame["id"].is_unique().all()
    assert c.teaches.shape == (len(c), demo.n_skills)
    assert (np.diff(c.teaches.indptr) > 0).all()  # every training teaches something
    # every place is known: a basin's coordinates or remote
    assert (c.frame["lat"].is_not_null() | c.frame["remote"]).all()


def test_good_row_is_typed(tmp_path, demo):
    c = load_trainings(write(tmp_path, HEADER + GOOD), demo)
    row = c.frame.row(0, named=True)
    assert row["skills"] == ["DS0187", "DS0188"] and row["hours"] == 140.0 and row["cost"] == 2100.0
    assert row["lat"] == pytest.approx(49.4295)  # Beauvais' main town
    assert [d.isoformat() for d in row["start_dates"]] == ["2026-01-05", "2026-03-02"]  # sorted
    assert row["occupations"] == ["H2913"] and row["formacode"] == "23054"
    assert c.teaches.toarray()[0].sum() == 2


@pytest.mark.parametrize("row, column, needle", [
    ("T1,Soudage,AFPA,DS9999,140,beauvais,,,,,,,,\n", "skills", "unknown skill"),
    ("T1,Soudage,AFPA,DS0187,zero,beauvais,,,,,,,,\n", "hours", "not a number"),
    ("T1,Soudage,AFPA,DS0187,0,beauvais,,,,,,,,\n", "hours", "out of range"),
    ("T1,Soudage,AFPA,DS0187,140,atlantis,,,,,,,,\n", "basin", "unknown job basin"),
    ("T1,Soudage,AFPA,DS0187,140,,,,,,,,,\n", "basin", "no place"),
    ("T1,Soudage,AFPA,DS0187,140,,49.1,,,,,,,\n", "lon", "need both"),
    ("T1,Soudage,AFPA,DS0187,140,beauvais,,,,2026-13-01,,,,\n", "start_dates", "not a date"),
    ("T1,Soudage,AFPA,DS0187,140,beauvais,,,,,-5,,,\n", "cost", "out of range"),
    ("T1,Soudage,AFPA,DS0187,140,beauvais,,,peut-être,,,,,\n", "remote", "yes/no"),
    ("T1,Soudage,AFPA,DS0187,140,beauvais,,,,,,,2305,\n", "formacode", "Formacode"),
    ("T1,Soudage,AFPA,DS0187,140,beauvais,,,,,,,,Z9999\n", "occupations", "unknown occupation"),
    ("T1,Soudage,AFPA,,140,beauvais,,,,,,,,\n", "skills", "teaches no skill"),
    ("T1,,AFPA,DS0187,140,beauvais,,,,,,,,\n", "title", "empty value"),
])
def test_bad_rows_say_where(tmp_path, demo, row, column, needle):
    p = write(tmp_path, HEADER + GOOD.replace("T1,", "T0,") + row)
    with pytest.raises(ReferentielError) as info:
        load_trainings(p, demo)
    e = info.value
    assert needle in str(e), str(e)
    assert (e.file, e.line, e.column) == (str(p), 3, column)


def test_duplicate_and_missing_columns(tmp_path, demo):
    with pytest.raises(ReferentielError, match="duplicate training id") as info:
        load_trainings(write(tmp_path, HEADER + GOOD + GOOD), demo)
    assert info.value.line == 3
    with pytest.raises(ReferentielError, match="missing column") as info:
        load_trainings(write(tmp_path, "id,title,skills\nT1,x,DS0001\n"), demo)
    assert info.value.line == 1 and "hours" in str(info.value)


def test_free_text_skills_need_a_resolver(tmp_path, demo):
    p = write(tmp_path, "id,title,organisation,skills_text,hours,remote\nT1,x,y,souder au TIG,10,true\n")
    with pytest.raises(ReferentielError, match="skill normaliser"):
        load_trainings(p, demo)
    c = load_trainings(p, demo, skill_resolver=lambda texts: ["DS0190" for _ in texts])
    assert c.frame["skills"][0].to_list() == ["DS0190"]
    with pytest.raises(ReferentielError, match="no skill of the referential matches") as info:
        load_trainings(p, demo, skill_resolver=lambda texts: [None for _ in texts])
    assert info.value.found == "souder au TIG"


def test_json_array_and_lines(tmp_path, demo):
    records = [{"id": "J1", "title": "TIG", "organisation": "IS", "skills": ["DS0190"], "hours": 35,
                "remote": True, "start_dates": ["2026-02-02"]},
               {"id": "J2", "title": "MIG", "organisation": "IS", "skills": "DS0189|DS0190", "hours": 35,
                "basin": "bordeaux"}]
    a = load_trainings(write(tmp_path, json.dumps(records), "t.json"), demo)
    b = load_trainings("\n".join(json.dumps(r) for r in records).encode(), demo, name="body")
    assert a.frame.equals(b.frame) and a.frame["skills"].to_list() == [["DS0190"], ["DS0189", "DS0190"]]
    bad = dict(records[1], hours=-1)
    with pytest.raises(ReferentielError, match="out of range") as info:
        load_trainings(json.dumps([records[0], bad]).encode(), demo, name="body")
    assert (info.value.file, info.value.line, info.value.column) == ("body", 2, "hours")


def test_synthetic_catalogue_round_trips(tmp_path, demo):
    frame = synthesize_trainings(demo, 300, seed=3)
    assert frame.equals(synthesize_trainings(demo, 300, seed=3))
    assert frame.height == 300 and frame["id"].is_unique().all()
    p = write(tmp_path, to_csv(frame))
    again = load_trainings(p, demo)
    assert again.frame.drop("lat", "lon").equals(frame.drop("lat", "lon"))
    c = from_frame(frame, demo)
    assert (c.teaches != again.teaches).nnz == 0


def test_extend_replaces_equal_ids(demo):
    base = demo_trainings(demo)
    extra = from_frame(synthesize_trainings(demo, 5, seed=1).with_columns(
        pl.Series("id", ["DT001", "X1", "X2", "X3", "X4"])), demo)
    both = base.extend(extra)
    assert len(both) == len(base) + 4 and both.frame["id"].is_unique().all()
    row = both.ids.index("DT001")
    assert both.frame["title"][row] == extra.frame["title"][0]
    assert DEMO_CATALOGUE.exists()


def test_undecodable_body_is_a_clear_error(demo):
    with pytest.raises(ReferentielError, match="cannot decode") as info:
        load_trainings(b'[{"id": "\xff"}]', demo, name="body")
    assert info.value.line == 1
    with pytest.raises(ReferentielError, match="not an object"):
        load_trainings(b"5", demo, fmt="json", name="body")
