"""The batch's interactive score is the interactive matching's: same offers, same scores, same ties."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from api.batch import Codebook, build_matcher, build_payload, match_seekers, seekers_from_frame, synthetic_population
from matching.pool import Profile


@pytest.fixture(scope="module")
def setting(demo, tmp_path_factory):
    seekers, offers = synthetic_population(demo, 300, 1_500, seed=4)
    path = tmp_path_factory.mktemp("batch") / "offers.parquet"
    offers.write_parquet(path)
    matcher = build_matcher(demo)
    return demo, matcher, seekers, path


def test_batch_rows_equal_offers_for(setting):
    demo, matcher, seekers, offers_path = setting
    codebook = Codebook.of(demo)
    payload = build_payload(offers_path, codebook, matcher, "interactive")
    top, unknown = match_seekers(seekers, payload, 10, chunk_rows=64)
    assert unknown == {"unknown_skill_codes": 0, "unknown_occupation_codes": 0}
    chunk, _ = seekers_from_frame(seekers, codebook)
    index = payload.index
    compared = 0
    for i in range(len(chunk)):
        skills = chunk.skills[[i]].indices
        occs = chunk.occupations[[i]].indices
        query = Profile(skills=np.sort(skills).astype(np.int32), occupations=occs.astype(np.int32),
                        lat=float(chunk.lat[i]), lon=float(chunk.lon[i]), radius_km=float(chunk.radius_km[i]))
        hits = matcher.offers_for(index, query, k=10)
        keys = [h.key for h in hits]
        mine = top.indices[i][top.indices[i] >= 0]
        assert mine.tolist() == keys, i
        assert np.array_equal(top.scores[i][:len(keys)], np.asarray([h.score for h in hits], dtype=np.float32)), i
        compared += len(keys)
    assert compared > 1_000


def test_radius_filters_and_ties_follow_offer_ids(setting):
    demo, matcher, seekers, offers_path = setting
    payload = build_payload(offers_path, Codebook.of(demo), matcher, "interactive")
    near = seekers.head(50).with_columns(pl.lit(1.0).alias("radius_km"))
    far = seekers.head(50).with_columns(pl.lit(None, dtype=pl.Float64).alias("radius_km"))
    top_near, _ = match_seekers(near, payload, 5)
    top_far, _ = match_seekers(far, payload, 5)
    assert (top_near.indices >= 0).sum() < (top_far.indices >= 0).sum()  # 1 km: almost nothing qualifies
    s, i = top_far.scores, top_far.indices
    same = (s[:, 1:] == s[:, :-1]) & (i[:, 1:] >= 0)
    assert np.all(i[:, 1:][same] > i[:, :-1][same])  # equal scores: lower offer row (= lower id) first


def test_cosine_score_is_the_skill_space_cosine(setting):
    demo, matcher, seekers, offers_path = setting
    payload = build_payload(offers_path, Codebook.of(demo), matcher, "cosine")
    top, _ = match_seekers(seekers.head(20), payload, 3)
    assert top.score_name == "cosine"
    assert np.all(top.scores[:, 0] > 0) and np.all(top.scores <= 1.0 + 1e-6)
    assert np.all(np.diff(top.scores, axis=1) <= 0)
