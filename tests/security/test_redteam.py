"""What the hostile test after issue 17's hardening found (a real server on the demo, ~700 requests),
each pinned: it failed before its fix.

1. High: a text the normaliser cannot read word by word (another script, gibberish, or one that
   compatibility decomposition inflates: U+FDFA is 18 characters once folded) went to a
   character-level fallback that compared the whole folded text with every entry: 500 x U+FDFA,
   charged 500 characters, cost 21 s of CPU (``GET /occupations?q=``, anonymous).
2. Medium: two anonymous batches held both heavy slots; counsellors and federations got 503.
3. Medium: ``/graph`` (and hubs, communities) built and exported any graph uncharged: k=50 with
   skills as gexf, 1.9 s on the demo, above the cache's 1 MB so never cached.
4. Medium: a kit with one basin repeated 2,000 times (a tension key) cost 16 s, charged as one.
5. Low: a problem echoed a huge path or name back whole (a 50,000-character path: 150 KB).
6. Info: key-like query parameters percent-encoded (``api%5Fkey=``) or a percent-encoded key
   escaped the access log's redaction.
"""

from __future__ import annotations

import pytest

import matching.normalise as normalise
from api.http.security.budget import HeavySlots
from api.http.security.logs import redact

from tests.security.conftest import key

INFLATING = "\ufdfa" * 500  # 500 characters, 9,000 once folded (NFKD)


@pytest.fixture
def extract_lengths(monkeypatch):
    """The lengths of the queries the character-level fallback compares (rapidfuzz ``process.extract``)."""
    seen: list[int] = []
    real = normalise.process.extract

    def spy(query, choices, **kwargs):
        seen.append(len(query))
        return real(query, choices, **kwargs)

    monkeypatch.setattr(normalise.process, "extract", spy)
    return seen


def test_the_fallback_compares_a_bounded_prefix_of_an_inflating_text(env, extract_lengths):
    state = env["app"].state.passerelles
    state.title_normaliser.batch([INFLATING, "\u0627\u0628 " * 160], 5)
    state.skill_normaliser.batch([INFLATING], 5)
    assert extract_lengths and max(extract_lengths) <= 100  # about a long title, not 9,000 characters
    assert max(extract_lengths) <= normalise.FALLBACK_QUERY_CHARS
    # and over HTTP, anonymous, as the attack came: answered (suggestions only, never confident)
    extract_lengths.clear()
    response = env["client"].get("/occupations", params={"q": INFLATING, "k": 3})
    assert response.status_code == 200 and response.json()["confident"] is False
    assert extract_lengths and max(extract_lengths) <= normalise.FALLBACK_QUERY_CHARS


def test_anonymous_callers_never_hold_every_heavy_slot(env):
    heavy = env["app"].state.security.heavy
    heavy.busy, heavy.busy_anonymous = 1, 1  # an anonymous batch is being computed
    try:
        anonymous = env["client"].post("/normalise/titles", json={"texts": ["soudeur"]})
        counsellor = env["client"].post("/normalise/titles", json={"texts": ["soudeur"]},
                                        headers=key(env, "counsellor"))
    finally:
        heavy.busy = heavy.busy_anonymous = 0
    assert anonymous.status_code == 503 and anonymous.headers["Retry-After"] == "2"
    assert "anonymous" in anonymous.json()["detail"] and "API key" in anonymous.json()["detail"]
    assert counsellor.status_code == 200
    assert heavy.n == 2 and heavy.anonymous == 1
    assert HeavySlots(1).anonymous == 0 and HeavySlots(4, anonymous=9).anonymous == 3


def test_the_graph_is_charged_to_the_work_budget(env):
    client = env["client"]
    big = {"k": 50, "skills": "true", "format": "gexf", "min_score": 0.0}  # 50 x 106 occupations x 2
    refused = client.get("/graph", params=big)
    assert refused.status_code == 413 and refused.json()["type"].endswith("/work-budget-exceeded")
    assert refused.json()["unit"] == "rows" and "k=" in refused.json()["detail"]
    for path in ("/graph/communities", "/graph/hubs"):
        assert client.get(path, params={"k": 50, "min_score": 0.001}).status_code == 413
    assert client.get("/graph", params={"format": "json"}).status_code == 200  # the served graph, anonymous
    keyed = client.get("/graph", params={**big, "junk": "1"}, headers=key(env, "federation"))
    assert keyed.status_code == 200 and keyed.headers["content-type"].startswith("application/gexf+xml")


def test_a_basin_repeated_in_a_kit_is_computed_once(env):
    sectors = [s["sector"] for s in env["client"].get("/sectors").json()["sectors"]]
    params = [("from_sector", sectors[0]), ("to_sector", sectors[2]), ("format", "json")]
    response = env["client"].get("/kits", params=params + [("basin", "beauvais")] * 300,
                                 headers=key(env, "federation"))
    assert response.status_code == 200
    assert [b["id"] for b in response.json()["summary"]["basins"]] == ["beauvais"]


def test_a_problem_never_echoes_a_huge_input_back(env):
    client = env["client"]
    path = client.get("/occupations/" + "A" * 50_000)
    assert path.status_code == 404 and len(path.content) < 5_000
    assert path.headers["content-type"] == "application/problem+json"
    basin = client.post("/seekers", json={"id": "S-echo", "skills": ["DS0123"], "consent": True,
                                          "basin": "x" * 100_000}, headers=key(env, "counsellor"))
    assert basin.status_code == 422 and len(basin.content) < 5_000


@pytest.mark.parametrize("query", ["api%5Fkey=SECRET", "X%2DApi%2DKey=SECRET", "apikey%5B%5D=SECRET",
                                   "q=psl%5F791dba83%5FJBGbgvbHy1xnINxxHGg4Zodyaeuq2tKof2sPsATBRiY",
                                   "API_KEY=SECRET", "a=1;token=SECRET"])
def test_percent_encoded_keys_are_redacted_from_the_access_log(query):
    logged = redact(f"/referentiel?k=5&{query}&q=soudeur")
    assert "SECRET" not in logged and "JBGbgvbHy1" not in logged
    assert logged.startswith("/referentiel?k=5&") and logged.endswith("&q=soudeur")


@pytest.mark.parametrize("stored", ["..", ".", "." + " " * 150 + "x", "S/1", "e\u0301" * 120, "\u202e"])
def test_admin_ids_renames_every_broken_id_to_a_valid_one(stored):
    from api.services.ids_admin import repaired_id
    from referentiels.ids import is_canonical_id

    assert is_canonical_id(repaired_id(stored)), repr(repaired_id(stored))


def test_the_served_graph_stays_free_to_anonymous_callers_on_a_large_referential(env, monkeypatch):
    """The README's ``/graph?format=gexf&k=10`` is the served graph: never charged (on ROME, 10 x 1,584
    occupations is above the anonymous rows budget) and exported once per format."""
    from api.http.security import budget

    charged = []
    monkeypatch.setattr(budget, "charge", lambda *args, **kwargs: charged.append(args))
    client = env["client"]
    first = client.get("/graph", params={"format": "gexf", "k": 10})
    again = client.get("/graph", params={"format": "gexf"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and not charged
