"""The error model: problem+json everywhere, 422s a non-developer can act on, and targeted attacks
(injection in every text field, huge and malformed payloads, unicode edge cases) that must end in
a 2xx or a 4xx problem, never a 5xx, and leave the data intact."""

from __future__ import annotations

import sqlite3
import warnings

import pytest


warnings.filterwarnings("ignore", category=DeprecationWarning)

PROBLEM = "application/problem+json"

INJECTIONS = [
    "'; DROP TABLE seekers; --",
    "\" OR \"1\"=\"1",
    "1; SELECT * FROM api_keys",
    "<script>alert(1)</script>",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "../../../../etc/passwd",
    "%00%2e%2e%2f",
    "$(rm -rf /)`id`",
    "{\"$gt\": \"\"}",
    "\\x00\\u0000",
    "A" * 5000,
]
UNICODE = [
    "opérateur de ligne",                   # accents
    "ope\u0301rateur",                       # combining accent
    "\u202eenil ed ruetarépo",               # right-to-left override
    "soudeur 👷‍♀️🔥",                          # emoji with ZWJ
    "\u200b\u200c\u200d\ufeff",              # only zero-width characters
    "ＯＰＥＲＡＴＥＵＲ",                         # full-width
    "𝔬𝔭𝔢𝔯𝔞𝔱𝔢𝔲𝔯",                             # mathematical letters (astral plane)
    "a\u0000b",                              # NUL
    "\ud800",                                # lone surrogate (not encodable in UTF-8)
    "Z\u0351\u0360\u0362" * 300,             # zalgo
]


@pytest.fixture(scope="module")
def env(tmp_path_factory, make_app, serve):
    database = tmp_path_factory.mktemp("db") / "p.sqlite3"
    app = make_app(database=database, rate_limit_per_minute=10_000_000, rate_limit_burst=1_000_000,
                   max_body_bytes=1_000_000)
    keys = app.state.security.keys
    counsellor = {"Authorization": f"Bearer {keys.create('counsellor')[0]}"}
    admin = {"Authorization": f"Bearer {keys.create('admin')[0]}"}
    client = serve(app, raise_server_exceptions=False)
    assert client.post("/seekers", json={"id": "S-1", "occupation": "H2102", "consent": True},
                       headers=counsellor).status_code == 201
    yield {"client": client, "counsellor": counsellor, "admin": admin, "database": database}


def assert_problem(response, status: int | None = None) -> dict:
    assert response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), response.headers
        body = response.json()
        assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == response.status_code
        assert body["type"].startswith("https://passerelles.example/problems/")
        return body
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else {}


# -- 422 messages ------------------------------------------------------------------------------------

def test_missing_field_is_named_in_a_sentence(env):
    body = assert_problem(env["client"].post("/seekers", json={"skills": []}, headers=env["counsellor"]), 422)
    assert body["field"] == "id" and body["detail"] == "'id' is required: add it to the body."


def test_wrong_types_and_ranges_say_what_is_expected(env):
    client, h = env["client"], env["counsellor"]
    body = assert_problem(client.post("/seekers", json={"id": "x", "lat": 123, "consent": "maybe", "skills": "DS1"},
                                      headers=h), 422)
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert messages["lat"] == "'lat' must be at most 90, not 123."
    assert messages["consent"].startswith("'consent' must be true or false")
    assert messages["skills"].startswith("'skills' must be a list")
    assert "more problems listed in 'errors'" in body["detail"]
    query = assert_problem(client.get("/occupations", params={"q": "soudeur", "k": "many"}), 422)
    assert query["field"] == "k" and query["detail"] == "'k' must be a whole number, not 'many'."
    too_long = assert_problem(client.post("/seekers", json={"id": "x" * 101}, headers=h), 422)
    assert too_long["detail"].startswith("'id' must have at most 100 characters (it has 101): ")
    assert too_long["field"] == "id" and "printable" in too_long["detail"]  # the id rule, named


def test_malformed_json_and_wrong_shapes(env):
    client, h = env["client"], {**env["counsellor"], "content-type": "application/json"}
    for raw in (b"{bad", b"", b"[1, 2", b"\xff\xfe\x00", b"null", b"42", b'"text"', b"[]", b"{\"id\": }"):
        body = assert_problem(client.post("/seekers", content=raw, headers=h), 422)
        assert body["detail"] and body["detail"][0].isupper(), (raw, body)
    body = assert_problem(client.post("/seekers", content=b"{bad", headers=h), 422)
    assert "not valid JSON" in body["detail"] and body.get("field") is None


def test_unknown_paths_and_methods_are_problems(env):
    client = env["client"]
    assert_problem(client.get("/no/such/thing"), 404)
    body = assert_problem(client.patch("/seekers/S-1", headers=env["counsellor"]), 405)
    assert body["type"].endswith("/method-not-allowed")


# -- injection in every text field -------------------------------------------------------------------

@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_text_fields_is_inert(env, text):
    client, h = env["client"], env["counsellor"]
    # query strings and path segments of the referential
    assert_problem(client.get("/occupations", params={"q": text}))
    assert_problem(client.get(f"/occupations/{text}"))
    assert_problem(client.get("/occupations/H2102/passerelles", params={"sector": text}))
    assert_problem(client.get("/kits", params={"from_sector": text, "to_sector": text}))
    assert_problem(client.post("/normalise/titles", json={"texts": [text]}))
    assert_problem(client.post("/normalise/skills", json={"texts": [text], "k": 3}))
    # stored records: ids and free text are stored verbatim, as data
    seeker = {"id": text[:100], "occupation": "H2102", "skills_text": [text[:500]], "basin": text[:50]}
    created = client.put(f"/seekers/{text[:100]}", json=seeker, headers=h)
    assert_problem(created)
    offer = {"id": text[:100], "occupation": "H2102", "contract": text, "employer": text}
    assert_problem(client.post("/offers", json=offer, headers=h))
    assert_problem(client.get(f"/seekers/{text[:100]}", headers=h))
    assert_problem(client.get("/audit", params={"resource_id": text[:200]}, headers=env["admin"]))
    # and the database is intact
    conn = sqlite3.connect(env["database"])
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"seekers", "offers", "api_keys", "audit_log"} <= tables
    assert conn.execute("SELECT count(*) FROM seekers WHERE id = 'S-1'").fetchone()[0] == 1
    conn.close()


def test_injected_id_round_trips_verbatim(env):
    client, h = env["client"], env["counsellor"]
    text = "'; DROP TABLE seekers; --"
    assert client.put(f"/seekers/{text}", json={"id": text, "occupation": "H2102"}, headers=h).status_code in (200, 201)
    assert client.get(f"/seekers/{text}", headers=h).json()["id"] == text


# -- unicode edge cases ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", UNICODE, ids=range(len(UNICODE)))
def test_unicode_edge_cases(env, text):
    client, h = env["client"], env["counsellor"]
    safe = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert_problem(client.get("/occupations", params={"q": safe[:400]}))
    assert_problem(client.post("/normalise/titles", json={"texts": [safe[:400]]}))
    raw = b'{"texts": ["' + text.encode("utf-8", "surrogatepass") + b'"]}'  # lone surrogate as raw bytes
    assert_problem(client.post("/normalise/titles", content=raw, headers={"content-type": "application/json"}))
    escaped = '{"texts": ["%s"]}' % "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text[:400])
    assert_problem(client.post("/normalise/titles", content=escaped.encode("utf-8", "surrogatepass"),
                               headers={"content-type": "application/json"}))
    seeker = {"id": safe[:100] or "empty", "occupation": "H2102", "skills_text": [safe[:400]]}
    assert_problem(client.post("/seekers", json=seeker, headers=h))


# -- huge and malformed payloads ---------------------------------------------------------------------

def test_huge_payloads(env):
    client, h = env["client"], env["counsellor"]
    body = assert_problem(client.post("/seekers", content=b"[" + b"0," * 600_000 + b"0]",
                                      headers={**h, "content-type": "application/json"}), 413)
    assert body["max_bytes"] == 1_000_000
    # under the byte limit but over the item limits: 422 naming the field
    many = assert_problem(client.post("/seekers", json={"id": "x", "skills": ["DS0001"] * 501}, headers=h), 422)
    assert many["field"] == "skills" and "at most 500 items" in many["detail"]
    assert_problem(client.post("/normalise/titles", json={"texts": ["x"] * 10_001}), 422)
    # very long query string
    assert_problem(client.get("/occupations", params={"q": "soudeur " * 2000}))


def test_deeply_nested_json_is_a_problem_not_a_crash(env):
    client, h = env["client"], {**env["counsellor"], "content-type": "application/json"}
    for depth in (1_000, 100_000):
        assert_problem(client.post("/seekers", content=b"[" * depth + b"]" * depth, headers=h))
        assert_problem(client.post("/normalise/titles", content=b'{"texts": ' + b"[" * depth + b"]" * depth + b"}",
                                   headers={"content-type": "application/json"}))


def test_wrong_content_types(env):
    client, h = env["client"], env["counsellor"]
    assert_problem(client.post("/seekers", content=b"id=1", headers={**h, "content-type": "application/x-www-form-urlencoded"}))
    assert_problem(client.post("/seekers:ingest", content=b"\x00\x01garbage", headers={**h, "content-type": "image/png"}), 415)
    assert_problem(client.post("/seekers:ingest", content=b"PAR1\x00garbage", headers={**h, "content-type": "application/vnd.apache.parquet"}))
    assert_problem(client.post("/seekers:ingest", content=b"id,skills\n\"unclosed", headers={**h, "content-type": "text/csv"}))
