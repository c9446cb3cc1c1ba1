"""Matching on the official ROME v460 through the real service (store + index + normaliser).

- Recoverability: 400 seekers drawn uniformly over ROME's occupations (30% of their skills dropped,
  10% noise skills from neighbouring occupations, some skills as free text) find as best offer one
  of their occupation or of its 10 best bridges in >= 90% of cases.
- H2102 (food-industry line operator) with no food offer within reach: metallurgy line / machine
  operator offers (the sector "Industrie - Métallurgie") in his top-10, the bridge named; ROME gives
  H2102 and those occupations almost no skill code in common, so only the bridge term brings them.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from api.services.pool_service import Pool
from api.storage.store import Store
from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.normalise import SkillNormaliser
from referentiels.synthetic import synthesize
from referentiels.territories import default_basins

pytestmark = pytest.mark.rome

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


@pytest.fixture(scope="module")
def model(rome):
    space = SkillSpace.from_referentiel(rome)
    return {"r": rome, "space": space, "bridges": BridgeModel.from_referentiel(rome, space)}


def test_recoverability_on_rome(model, tmp_path):
    r = model["r"]
    basins = default_basins().head(1)
    offers = synthesize(r, 0, 2 * r.n_occupations, basins, seed=1, zipf=0.0).offers
    seekers = synthesize(r, 400, 0, basins, seed=2, zipf=0.0, drop=0.3, noise=0.1).seekers
    pool = Pool(Store(tmp_path / "p.sqlite3"), r, model["space"], model["bridges"],
                skill_normaliser=lambda: SkillNormaliser.fit(r), basins=basins)
    assert pool.ingest("offers", offers).written
    report = pool.ingest("seekers", seekers.with_columns(pl.lit(1000.0).alias("radius_km")), mode="valid")
    assert report.taken >= 0.98 * seekers.height, report.rejected[:3]  # free text the normaliser cannot read
    found = tried = 0
    codes = r.occupation_codes
    for row in seekers.iter_rows(named=True):
        hits = pool.offers_for_seeker(row["id"], k=1)
        if hits is None:
            continue
        x = r.occupation_row(row["occupation"])
        scores = np.asarray(model["bridges"].scores_from(x), dtype=np.float64).copy()
        scores[x] = -1.0
        bridges = {codes[i] for i in np.argsort(-scores, kind="stable")[:10]}
        best = hits[0]["offer"]["occupation"] if hits else None
        tried += 1
        found += best == row["occupation"] or best in bridges
    assert tried >= 390
    assert found / tried >= 0.90, found / tried


def test_h2102_finds_metallurgy_offers_on_rome(model, tmp_path):
    r = model["r"]
    basins = default_basins().filter(pl.col("id").is_in(["beauvais", "bayonne"]))
    food = set(r.sectors.filter(pl.col("sector") == FOOD)["occupation"].to_list())
    metal = set(r.sectors.filter(pl.col("sector") == METAL)["occupation"].to_list())
    industrial = sorted(set(r.sectors.filter(pl.col("sector").str.starts_with("Industrie"))["occupation"]) | food)
    offers = synthesize(r, 0, 3 * len(industrial), basins.filter(pl.col("id") == "beauvais"), seed=3, zipf=0.0,
                        occupations=industrial).offers
    offers = offers.with_columns(
        pl.when(pl.col("occupation").is_in(sorted(food))).then(pl.lit("bayonne")).otherwise(pl.lit("beauvais"))
        .alias("basin"), pl.lit(None, dtype=pl.Float64).alias("lat"), pl.lit(None, dtype=pl.Float64).alias("lon"))
    pool = Pool(Store(tmp_path / "p.sqlite3"), r, model["space"], model["bridges"], basins=basins)
    assert pool.ingest("offers", offers).written
    core = [s["code"] for s in r.occupation("H2102")["skills"] if s["core"]]
    pool.put("seekers", {"id": "line-operator", "skills": core[: int(len(core) * 0.7)], "occupation": "H2102",
                         "basin": "beauvais", "radius_km": 30, "consent": True}, create=True)
    hits = pool.offers_for_seeker("line-operator", k=10)
    occupations = [h["offer"]["occupation"] for h in hits]
    assert len(hits) == 10 and not food & set(occupations)
    metal_hits = [h for h in hits if h["offer"]["occupation"] in metal]
    assert metal_hits, occupations
    for h in metal_hits:
        assert h["bridge"]["from"]["code"] == "H2102" and h["bridge"]["score"] > 0
        assert h["bridge"]["to"]["code"] == h["offer"]["occupation"] and h["missing"]
