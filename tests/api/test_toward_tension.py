"""Bridges and offers toward tension (issue 6 item 5) on the demo referential: one ranking path, every
filter still honoured, the tension read from the store at the time of the request."""

from __future__ import annotations

import pytest


PROBLEM = "application/problem+json"
METAL = "Industrie - Métallurgie"
FOOD_LINE = ["DS0017", "DS0020", "DS0021", "DS0022", "DS0107", "DS0108", "DS0109", "DS0110", "DS0111"]


def offer(i: int, occupation: str, basin: str = "beauvais", must=()) -> dict:
    return {"id": f"O-{occupation}-{basin}-{i}", "employer": "E1", "occupation": occupation, "must": list(must),
            "desired": [], "basin": basin, "contract": "CDI"}


def seeker(i: int, occupation: str, basin: str = "beauvais") -> dict:
    return {"id": f"S-{occupation}-{basin}-{i}", "occupation": occupation, "basin": basin, "skills": [],
            "consent": True}


@pytest.fixture(scope="module")
def env(make_app, serve):
    app = make_app(rate_limit_per_minute=1_000_000, rate_limit_burst=100_000)
    keys = {role: app.state.security.keys.create(role, **({"employer": "E1"} if role == "employer" else {}))[0]
            for role in ("counsellor", "federation", "employer")}
    client = serve(app)
    plain = client.get("/occupations/H2102/passerelles", params={"k": 10}).json()["passerelles"]
    first, third = plain[0]["code"], plain[2]["code"]
    pool = app.state.passerelles.pool
    # Beauvais: employers want the third-best target, the best one has many seekers and no offer
    for i in range(12):
        pool.put("offers", offer(i, third))
    for i in range(10):
        pool.put("seekers", seeker(i, first))
    yield {"client": client, "keys": keys, "first": first, "third": third, "plain": plain, "app": app}


def get(env, role="counsellor", **params):
    headers = {"X-API-Key": env["keys"][role]} if role else {}
    return env["client"].get("/occupations/H2102/passerelles", params=params, headers=headers)


def test_toward_tension_puts_the_target_in_tension_first(env):
    body = get(env, k=10, basin="beauvais", toward_tension=True).json()
    ranked = body["passerelles"]
    assert body["basin"] == {"id": "beauvais", "name": "Beauvais"} and body["filters"]["toward_tension"] is True
    assert ranked[0]["code"] == env["third"], "12 offers and no seeker: the safe and desirable move comes first"
    assert [p["code"] for p in ranked] != [p["code"] for p in env["plain"]]
    combined = [p["combined"] for p in ranked]
    assert combined == sorted(combined, reverse=True)
    top = ranked[0]
    assert (top["offers"], top["seekers"]) == (12, 0) and top["tension"] == round(13 / 14, 4)
    assert env["first"] not in [p["code"] for p in ranked[:3]], "the saturated best bridge falls back"
    saturated = next(p for p in get(env, k=40, basin="beauvais", toward_tension=True).json()["passerelles"]
                     if p["code"] == env["first"])
    assert (saturated["offers"], saturated["seekers"]) == (0, 10) and saturated["tension"] < 0.5
    assert saturated["combined"] < saturated["score"], "a saturated target loses rank"
    balanced = [p for p in ranked if p["offers"] == p["seekers"] == 0]
    assert balanced and all(p["tension"] == 0.5 for p in balanced)
    # the bridge itself is unchanged: same score and explanation as the plain ranking
    plain = {p["code"]: p for p in env["plain"]}
    for p in ranked:
        if p["code"] in plain:
            assert p["score"] == plain[p["code"]]["score"] and p["shared"] == plain[p["code"]]["shared"]


def test_basin_without_the_toggle_annotates_but_keeps_the_bridge_order(env):
    ranked = get(env, k=10, basin="beauvais").json()["passerelles"]
    assert [p["code"] for p in ranked] == [p["code"] for p in env["plain"]]
    assert all(p["tension"] is not None and p["offers"] is not None for p in ranked)
    assert all(p["tension"] is None and p["combined"] is None for p in env["plain"]), "no basin, no tension"


def test_weight_zero_is_the_plain_bridge_ranking(env):
    ranked = get(env, k=10, basin="beauvais", toward_tension=True, tension_weight=0).json()["passerelles"]
    assert [p["code"] for p in ranked] == [p["code"] for p in env["plain"]]


@pytest.mark.parametrize("filters", [
    {"cross_sector_only": True},
    {"sector": METAL},
    {"domain": "H"},
    {"min_score": 0.2},
    {"min_label": "viable"},
    {"sector": METAL, "min_score": 0.05, "cross_sector_only": True},
])
def test_every_filter_still_holds_toward_tension(env, filters):
    plain = get(env, k=500, **filters).json()["passerelles"]
    toward = get(env, k=500, basin="beauvais", toward_tension=True, **filters).json()["passerelles"]
    assert plain, filters
    assert {p["code"] for p in toward} == {p["code"] for p in plain}, "same candidates, only the order moves"
    short = get(env, k=3, basin="beauvais", toward_tension=True, **filters).json()["passerelles"]
    assert [p["code"] for p in short] == [p["code"] for p in toward[:3]]


def test_the_basin_route_ranks_the_same_way(env):
    params = {"k": 8, "sector": METAL, "cross_sector_only": True}
    here = get(env, basin="beauvais", toward_tension=True, **params).json()["passerelles"]
    there = env["client"].get("/basins/beauvais/passerelles/H2102", params=params,
                              headers={"X-API-Key": env["keys"]["federation"]}).json()["passerelles"]
    assert here and [(p["code"], p["combined"]) for p in here] == [(p["code"], p["combined"]) for p in there]
    r = env["client"].get("/basins/beauvais/passerelles/H2102", params={"sector": "Metal"},
                          headers={"X-API-Key": env["keys"]["federation"]})
    assert r.status_code == 404 and r.json()["type"].endswith("unknown-sector")


def test_toggle_needs_a_known_basin_and_a_tension_key(env):
    r = get(env, toward_tension=True)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["field"] == "basin" and "toward_tension" in r.json()["detail"]
    r = get(env, basin="beauvai", toward_tension=True)
    assert r.status_code == 404 and r.json()["type"].endswith("unknown-basin")
    assert r.json()["suggestions"][0]["code"] == "beauvais"
    r = get(env, role=None, basin="beauvais", toward_tension=True)
    assert r.status_code == 401 and r.json()["field"] == "basin"
    r = get(env, role="employer", basin="beauvais", toward_tension=True)
    assert r.status_code == 403
    assert get(env, role="federation", basin="beauvais", toward_tension=True).status_code == 200
    assert get(env, role=None).status_code == 200, "the plain bridges stay public"


def test_a_write_moves_the_ranking_at_once(env):
    """Answers toward tension are never served from the response cache: they follow the store."""
    params = {"k": 10, "basin": "bayonne", "toward_tension": True}
    before = get(env, **params).json()["passerelles"]
    assert all(p["tension"] == 0.5 for p in before)
    pool = env["app"].state.passerelles.pool
    for i in range(8):
        pool.put("offers", offer(i, env["third"], basin="bayonne"))
    after = get(env, **params).json()["passerelles"]
    assert after[0]["code"] == env["third"] and after[0]["offers"] == 8
    assert get(env, role=None, **params).status_code == 401, "a cached answer never skips the key check"


# ---- a seeker's offers toward tension -------------------------------------------------------------
@pytest.fixture(scope="module")
def offers_env(env):
    pool = env["app"].state.passerelles.pool
    pool.put("seekers", {"id": "dupont", "occupation": "H2102", "skills": FOOD_LINE, "basin": "saint-quentin",
                         "radius_km": 60, "consent": True})
    # two offers the seeker fits about as well: one for an occupation saturated with seekers, one in tension
    pool.put("offers", offer(0, "H2102", basin="saint-quentin", must=["DS0107", "DS0108"]))
    pool.put("offers", offer(0, "H2906", basin="saint-quentin", must=["DS0107", "DS0108"]))
    for i in range(4):
        pool.put("offers", offer(i + 1, "H2906", basin="saint-quentin", must=["DS0190"]))
    for i in range(12):
        pool.put("seekers", seeker(i, "H2102", basin="saint-quentin"))
    return env


def offers(env, **params):
    return env["client"].get("/seekers/dupont/offers", params=params,
                             headers={"X-API-Key": env["keys"]["counsellor"]})


def test_seeker_offers_toward_tension(offers_env):
    plain = offers(offers_env, k=5)
    assert plain.status_code == 200, plain.text
    plain = plain.json()["offers"]
    toward = offers(offers_env, k=5, toward_tension=True).json()
    ranked = toward["offers"]
    assert toward["toward_tension"] is True and toward["basin"] == "saint-quentin"
    assert {o["offer"]["id"] for o in ranked} == {o["offer"]["id"] for o in plain}
    assert plain[0]["offer"]["occupation"] == "H2102", "same occupation: the best plain match"
    assert ranked[0]["offer"]["occupation"] == "H2906", "the occupation in tension comes first"
    combined = [o["combined"] for o in ranked]
    assert combined == sorted(combined, reverse=True)
    by_id = {o["offer"]["id"]: o for o in plain}
    for o in ranked:
        assert o["score"] == by_id[o["offer"]["id"]]["score"], "the match score itself is unchanged"
        assert 0 < o["tension"] < 1
    assert "tension" not in plain[0]
    same = offers(offers_env, k=5, toward_tension=True, tension_weight=0).json()["offers"]
    assert [o["offer"]["id"] for o in same] == [o["offer"]["id"] for o in plain]
