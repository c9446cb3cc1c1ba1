"""Issue 17, findings 5 to 8 (data that cannot be erased, 500s, loose types, the existence oracle):
each case as the hostile tester sent it, now a precise 422 / 404 naming the field and the rule."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import polars as pl
import pytest

from security_helpers import PROBLEM, bearer, ingest

SEEKER = {"occupation": "H2102"}
OFFER = {"occupation": "H2102"}


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


# ---- 5. one id rule for every resource and every input path ----------------------------------------

BAD_IDS = {"slash": "S/1", "nul": "S\x001", "newline": "S\n1", "rlo": "S\u202e1", "zero-width": "S\u200b1",
           "bom": "\ufeffS1", "long": "S" * 101, "blank": "   "}


@pytest.mark.parametrize("name", sorted(BAD_IDS))
@pytest.mark.parametrize("kind", ["seekers", "offers"])
def test_json_api_refuses_ids_breaking_the_rule_naming_the_field(env, kind, name):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(client.post(f"/{kind}", json={"id": BAD_IDS[name], **SEEKER}, headers=bearer(key)), 422)
    assert body["field"] == "id"
    assert "printable" in body["detail"] or "empty" in body["detail"]  # the rule is named


@pytest.mark.parametrize("value", [{"x": 1}, ["S1"], 7, True, None])
def test_a_non_text_id_is_refused_not_stored_as_text(env, value):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(client.post("/seekers", json={"id": value, **SEEKER}, headers=bearer(key)), 422)
    assert body["field"] == "id"
    assert client.get("/seekers/%7B1%7D", headers=bearer(key)).status_code == 404  # never stored as "{1}"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "parquet"])
@pytest.mark.parametrize("name", ["slash", "rlo", "zero-width", "long", "nul"])
def test_bulk_ingest_refuses_the_same_ids(env, fmt, name):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(ingest(client, "seekers", [{"id": BAD_IDS[name], **SEEKER}], fmt, key), 422)
    assert body["type"].endswith("/rejected-rows")
    assert body["rejected"][0]["reason"].startswith("id "), body["rejected"]


def test_a_nul_byte_in_a_csv_is_refused_naming_the_line_the_field_and_the_character(env):
    """A NUL byte in a CSV body is a row problem, not a 500 or a stored control character: the row is
    refused with its line, its field and U+0000 (for the id, the id rule; for any other text field,
    the same refusal), whichever field holds it; mode=valid keeps the clean rows."""
    client, key = env["client"], env["keys"]["counsellor"]
    rows = [{"id": "S\x001", **SEEKER}, {"id": "S-ok", **SEEKER},
            {"id": "S3", **SEEKER, "skills_text": ["souder\x00 TIG"]}, {"id": "S4", "occupation": "H21\x0002"}]
    body = problem(ingest(client, "seekers", rows, "csv", key), 422)
    assert body["type"].endswith("/rejected-rows") and body["written"] is False
    assert [(r["line"], r["reason"]) for r in body["rejected"]] == [
        (2, "id must hold printable characters only, not U+0000 (category Cc)"),
        (4, "skills_text holds the control character U+0000 (binary data?): expected printable text"),
        (5, "occupation holds the control character U+0000 (binary data?): expected printable text")]
    assert "line 2: id must hold printable characters only" in body["detail"]
    taken = ingest(client, "seekers", rows, "csv", key, mode="valid").json()
    assert (taken["taken"], taken["rejected_count"]) == (1, 3)
    assert client.get("/seekers/S3", headers=bearer(key)).status_code == 404


def test_a_nul_byte_in_an_offer_text_field_is_refused_not_stored(env):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(ingest(client, "offers", [{"id": "O-nul", **OFFER, "contract": "CDI\x00"}], "csv", key), 422)
    assert body["rejected"] == [{"line": 2, "id": "O-nul", "reason": "contract holds the control character U+0000 "
                                                                     "(binary data?): expected printable text"}]
    body = problem(client.post("/offers", json={"id": "O-nul", **OFFER, "contract": "CDI\x00"},
                               headers=bearer(key)), 422)
    assert body["detail"].startswith("contract holds the control character U+0000")
    assert client.get("/offers/O-nul", headers=bearer(key)).status_code == 404


def test_csv_ingest_no_longer_takes_a_500_character_id(env):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(ingest(client, "seekers", [{"id": "x" * 500, **SEEKER}], "csv", key), 422)
    assert "at most 100 characters" in body["rejected"][0]["reason"]


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_an_object_or_list_id_in_bulk_ingest_is_422_naming_the_field(env, fmt):
    client, key = env["client"], env["keys"]["counsellor"]
    for value, shape in (({"x": 1}, "an object"), (["S1"], "a list")):
        body = problem(ingest(client, "seekers", [{"id": value, **SEEKER}], fmt, key), 422)
        assert body["rejected"][0]["reason"] == f"id must be text, not {shape}"


def test_composed_and_decomposed_ids_are_one_seeker(env):
    client, key = env["client"], env["keys"]["counsellor"]
    composed, decomposed = "S-\u00e9", "S-e\u0301"
    assert unicodedata.normalize("NFC", decomposed) == composed != decomposed
    assert client.post("/seekers", json={"id": decomposed, **SEEKER}, headers=bearer(key)).status_code == 201
    assert client.post("/seekers", json={"id": composed, **SEEKER}, headers=bearer(key)).status_code == 409
    for form in (composed, decomposed):
        got = client.get(f"/seekers/{quote(form, safe='')}", headers=bearer(key))
        assert got.status_code == 200 and got.json()["id"] == composed
    # the same seeker again through bulk ingest, in the other form: replaced, not doubled
    assert ingest(client, "seekers", [{"id": decomposed, **SEEKER}], "csv", key).json()["taken"] == 1
    assert client.delete(f"/seekers/{quote(composed, safe='')}", headers=bearer(key)).status_code == 204
    assert client.get(f"/seekers/{quote(decomposed, safe='')}", headers=bearer(key)).status_code == 404


def test_a_slash_id_is_refused_so_nothing_is_unreachable(env):
    client, key = env["client"], env["keys"]["counsellor"]
    assert client.post("/seekers", json={"id": "S/1", **SEEKER}, headers=bearer(key)).status_code == 422
    assert client.post("/offers", json={"id": "O/1", **OFFER}, headers=bearer(key)).status_code == 422
    # what used to be stored is now refused, so a new POST is no 409 either
    assert client.post("/seekers", json={"id": "S/1", **SEEKER}, headers=bearer(key)).status_code == 422


def test_trainings_ingest_applies_the_id_rule(env):
    client, key = env["client"], env["keys"]["admin"]
    row = {"title": "Soudure", "organisation": "AFPA", "hours": 35, "skills": [], "remote": True}
    for value in ("T/1", "T\u202e1", {"x": 1}, "T" * 101):
        body = problem(client.post("/trainings:ingest", json=[{"id": value, **row}], headers=bearer(key)), 422)
        assert body["column"] == "id" if "column" in body else body["field"] == "id", body
        assert "id" in body["detail"]


def test_cli_match_refuses_an_id_breaking_the_rule(capsys):
    from api.cli import main

    assert main(["match", "offers", "S\u202e1", "--referentiel", "demo"]) == 2
    assert "seeker id" in capsys.readouterr().err


# ---- 6. the 500s are 422s naming the field --------------------------------------------------------

def test_a_huge_offset_is_422_naming_offset_and_the_openapi_shows_the_bound(env):
    client = env["client"]
    body = problem(client.get("/trainings?offset=10000000000000000000"), 422)
    assert body["field"] == "offset"
    parameters = client.get("/openapi.json").json()["paths"]["/trainings"]["get"]["parameters"]
    offset = next(p for p in parameters if p["name"] == "offset")["schema"]
    assert offset["minimum"] == 0 and offset["maximum"] == 10**9


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_422_too_deep(env, depth):
    client, keys = env["client"], env["keys"]
    deep = b"[" * depth + b"]" * depth
    json_ = {"content-type": "application/json"}
    trainings = problem(client.post("/trainings:ingest", content=deep, headers={**bearer(keys["admin"]), **json_}), 422)
    assert "too deep" in trainings["detail"]
    seekers = problem(client.post("/seekers:ingest", content=deep, headers={**bearer(keys["counsellor"]), **json_}),
                      422)
    assert "too deep" in seekers["detail"]
    plain = problem(client.post("/seekers", content=deep, headers={**bearer(keys["counsellor"]), **json_}), 422)
    assert plain["type"].endswith("/invalid-request")  # FastAPI's parser: the body could not be read
    nested = b'[{"id": "S1", "skills": ' + deep + b"}]"
    assert "too deep" in problem(client.post("/seekers:ingest", content=nested, headers={
        **bearer(keys["counsellor"]), **json_}), 422)["detail"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "parquet"])
def test_wrong_shapes_in_bulk_ingest_are_422_naming_field_and_type(env, fmt):
    client, key = env["client"], env["keys"]["counsellor"]
    cases = [({"id": "W1", "skills": [["DS0001"]], **SEEKER}, "skills must be a list of codes (text), not a list of lists"),
             ({"id": ["W2"], **SEEKER}, "id must be text, not a list"),
             ({"id": "W3", "occupation": ["H2102"]}, "occupation must be one value, not a list"),
             ({"id": "W4", "skills": {"a": 1}, **SEEKER}, "skills must be a list of codes (text), not an object")]
    for record, reason in cases:
        body = problem(ingest(client, "seekers", [record], fmt, key), 422)
        assert body["rejected"][0]["reason"] == reason, (record, body)


def test_numbers_beyond_their_range_are_422(env):
    client, key = env["client"], env["keys"]["counsellor"]
    h = {**bearer(key), "content-type": "application/json"}
    for field, value in (("lat", b"1e400"), ("lon", b"-181"), ("radius_km", b"1e308"), ("lat", b"NaN")):
        raw = b'{"id": "N1", "occupation": "H2102", "' + field.encode() + b'": ' + value + b"}"
        assert problem(client.post("/seekers", content=raw, headers=h), 422)["field"] == field
    for query, field in (("k=100000000000000000000", "k"), ("radius=1e400", "radius"),
                         ("tension_weight=2", "tension_weight"), ("k=0", "k")):
        assert problem(client.get(f"/seekers/N1/offers?{query}", headers=bearer(key)), 422)["field"] == field
    rows = [{"id": "N2", "lat": 1e300, "lon": 2.0, **SEEKER}, {"id": "N3", "radius_km": -1, **SEEKER}]
    body = problem(ingest(client, "seekers", rows, "parquet", key), 422)
    assert [r["reason"].split()[0] for r in body["rejected"]] == ["lat", "radius_km"]


# ---- 7. consent is a JSON boolean; the documented yes/no words in files ----------------------------

@pytest.mark.parametrize("value", ["yes", 1, "true", 0, "oui", None])
def test_consent_must_be_a_json_boolean(env, value):
    client, key = env["client"], env["keys"]["counsellor"]
    body = problem(client.post("/seekers", json={"id": "C1", "consent": value, **SEEKER}, headers=bearer(key)), 422)
    assert body["field"] == "consent"
    assert client.post("/seekers", json={"id": "C1", "consent": True, **SEEKER}, headers=bearer(key)).status_code == 201
    assert client.delete("/seekers/C1", headers=bearer(key)).status_code == 204


def test_files_take_the_documented_yes_no_words_only(env):
    from referentiels.csvfiles import NO_WORDS, YES_WORDS

    client, key = env["client"], env["keys"]["counsellor"]
    words = [w.upper() if i % 2 else w for i, w in enumerate(YES_WORDS + NO_WORDS)]
    rows = [{"id": f"Y{i}", "consent": w, **SEEKER} for i, w in enumerate(words)]
    assert ingest(client, "seekers", rows, "csv", key).json()["taken"] == len(rows)
    stored = [client.get(f"/seekers/Y{i}", headers=bearer(key)).json()["consent"] for i in range(len(rows))]
    assert stored == [True] * len(YES_WORDS) + [False] * len(NO_WORDS)
    for word in ("y", "o", "t", "f", "n", "maybe", "2"):  # what the old copy of the list also took
        body = problem(ingest(client, "seekers", [{"id": "Y-bad", "consent": word, **SEEKER}], "csv", key), 422)
        assert body["rejected"][0]["reason"].startswith("consent must be a yes/no word"), word


def test_batch_consent_uses_the_same_words():
    from api.services.batch_jobs import consent_of
    from api.services.errors import IngestError

    assert consent_of(pl.DataFrame({"consent": ["oui", "NO", None, "1"]})).tolist() == [True, False, False, True]
    with pytest.raises(IngestError, match="yes/no word"):
        consent_of(pl.DataFrame({"consent": ["y"]}))


# ---- 8. no existence oracle: another employer's offer is an offer that does not exist -------------

def test_another_employers_offer_answers_as_an_unknown_one(env):
    client, keys = env["client"], env["keys"]
    a, b = bearer(keys["employer_a"]), bearer(keys["employer_b"])
    assert client.post("/offers", json={"id": "O-MINE", **OFFER}, headers=a).status_code == 201
    for method, path in (("GET", "/offers/{}"), ("DELETE", "/offers/{}"), ("GET", "/offers/{}/candidates"),
                         ("PUT", "/offers/{}")):
        answers = []
        for offer in ("O-MINE", "O-NEVER"):
            kwargs = {"json": {"id": offer, **OFFER}} if method == "PUT" else {}
            response = client.request(method, path.format(offer), headers=b, **kwargs)
            body = response.json()
            if method == "PUT":
                # offer ids are per employer: a PUT creates B's own offer, whether A has the id or not
                assert response.status_code == 201 and body["employer"] == "EMP-B", body
                assert client.delete(path.format(offer), headers=b).status_code == 204
                answers.append((response.status_code, body["employer"]))
                continue
            answers.append((response.status_code, body["type"], body["title"], body["detail"].replace(offer, "X")))
        assert answers[0] == answers[1], (method, path, answers)
        assert answers[0][0] in (404, 201) and (method == "PUT" or answers[0][1].endswith("/unknown-offer")), answers
    # the owner and a counsellor still see it, unchanged
    assert client.get("/offers/O-MINE", headers=a).json()["employer"] == "EMP-A"
    assert client.get("/offers/O-MINE", headers=bearer(keys["counsellor"])).status_code == 200
