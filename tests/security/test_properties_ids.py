"""Property tests of the id rule and of payload shapes on every write endpoint (issue 17).

For ids drawn from text with controls, bidirectional and zero-width characters, '/', composed and
decomposed letters, ids around 100 characters, and non-text JSON values, on ``POST`` and ``PUT`` of
seekers and offers, ``seekers:ingest`` / ``offers:ingest`` in JSON, JSON Lines, CSV and Parquet, and
``trainings:ingest``:

- never a 5xx;
- an id is accepted exactly when ``referentiels.ids`` says it is valid (the one rule everywhere),
  and stored in its canonical form;
- every accepted id can be read, replaced and deleted through the URL, percent-encoded, in the form
  given and in the canonical one (trainings: read and replaced; the API deletes trainings only by
  replacing the catalogue).

And for arbitrary JSON values in every field of a record (lists of lists, objects, numbers out of
range ...): never a 5xx. In-process (TestClient), ``max_examples`` 40-60 per property.
"""

from __future__ import annotations

import json

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from referentiels.ids import id_problem
from security_helpers import bearer, encode, ingest

SPECIAL = ["/", "\x00", "\n", "\r", "\t", "\x1c", "\u202e", "\u202d", "\u2066", "\u200b", "\ufeff", "\u00a0",
           "\u2028", "\u0301", "e\u0301", "\u00e9", "%", "?", "#", "\\", '"', "'", " ", ".", "..", "~", "+", "&",
           "\U0001F600", "\U000E0001", "\uE000"]
TEXT_IDS = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.sampled_from(list("aZ09-_é"))), max_size=8).map("".join),
    st.integers(95, 105).flatmap(lambda n: st.just("x" * n)),
    st.integers(48, 52).flatmap(lambda n: st.just("e\u0301" * n)),  # 100 characters composed, more decomposed
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=6))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=3), inner, max_size=2)),
                           max_leaves=6)
ANY_ID = st.one_of(TEXT_IDS, TEXT_IDS, TEXT_IDS, JSON_VALUES)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BODY = {"seekers": {"occupation": "H2102", "skills": []}, "offers": {"occupation": "H2102", "must": []}}
FIELDS = {"seekers": ["skills", "skills_text", "occupation", "past_occupations", "basin", "lat", "lon", "radius_km",
                      "consent"],
          "offers": ["employer", "occupation", "must", "desired", "basin", "lat", "lon", "contract", "opening"]}


def url(kind: str, value: str) -> str:
    """The record's URL, ``value`` percent-encoded as one path segment. Starlette's TestClient
    unquotes httpx's already-decoded ``url.path`` once more (starlette/testclient.py: ``unquote(path)``),
    so the segment is encoded twice here: the app then sees what a real server (one decoding) sees
    for the segment encoded once (an id holding '%' is the case where the two differ)."""
    return f"/{kind}/{quote(quote(value, safe=''), safe='')}"


def round_trip(client, headers: dict, kind: str, given_id, stored: str) -> None:
    """Read in both forms, replace, delete, read again: 200, 200, 200, 204, 404."""
    for form in {given_id, stored} if isinstance(given_id, str) else {stored}:
        got = client.get(url(kind, form), headers=headers)
        assert got.status_code == 200, (form, got.text)
        assert got.json()["id"] == stored
    replaced = client.put(url(kind, stored), json={"id": stored, **BODY[kind], "basin": None}, headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert client.delete(url(kind, stored), headers=headers).status_code == 204
    assert client.get(url(kind, stored), headers=headers).status_code == 404


@pytest.mark.parametrize("kind", ["seekers", "offers"])
@FAST
@given(value=ANY_ID)
def test_post_accepts_exactly_the_valid_ids_and_each_round_trips(env, kind, value):
    client, headers = env["client"], bearer(env["keys"]["counsellor"])
    expected, reason = id_problem(value)
    response = client.post(f"/{kind}", json={"id": value, **BODY[kind]}, headers=headers)
    assert response.status_code < 500, response.text
    if reason is not None:
        assert response.status_code == 422 and response.json()["field"] == "id", (value, response.text)
        return
    assert response.status_code == 201, (value, response.text)
    assert response.json()["id"] == expected
    round_trip(client, headers, kind, value, expected)


@pytest.mark.parametrize("kind", ["seekers", "offers"])
@FAST
@given(value=TEXT_IDS)
def test_put_at_the_percent_encoded_id_creates_exactly_the_valid_ones(env, kind, value):
    client, headers = env["client"], bearer(env["keys"]["counsellor"])
    expected, reason = id_problem(value)
    response = client.put(url(kind, value), json={"id": value, **BODY[kind]}, headers=headers)
    assert response.status_code < 500, response.text
    if reason is not None:
        assert 400 <= response.status_code < 500, (value, response.text)  # 422, or 404/405 when it is no path
        return
    assert response.status_code == 201, (value, response.text)
    round_trip(client, headers, kind, value, expected)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "parquet"])
@pytest.mark.parametrize("kind", ["seekers", "offers"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=ANY_ID)
def test_bulk_ingest_applies_the_same_rule_in_every_format(env, kind, fmt, value):
    client, headers = env["client"], bearer(env["keys"]["counsellor"])
    if fmt == "csv" and not isinstance(value, str):
        value = str(value)  # a CSV cell is text
    if fmt == "parquet":
        try:
            encode([{"id": value, **BODY[kind]}], fmt)
        except Exception:  # a value Parquet cannot hold (an empty object, mixed types): no client can send it
            reject()
    expected, reason = id_problem(value)
    response = ingest(client, kind, [{"id": value, **BODY[kind]}], fmt, env["keys"]["counsellor"])
    assert response.status_code < 500, response.text
    if fmt == "csv" and reason is None and ("\x00" in value or "\r" in value) and response.status_code == 422:
        return  # a valid id once trimmed ("0\r"), but the CSV reader may refuse the whole file: either is fine
    if reason is not None:
        assert response.status_code == 422, (value, response.text)
        return
    assert response.status_code == 200 and response.json()["taken"] == 1, (value, response.text)
    round_trip(client, headers, kind, value if fmt != "parquet" or isinstance(value, str) else expected, expected)


@pytest.mark.parametrize("kind", ["seekers", "offers"])
@FAST
@given(data=st.data())
def test_arbitrary_shapes_on_every_field_never_answer_5xx(env, kind, data):
    client, key = env["client"], env["keys"]["counsellor"]
    fields = data.draw(st.lists(st.sampled_from(FIELDS[kind]), unique=True, max_size=4))
    record = {"id": "SHAPE-1", **BODY[kind], **{f: data.draw(JSON_VALUES, label=f) for f in fields}}
    # Sent as Python's json writes it (NaN/Infinity included, as a careless client would): the
    # test client's own encoder refuses those values before the server could.
    body, headers = json.dumps(record), {**bearer(key), "Content-Type": "application/json"}
    for response in (client.post(f"/{kind}", content=body, headers=headers),
                     client.put(f"/{kind}/SHAPE-1", content=body, headers=headers)):
        assert response.status_code < 500, (record, response.text)
    fmt = data.draw(st.sampled_from(["json", "jsonl", "parquet", "csv"]), label="format")
    if fmt == "parquet":
        try:
            encode([record], fmt)
        except Exception:  # a shape Parquet cannot hold: no client can send it
            return
    response = ingest(client, kind, [record], fmt, key, mode="valid")
    assert response.status_code < 500, (fmt, record, response.text)
    client.delete(f"/{kind}/SHAPE-1", headers=bearer(key))


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@FAST
@given(value=ANY_ID, title=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20))
def test_trainings_ingest_takes_exactly_the_valid_ids_and_they_can_be_read_and_replaced(env, fmt, value, title):
    import polars as pl

    client, headers = env["client"], bearer(env["keys"]["admin"])
    skill = env["app"].state.passerelles.referentiel.skill_codes[0]
    row = {"title": "Formation", "organisation": "Organisme", "hours": 35, "skills": [skill], "remote": "true"}
    if fmt == "csv":
        value = value if isinstance(value, str) else str(value)
    expected, reason = id_problem(value)
    if fmt == "csv":  # the CSV reader trims every cell (polars' Unicode whitespace) before the id rule
        trimmed = pl.Series([value]).str.strip_chars()[0]
        expected, reason = id_problem(trimmed) if trimmed else (None, "empty")
    sent = encode([{"id": value, **row}], fmt)
    media = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}[fmt]
    response = client.post("/trainings:ingest", content=sent, headers={**headers, "content-type": media})
    assert response.status_code < 500, response.text
    if reason is not None or response.status_code != 200:
        assert response.status_code == 422, (value, response.text)
        if fmt != "csv" or not ("\x00" in value or "\r" in value):
            assert reason is not None, (value, response.text)  # a valid id is never refused
        return
    listed = client.get("/trainings", params={"q": "Formation", "limit": 1000}).json()["trainings"]
    assert [t["id"] for t in listed].count(expected) == 1, (value, expected)
    again = encode([{"id": value, **row, "title": "Formation " + title}], fmt)
    replaced = client.post("/trainings:ingest", content=again, headers={**headers, "content-type": media})
    assert replaced.status_code == 200 and replaced.json()["received"] == 1, replaced.text
    listed = client.get("/trainings", params={"q": "Formation", "limit": 1000}).json()["trainings"]
    mine = [t for t in listed if t["id"] == expected]
    assert len(mine) == 1 and mine[0]["title"] == ("Formation " + title).strip()


# ---- the rule's two implementations agree; the JSON depth scan is exact ----------------------------

@settings(max_examples=200, deadline=None)
@given(values=st.lists(TEXT_IDS, max_size=8))
def test_vectorised_and_python_id_checks_agree(values):
    import polars as pl

    from referentiels.ids import check_ids

    canonical, reasons = check_ids(pl.Series("id", values, dtype=pl.String))
    assert [(c, r) for c, r in zip(canonical.to_list(), reasons.to_list())] == [id_problem(v) for v in values]


def _depth_reference(data: bytes) -> int:
    """Nesting depth by a plain walk over the characters (strings and escapes followed one by one)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in data.decode():
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES | st.text(alphabet='[]{}"\\ab', max_size=12), chunk=st.sampled_from([1, 2, 3, 5, 1 << 22]),
       ascii_only=st.booleans())
def test_json_depth_is_the_nesting_depth(value, chunk, ascii_only):
    import json

    from referentiels.ids import json_depth

    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(data, chunk) == _depth_reference(data)
