"""Bridge kits: the files a federation receives say exactly what the engine says."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import jsonschema
import openpyxl
import polars as pl
import pytest

from api.cli import main
from api.services.kits.export import SCHEMA_PATH, TABLES, render
from api.services.kits.build import build_kit

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"
FIXED = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def state(client):
    return client.app.state.passerelles


@pytest.fixture(scope="module")
def kit(state):
    return build_kit(state.referentiel, state.passerelles, FOOD, METAL, now=FIXED)


def test_kit_holds_both_directions_and_only_the_two_sectors(kit, state):
    sectors = state.referentiel.sectors
    food = set(sectors.filter(pl.col("sector") == FOOD)["occupation"])
    metal = set(sectors.filter(pl.col("sector") == METAL)["occupation"])
    forward = kit.bridges.filter(pl.col("direction") == "forward")
    backward = kit.bridges.filter(pl.col("direction") == "backward")
    assert forward.height and backward.height
    assert set(forward["source"]) <= food and set(forward["target"]) <= metal
    assert set(backward["source"]) <= metal and set(backward["target"]) <= food


def test_bridge_rows_carry_the_engines_scores_and_explanations(kit, state):
    index, rows = state.passerelles, state.referentiel.occupation_index
    for row in kit.bridges.head(20).iter_rows(named=True):
        a, b = rows[row["source"]], rows[row["target"]]
        assert row["score"] == pytest.approx(float(index.bridges.scores_from(a)[b]), abs=1e-4)
        shared, close, missing = index.explain(a, b)
        assert len(row["shared_skills"]) == len(shared) and len(row["missing_skills"]) == len(missing)
        assert len(row["close_skills"]) == len(close)
        assert all("(proche de : " in text for text in row["close_skills"])
        assert row["missing_core"] == sum(1 for s in close + missing if s.core)  # the gap's core skills


def test_h2102_bridges_toward_metalworking_are_in_the_kit(kit):
    h2102 = kit.bridges.filter((pl.col("source") == "H2102") & (pl.col("direction") == "forward"))
    assert h2102.height == 5
    assert h2102["score"].to_list() == sorted(h2102["score"].to_list(), reverse=True)


def test_common_skills_are_ranked_by_the_bridges_that_use_them(kit):
    counts = kit.common_skills["bridges"].to_list()
    assert counts == sorted(counts, reverse=True) and counts[0] <= kit.bridges.height
    # only held skills count as common; the close ones are on their own sheet (issue 19)
    assert kit.common_skills["bridges"].sum() == kit.bridges["shared_skills"].list.len().sum()
    assert kit.close_skills["bridges"].sum() == kit.bridges["close_skills"].list.len().sum()
    assert kit.summary["counts"]["close_skills"] == kit.close_skills.height


def test_xlsx_has_a_sheet_per_part_with_headers_and_values(kit):
    book = openpyxl.load_workbook(io.BytesIO(render(kit, "xlsx")))
    assert book.sheetnames == ["Résumé"] + [title for title, _ in TABLES.values()]
    sheet = book["Passerelles"]
    headers = [c.value for c in sheet[1]]
    assert headers[:6] == ["Sens", "Code source", "Métier source", "Code cible", "Métier cible", "Score"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert sheet.max_row == kit.bridges.height + 1
    first = kit.bridges.row(0, named=True)
    assert [c.value for c in sheet[2]][:6] == [first["direction"], first["source"], first["source_label"],
                                               first["target"], first["target_label"], first["score"]]
    assert sheet.cell(2, 6).number_format == "0.00"
    summary = {row[0].value: row[1].value for row in book["Résumé"].iter_rows(min_row=2)}
    assert summary["Du secteur"] == FOOD and summary["Vers le secteur"] == METAL
    common = book["Compétences communes"]
    assert common.cell(2, 1).value == kit.common_skills["skill"][0]


def test_json_kit_validates_against_its_schema(kit):
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    document = json.loads(render(kit, "json"))
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    assert document["summary"]["counts"]["bridges_forward"] == kit.bridges.filter(
        pl.col("direction") == "forward").height


def test_csv_kit_is_one_file_per_table_in_a_zip(kit):
    archive = zipfile.ZipFile(io.BytesIO(render(kit, "csv")))
    assert sorted(archive.namelist()) == sorted(["summary.json"] + [f"{n}.csv" for n in TABLES])
    bridges = pl.read_csv(archive.read("bridges.csv"))
    assert bridges.height == kit.bridges.height


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", pytest.param("html", marks=pytest.mark.slow)])
def test_same_inputs_give_the_same_kit(state, kit, fmt):
    again = build_kit(state.referentiel, state.passerelles, FOOD, METAL, now=FIXED)
    assert render(again, fmt) == render(kit, fmt)


def test_http_kit_in_each_format(client):
    for fmt, media in [("json", "application/json"), ("csv", "application/zip"),
                       ("xlsx", "application/vnd.openxmlformats")]:
        response = client.get("/kits", params={"from_sector": FOOD, "to_sector": METAL, "format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)
        assert "attachment" in response.headers["content-disposition"]


def test_http_unknown_sector_is_a_404_problem_listing_the_known_ones(client):
    response = client.get("/kits", params={"from_sector": "Industrie - Alimentair", "to_sector": METAL})
    assert response.status_code == 404
    body = response.json()
    assert body["field"] == "from_sector" and FOOD in body["suggestions"]


def test_cli_writes_the_kit_and_rejects_bad_input_with_status_2(tmp_path, capsys):
    out = tmp_path / "kit.json"
    assert main(["kit", "--from-sector", FOOD, "--to-sector", METAL, "--format", "json", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["to_sector"] == METAL
    assert main(["kit", "--from-sector", "Nowhere", "--to-sector", METAL, "--out", str(out)]) == 2
    assert "unknown sector 'Nowhere'" in capsys.readouterr().err
    assert main(["kit", "--from-sector", FOOD, "--to-sector", METAL, "--format", "pdf", "--out", str(out)]) == 2
