"""Matching both ways on the embedded demo referential, through the real service (store + index).

- Recoverability: seekers drawn from occupation X (30% of X's skills dropped, 10% noise skills from
  neighbouring occupations, some skills in free text read by the normaliser) find as best offer one
  of X or of X's 10 best bridges in >= 90% of cases (measured: 0.99 on the demo, 400 seekers).
- A food-industry line operator (H2102) with no food offer within reach finds metallurgy
  line / machine operator offers in his top-10, and the explanation names the bridge.
- The index follows the store: writes by another process (another Pool on the same file) reach it.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import referentiels
from api.services.pool_service import Pool
from api.storage.store import Store
from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.normalise import SkillNormaliser
from referentiels.synthetic import synthesize
from referentiels.territories import default_basins

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


@pytest.fixture(scope="module")
def model(demo):
    space = SkillSpace.from_referentiel(demo)
    return {"r": demo, "space": space, "bridges": BridgeModel.from_referentiel(demo, space),
            "normaliser": SkillNormaliser.fit(demo)}


def make_pool(model, path, basins) -> Pool:
    return Pool(Store(path), model["r"], model["space"], model["bridges"], skill_normaliser=model["normaliser"],
                basins=basins)


def top_bridges(model, code: str, n: int = 10) -> set[str]:
    r = model["r"]
    x = r.occupation_row(code)
    scores = np.asarray(model["bridges"].scores_from(x), dtype=np.float64).copy()
    scores[x] = -1.0
    return {r.occupation_codes[i] for i in np.argsort(-scores, kind="stable")[:n]}


def test_recoverability_of_noisy_seekers_is_at_least_90_percent(model, tmp_path):
    r = model["r"]
    basins = default_basins().head(1)
    offers = synthesize(r, 0, 3 * r.n_occupations, basins, seed=1, zipf=0.0).offers
    seekers = synthesize(r, 300, 0, basins, seed=2, zipf=0.0, drop=0.3, noise=0.1, text_share=0.2).seekers
    assert seekers["skills_text"].list.len().sum() > 50  # free text really goes through the normaliser
    pool = make_pool(model, tmp_path / "p.sqlite3", basins)
    assert pool.ingest("offers", offers).taken == offers.height
    report = pool.ingest("seekers", seekers.with_columns(pl.lit(1000.0).alias("radius_km")))
    assert report.written and report.taken == seekers.height, report.rejected[:3]
    found = 0
    for row in seekers.iter_rows(named=True):
        best = pool.offers_for_seeker(row["id"], k=1)[0]["offer"]["occupation"]
        found += best == row["occupation"] or best in top_bridges(model, row["occupation"])
    assert found / seekers.height >= 0.90, found / seekers.height


@pytest.fixture(scope="module")
def h2102_pool(model, tmp_path_factory):
    """One offer per demo occupation near Beauvais except food ones, which are only in Bayonne (~700 km)."""
    r = model["r"]
    basins = default_basins().filter(pl.col("id").is_in(["beauvais", "bayonne"]))
    food = set(r.sectors.filter(pl.col("sector") == FOOD)["occupation"].to_list())
    offers = synthesize(r, 0, 6 * r.n_occupations, basins.filter(pl.col("id") == "beauvais"), seed=3, zipf=0.0).offers
    offers = offers.with_columns(
        pl.when(pl.col("occupation").is_in(sorted(food))).then(pl.lit("bayonne")).otherwise(pl.lit("beauvais"))
        .alias("basin"), pl.lit(None, dtype=pl.Float64).alias("lat"), pl.lit(None, dtype=pl.Float64).alias("lon"))
    pool = make_pool(model, tmp_path_factory.mktemp("h2102") / "p.sqlite3", basins)
    assert pool.ingest("offers", offers).written
    profile = r.occupation("H2102")["skills"]
    core = [s["code"] for s in profile if s["core"]]
    seeker = {"id": "line-operator", "skills": core[: max(1, int(len(core) * 0.7))], "occupation": "H2102",
              "basin": "beauvais", "radius_km": 30, "consent": True}
    pool.put("seekers", seeker, create=True)
    return pool, food


def test_food_line_operator_finds_metallurgy_offers_when_no_food_offer_is_near(model, h2102_pool):
    pool, food = h2102_pool
    r = model["r"]
    metal = set(r.sectors.filter(pl.col("sector") == METAL)["occupation"].to_list())
    hits = pool.offers_for_seeker("line-operator", k=10)
    assert len(hits) == 10
    occupations = [h["offer"]["occupation"] for h in hits]
    assert not food & set(occupations), "food offers are 700 km away, beyond the 30 km radius"
    metal_hits = [h for h in hits if h["offer"]["occupation"] in metal]
    assert metal_hits, occupations
    for h in metal_hits:
        assert h["bridge"]["from"]["code"] == "H2102" and h["bridge"]["to"]["code"] == h["offer"]["occupation"]
        assert h["bridge"]["score"] > 0 and not h["bridge"]["same_occupation"]
        assert h["distance_km"] is not None and h["distance_km"] <= 30
        assert h["missing"], "a cross-sector offer lists what the seeker still lacks"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_with_a_food_offer_near_it_comes_first(model, h2102_pool):
    pool, _ = h2102_pool
    r = model["r"]
    must = [s["code"] for s in r.occupation("H2102")["skills"] if s["core"]][:5]
    pool.put("offers", {"id": "food-near", "occupation": "H2102", "must": must, "basin": "beauvais"}, create=True)
    try:
        best = pool.offers_for_seeker("line-operator", k=3)[0]
        assert best["offer"]["id"] == "food-near" and best["bridge"]["same_occupation"]
    finally:
        pool.delete("offers", "food-near")
    assert all(h["offer"]["id"] != "food-near" for h in pool.offers_for_seeker("line-operator", k=10))


def test_candidates_are_consenting_and_pseudonymous(model, tmp_path):
    basins = default_basins().head(1)
    pool = make_pool(model, tmp_path / "p.sqlite3", basins)
    skills = [s["code"] for s in model["r"].occupation("H2913")["skills"]][:8]
    for i, consent in enumerate([True, False, True]):
        pool.put("seekers", {"id": f"S{i}", "skills": skills, "occupation": "H2913", "basin": basins["id"][0],
                             "radius_km": 50, "consent": consent}, create=True)
    pool.put("offers", {"id": "O1", "occupation": "H2913", "must": skills[:3], "desired": skills[3:6],
                        "basin": basins["id"][0]}, create=True)
    hits = pool.candidates_for_offer("O1", k=10)
    assert len(hits) == 2
    pseudonyms = {h["candidate"]["pseudonym"] for h in hits}
    assert pseudonyms == {pool.store.pseudonym("S0"), pool.store.pseudonym("S2")}
    assert all(p.startswith("c-") and "S" not in p[2:] for p in pseudonyms)
    for h in hits:  # nothing that identifies the seeker: no id, no coordinates
        assert set(h["candidate"]) == {"pseudonym", "basin", "occupation"}
        assert "S0" not in h["candidate"].values() and "S2" not in h["candidate"].values()
    assert pool.candidates_for_offer("nope") is None


def test_the_index_follows_writes_of_another_process(model, tmp_path):
    basins = default_basins().head(1)
    path = tmp_path / "p.sqlite3"
    server, other = make_pool(model, path, basins), make_pool(model, path, basins)
    skills = [s["code"] for s in model["r"].occupation("H2913")["skills"]][:6]
    other.put("offers", {"id": "O1", "occupation": "H2913", "must": skills[:2], "basin": basins["id"][0]}, create=True)
    other.put("seekers", {"id": "S1", "skills": skills, "occupation": "H2913", "consent": True,
                          "basin": basins["id"][0], "radius_km": 20}, create=True)
    assert [h["offer"]["id"] for h in server.offers_for_seeker("S1", k=5)] == ["O1"]
    other.delete("offers", "O1")
    assert server.offers_for_seeker("S1", k=5) == []
    assert len(server.offers) == 0 and len(server.seekers) == 1
