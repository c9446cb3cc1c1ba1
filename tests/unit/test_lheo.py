"""LHEO reader and writer (referentiels.lheo): fixtures written from the LHEO documentation in tests/data/lheo."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referentiels import ReferentielError
from referentiels.lheo import (NAMESPACES, format_lheo_date, lheo_bytes, parse_lheo_date, read_lheo)

DATA = Path(__file__).resolve().parent.parent / "data" / "lheo"


def _same_records(a, b) -> bool:
    return a.trainings.drop("line").equals(b.trainings.drop("line")) and a.sessions.drop("line").equals(
        b.sessions.drop("line"))


@pytest.mark.parametrize("name, version", [("valid-2.3.xml", "2.3"), ("valid-2.2.xml", "2.2")])
def test_valid_files_of_both_versions(name, version):
    offer = read_lheo(DATA / name, mode="all")
    assert offer.version == version
    assert offer.summary() | {"file": None, "left_out": None} == {
        "format": "lheo", "version": version, "file": None, "formations": 2, "trainings": 3, "sessions": 7,
        "rome": ["H2906", "H2913", "H2917"], "problems": 0, "left_out": None}
    t = {r["id"]: r for r in offer.trainings.to_dicts()}
    bvs = t["AF-SOUD-BVS"]
    assert bvs["formation"] == "FOR-SOUD-01" and bvs["organisation"] == "Centre de formation des métiers de l'industrie"
    assert bvs["occupations"] == ["H2913", "H2917"] and bvs["formacodes"] == ["22454"] and bvs["nsf"] == ["254"]
    assert bvs["rncp"] == ["37833"] and bvs["certifying"] is True and bvs["siret"] == "12345678900017"
    assert (bvs["funders"], bvs["funder_places"], bvs["places"]) == (["2", "4"], [12, 8], 20)
    assert (bvs["postcode"], bvs["city"], bvs["lat"], bvs["lon"]) == ("60000", "Beauvais", 49.4295, 2.0807)
    assert (bvs["hours"], bvs["cost"], bvs["remote"], bvs["permanent_entry"]) == (735.0, 9900.0, False, False)
    # the escaped characters of the file are read as text
    assert "Sécurité & prévention des risques <ATEX>" in bvs["content"]
    stq = t["AF-SOUD-STQ"]
    assert (stq["funder_places"], stq["places"], stq["teaching_mode"], stq["permanent_entry"]) == ([None, 6], 6, 1, True)
    dist = t["AF-QUAL-DIST"]
    assert dist["remote"] is True and dist["places"] is None
    if version == "2.3":
        assert dist["city"] is None  # no place: allowed since 2.3 for a training at a distance
    s = {r["id"]: r for r in offer.sessions.to_dicts()}
    assert s["SE-BVS-2501"]["state"] == "fermé" and s["SE-BVS-2703"]["state"] == "ouvert"
    unknown = s["SE-BVS-NC"]
    assert (unknown["start"], unknown["end"], unknown["state"]) == (None, None, "suspendu")
    month = s["SE-BVS-2709"]
    assert (month["start"], month["start_precision"], month["end"], month["end_precision"]) == (
        date(2027, 9, 1), "month", date(2028, 3, 31), "month")
    assert s["SE-STQ-27"]["capacity"] == 10  # the organisation's own places (extension)
    generated = s["AF-SOUD-STQ-S2"]  # a session without numero gets its action's id and rank
    assert (generated["start"], generated["end"], generated["start_precision"]) == (
        date(2028, 1, 1), date(2028, 12, 31), "year")
    assert s["SE-QUAL-27"]["registration_city"] == "Paris"


def test_mode_valid_leaves_out_bad_records_and_names_them():
    offer = read_lheo(DATA / "mixed.xml", mode="valid")
    assert offer.trainings["id"].to_list() == ["A1", "A3", "A4ok"]
    assert offer.sessions["id"].to_list() == ["S1a", "S1b", "S3ok", "S4b"]
    problems = {(p.path, p.message) for p in offer.problems}
    assert ("/lheo/offres/formation[2]", "missing mandatory element <intitule-formation>") in problems
    assert any(p.path == "/lheo/offres/formation[3]/action[1]/session[1]/periode/debut" and p.found == "2027-03-01"
               for p in offer.problems)
    assert any(p.path.endswith("formation[4]/action[1]/organisme-financeur[1]/code-financeur") and p.found == "X"
               for p in offer.problems)
    assert any(p.path.endswith("formation[5]/domaine-formation/code-ROME[1]") and p.found == "h2913"
               for p in offer.problems)
    assert any(p.path == "/lheo/offres/formation[6]/action[1]" and "no valid session" in p.message
               for p in offer.problems)
    text = (DATA / "mixed.xml").read_text(encoding="utf-8").splitlines()
    for p in offer.problems:  # each line points at the element named by the path
        element = p.path.rsplit("/", 1)[-1].split("[")[0]
        assert f"<{element}" in text[p.line - 1], (p, text[p.line - 1])


@pytest.mark.parametrize("name, path, found", [
    ("missing-mandatory.xml", "/lheo/offres/formation[1]", ""),
    ("bad-date.xml", "/lheo/offres/formation[1]/action[1]/session[1]/periode/debut", "20271301"),
    ("bad-code.xml", "/lheo/offres/formation[1]/domaine-formation/code-ROME[1]", "H29X3"),
])
def test_broken_files_refused_whole_in_mode_all(name, path, found):
    with pytest.raises(ReferentielError) as caught:
        read_lheo(DATA / name, mode="all")
    error = caught.value
    assert error.column == path and error.found == found and error.line is not None
    assert name in str(error) and path in str(error)
    with pytest.raises(ReferentielError, match="no valid action"):  # nothing left to load in mode valid
        read_lheo(DATA / name, mode="valid")


def test_mode_all_refuses_a_file_with_one_bad_record():
    with pytest.raises(ReferentielError, match="intitule-formation"):
        read_lheo(DATA / "mixed.xml", mode="all")


@pytest.mark.parametrize("name", ["bomb.xml", "external-entity.xml", "external-dtd.xml"])
def test_xml_bomb_and_external_entities_are_refused(name):
    with pytest.raises(ReferentielError, match="refused") as caught:
        read_lheo(DATA / name)
    assert "root:" not in str(caught.value)  # /etc/passwd never read


def test_not_lheo_empty_and_malformed():
    with pytest.raises(ReferentielError, match="not an LHEO document"):
        read_lheo(b'<lheo xmlns="http://example.org/other"><offres/></lheo>')
    with pytest.raises(ReferentielError, match="not an LHEO document"):
        read_lheo(b"<lheo><offres/></lheo>")  # no namespace
    with pytest.raises(ReferentielError, match="no <formation>"):
        read_lheo(f'<lheo xmlns="{NAMESPACES["2.3"]}"><offres/></lheo>'.encode())
    with pytest.raises(ReferentielError, match="malformed XML") as caught:
        read_lheo(b'<lheo xmlns="http://lheo.gouv.fr/2.3">\n<offres>\n<formation>\n</offres></lheo>')
    assert caught.value.line == 4
    with pytest.raises(ReferentielError, match="mode"):
        read_lheo(DATA / "valid-2.3.xml", mode="some")
    with pytest.raises(ReferentielError, match="file not found"):
        read_lheo(DATA / "nope.xml")


def test_bad_identifier_is_a_problem():
    xml = (DATA / "valid-2.3.xml").read_text(encoding="utf-8").replace('numero="AF-SOUD-BVS"', 'numero="AF/SOUD"')
    offer = read_lheo(xml.encode())
    assert "AF-SOUD-BVS" not in offer.trainings["id"].to_list() and offer.trainings.height == 2
    assert "must not contain '/'" in offer.problems[0].message


@pytest.mark.parametrize("name, versions", [("valid-2.3.xml", ["2.3"]), ("valid-2.2.xml", ["2.2", "2.3"]),
                                            ("mixed.xml", ["2.2", "2.3"])])
def test_round_trip_read_write_read_gives_equal_records(name, versions):
    offer = read_lheo(DATA / name)
    for version in versions:
        again = read_lheo(lheo_bytes(offer.trainings, offer.sessions, version=version), mode="all")
        assert again.version == version
        assert _same_records(offer, again)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=60).map(
    lambda s: s.strip()).filter(bool)


@settings(max_examples=40, deadline=None)
@given(title=_text, content=_text, city=_text)
def test_round_trip_of_any_text_is_escaped_by_the_library(title, content, city):
    offer = read_lheo(DATA / "valid-2.3.xml")
    trainings = offer.trainings.with_columns(pl.lit(title).alias("title"), pl.lit(content).alias("content"),
                                             pl.lit(city).alias("city"))
    again = read_lheo(lheo_bytes(trainings, offer.sessions), mode="all")
    t = again.trainings.to_dicts()[0]
    assert (t["title"], t["content"]) == (title, content)
    assert again.trainings["city"].to_list()[:2] == [city, city]


def test_dates_as_the_documentation_says():
    assert parse_lheo_date("20050915") == (date(2005, 9, 15), "day")
    assert parse_lheo_date("00000000") == (None, None) and parse_lheo_date("99999999", end=True) == (None, None)
    assert parse_lheo_date("20260200", end=True) == (date(2026, 2, 28), "month")
    assert parse_lheo_date("20261200", end=True) == (date(2026, 12, 31), "month")
    assert parse_lheo_date("20260000") == (date(2026, 1, 1), "year")
    for bad in ("2026-01-01", "20261301", "20260230", "20260001", "1234567", "abcdefgh"):
        with pytest.raises(ValueError):
            parse_lheo_date(bad)
    for text, end in (("20050915", False), ("20260200", True), ("20260000", False), ("00000000", False),
                      ("99999999", True)):
        assert format_lheo_date(*parse_lheo_date(text, end=end), end=end) == text


def test_certifinfo_codes_are_read_checked_and_given_back():
    """<certification> holds a code-RNCP and a code-CERTIFINFO (both optional): the CERTIFINFO codes
    are kept with their certification and written back; a bad one is a problem naming its path."""
    xml = (DATA / "valid-2.3.xml").read_text(encoding="utf-8").replace(
        "<code-RNCP>37833</code-RNCP>\n      </certification>",
        "<code-RNCP>37833</code-RNCP>\n        <code-CERTIFINFO>110554</code-CERTIFINFO>\n      </certification>\n"
        "      <certification>\n        <code-CERTIFINFO>98765</code-CERTIFINFO>\n      </certification>", 1)
    assert "110554" in xml
    offer = read_lheo(xml.encode(), mode="all")
    bvs = offer.trainings.filter(pl.col("id") == "AF-SOUD-BVS").to_dicts()[0]
    assert bvs["rncp"] == ["37833"]
    assert json.loads(bvs["kept"])["certification"] == ["37833|110554", "|98765"]
    again = read_lheo(lheo_bytes(offer.trainings, offer.sessions), mode="all")
    assert _same_records(offer, again)
    written = lheo_bytes(offer.trainings, offer.sessions).decode()
    assert "<code-CERTIFINFO>98765</code-CERTIFINFO>" in written
    # without CERTIFINFO nothing changes in what is kept
    plain = read_lheo(DATA / "valid-2.3.xml", mode="all")
    assert all("certification" not in json.loads(k) for k in plain.trainings["kept"].to_list())
    bad = read_lheo(xml.replace("<code-CERTIFINFO>98765<", "<code-CERTIFINFO>RS98<").encode(), mode="valid")
    assert bad.problems[0].path.endswith("/certification[2]/code-CERTIFINFO[1]")
    assert "AF-SOUD-BVS" not in bad.trainings["id"].to_list()


def test_what_a_counsellor_or_a_funder_reads_is_read_and_given_back():
    """url-formation / url-action, periode-inscription, modalites-inscription, duree-indicative,
    nombre-heures-centre / -entreprise, prix-horaire-TTC, acces-handicapes, organisme-formateur,
    code-perimetre-recrutement and a second lieu-de-formation: read as the documentation sets them,
    written back in its order (2.3: equal records; 2.2 allows one place: the others are dropped)."""
    offer = read_lheo(DATA / "counsellor-2.3.xml", mode="all")
    t = offer.trainings.to_dicts()[0]
    assert t["url_formation"] == ["https://formation.example.org/maintenance"]
    assert t["url_action"] == ["https://formation.example.org/maintenance/creil", "www.example.org/creil"]
    assert (t["recruitment_scope"], t["hourly_price"], t["cost"], t["indicative_duration"]) == ("3", 12.5, 11250.0,
                                                                                             "8 mois")
    assert (t["hours_centre"], t["hours_company"], t["hours"]) == (690, 210, 900.0)
    assert t["disabled_access"].startswith("Locaux accessibles")
    assert (t["trainer_siret"], t["trainer_name"]) == ("98765432100017", "Atelier école de l'Oise")
    assert (t["city"], [json.loads(p)["city"] for p in t["other_places"]]) == ("Creil", ["Nogent-sur-Oise"])
    s = {r["id"]: r for r in offer.sessions.to_dicts()}
    first = s["SE-MAINT-2703"]
    assert first["registration_terms"].endswith("& tests de positionnement")
    assert (first["registration_from"], first["registration_to"], first["registration_to_precision"]) == (
        date(2027, 1, 5), date(2027, 3, 31), "month")
    assert s["SE-MAINT-2709"]["registration_from"] is None and s["SE-MAINT-2709"]["registration_terms"] is None
    written = lheo_bytes(offer.trainings, offer.sessions)
    assert _same_records(offer, read_lheo(written, mode="all"))
    assert b"<fin>20270300</fin>" in written  # the month is given back as a month
    two = read_lheo(lheo_bytes(offer.trainings, offer.sessions, version="2.2"), mode="all")
    assert two.trainings["other_places"].to_list() == [[]]
    one_place = read_lheo(lheo_bytes(offer.trainings, offer.sessions), mode="all")
    one_place = type(offer)(trainings=one_place.trainings.with_columns(
        pl.lit([], dtype=pl.List(pl.String)).alias("other_places")), sessions=one_place.sessions)
    assert _same_records(one_place, two)
    # a file without them reads them as absent
    plain = read_lheo(DATA / "valid-2.3.xml", mode="all").trainings
    assert plain["trainer_siret"].is_null().all() and plain["url_action"].list.len().sum() == 0


@pytest.mark.parametrize("old, new, path, record", [
    ("<urlweb>https://formation.example.org/maintenance/creil</urlweb>", "<urlweb>javascript:alert(1)</urlweb>",
     "/action[1]/url-action/urlweb[1]", "action"),
    ("<url-formation><urlweb>https://formation.example.org/maintenance</urlweb></url-formation>",
     "<url-formation></url-formation>", "/formation[1]/url-formation", "formation"),
    ("<code-perimetre-recrutement>3<", "<code-perimetre-recrutement>9<", "/action[1]/code-perimetre-recrutement",
     "action"),
    ("<prix-horaire-TTC>12.50<", "<prix-horaire-TTC>douze<", "/action[1]/prix-horaire-TTC", "action"),
    ("<nombre-heures-centre>690<", "<nombre-heures-centre>-4<", "/action[1]/nombre-heures-centre", "action"),
    ("<SIRET>98765432100017<", "<SIRET>9876<", "/action[1]/organisme-formateur/SIRET-formateur/SIRET", "action"),
    ("<duree-indicative>8 mois<", "<duree-indicative>" + "x" * 151 + "<", "/action[1]/duree-indicative", "action"),
    ("<debut>20270105</debut><fin>20270300</fin>", "<debut>20270105</debut><fin>20261200</fin>",
     "/session[1]/periode-inscription/periode", "session"),
    ("<debut>00000000</debut><fin>20270831</fin>", "<debut>00000000</debut><fin>2027-08-31</fin>",
     "/session[2]/periode-inscription/periode/fin", "session"),
    ("<modalites-inscription>Information", "<modalites-inscription>" + "y" * 250 + "Information",
     "/session[1]/modalites-inscription", "session"),
])
def test_a_bad_counsellor_element_names_its_path_and_line(old, new, path, record):
    xml = (DATA / "counsellor-2.3.xml").read_text(encoding="utf-8")
    assert old in xml
    bad = xml.replace(old, new, 1)
    line = bad[:bad.index(new)].count("\n") + 1
    if record == "session":  # the smallest record holding it is left out, the others load
        offer = read_lheo(bad.encode(), mode="valid")
        (problem,) = offer.problems
        assert problem.path.endswith(path) and problem.path.startswith("/lheo/offres/formation[1]")
        assert problem.line is not None and abs(problem.line - line) <= 1
        assert offer.trainings.height == 1 and offer.sessions.height == 1
    else:  # the file's only action (or formation) is left out: nothing valid is left
        with pytest.raises(ReferentielError) as error:
            read_lheo(bad.encode(), mode="valid")
        assert error.value.column.endswith(path) and abs(error.value.line - line) <= 1
    with pytest.raises(ReferentielError) as error:
        read_lheo(bad.encode(), mode="all")
    assert path in str(error.value)
