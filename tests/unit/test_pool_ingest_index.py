"""A bulk ingest feeds the pool index from the validated rows instead of reading them back from the
store (api/services/pool_service.py ``Pool.ingest``). The index must then hold exactly what a pool opened afresh on
the same database reads from it: same keys, skills (deduplicated, unknown codes dropped), occupations
(current first), places, radii, consent, offers' must/desired weights."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from api.services.pool_service import Pool
from api.storage.store import Store
from matching import SkillSpace
from matching.bridges import BridgeModel
from referentiels.territories import default_basins


@pytest.fixture(scope="module")
def model(demo):
    space = SkillSpace.from_referentiel(demo)
    return demo, space, BridgeModel.fit(space)


def same_index(a, b) -> None:
    assert len(a) == len(b)
    for key in a.keys[a.keys >= 0].tolist():
        pa, pb = a.profile(key), b.profile(key)
        assert pb is not None, key
        assert pa.skills.tolist() == pb.skills.tolist(), key
        assert pa.occupations.tolist() == pb.occupations.tolist(), key
        assert np.allclose([pa.lat, pa.lon, pa.radius_km], [pb.lat, pb.lon, pb.radius_km], equal_nan=True)
        assert pa.visible == pb.visible
        if pa.cov is not None:
            assert np.allclose(pa.cov, pb.cov) and np.allclose(pa.must, pb.must), key


def test_the_index_fed_by_an_ingest_equals_the_index_read_from_the_store(tmp_path, model):
    r, space, bridges = model
    skills, occs = list(r.skill_codes), list(r.occupation_codes)
    rng = np.random.default_rng(0)
    n = 300
    seekers = pl.DataFrame({
        "id": [f"S{i}" for i in range(n)],
        "skills": [[skills[j] for j in rng.choice(len(skills), 6)] + (["DS0001", "DS0001"] if i % 7 == 0 else [])
                   for i in range(n)],
        "occupation": [occs[int(rng.integers(len(occs)))] if i % 5 else None for i in range(n)],
        "past_occupations": [[occs[int(rng.integers(len(occs)))], occs[0]] if i % 3 else [] for i in range(n)],
        "lat": [45.0 + i / 100 if i % 4 else None for i in range(n)],
        "lon": [5.0 if i % 4 else None for i in range(n)],
        "radius_km": [float(10 + i % 50) if i % 6 else None for i in range(n)],
        "consent": [bool(i % 2) for i in range(n)],
    })
    offers = pl.DataFrame({
        "id": [f"O{i}" for i in range(n)],
        "occupation": [occs[int(rng.integers(len(occs)))] for i in range(n)],
        "must": [[skills[j] for j in rng.choice(len(skills), 3)] for _ in range(n)],
        # desired repeats a must-have now and then: it counts as must
        "desired": [[skills[j] for j in rng.choice(len(skills), 4)] + ([skills[0]] if i % 4 == 0 else [])
                    for i in range(n)],
        "lat": [46.0] * n, "lon": [4.0] * n,
    }).with_columns(pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.col("must").list.concat(pl.lit([skills[0]])))
                    .otherwise(pl.col("must")).alias("must"))
    path = tmp_path / "p.sqlite3"
    fed = Pool(Store(path), r, space, bridges, basins=default_basins())
    fed.store.create("seekers", {"id": "before", "skills": [skills[1]], "consent": True})  # pending for the index
    read_back = []
    frame_of = fed.store.frame
    fed.store.frame = lambda kind, since=0: read_back.append(frame_of(kind, since).height) or frame_of(kind, since)
    for kind, frame in (("seekers", seekers), ("offers", offers), ("seekers", seekers.head(40))):
        report = fed.ingest(kind, frame)
        assert report.written and report.taken == frame.height, report.to_dict(3)
    assert sum(read_back) == 1  # only the row written behind the pool's back was read from the store
    read = Pool(Store(path), r, space, bridges, basins=default_basins())
    same_index(fed.seekers, read.seekers)
    same_index(fed.offers, read.offers)
    assert fed.seekers.profile(fed.store.key_of("seekers", "before")) is not None
