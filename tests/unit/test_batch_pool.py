"""The batch's interactive score is the interactive matching's: same offers, same scores, same ties."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from api.services.batch_jobs import Codebook, build_matcher, build_payload, match_seekers, seekers_from_frame, synthetic_population
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


# ---- offers -> candidates -----------------------------------------------------------------------

def _pseudonym(seeker_id: str) -> str:
    return "c-" + seeker_id[::-1]


def test_candidate_rows_equal_top_candidates_over_an_interactive_index(setting, tmp_path):
    """Each offer's batch row is what ``PoolMatcher.top_candidates`` lists over a seekers index built
    the interactive way (one ``upsert`` per seeker, consent as visibility): same seekers, same float32
    scores, same ties; only consenting seekers, by pseudonym."""
    from api.services.batch_jobs import add_seekers, consent_of, match_offers
    from matching.pool import ProfileIndex

    demo, matcher, seekers, offers_path = setting
    seekers_path = tmp_path / "seekers.parquet"
    seekers.write_parquet(seekers_path)
    codebook = Codebook.of(demo)
    payload = add_seekers(build_payload(offers_path, codebook, matcher, "interactive"), seekers_path, _pseudonym)
    n_offers = len(payload.offer_ids)
    top = match_offers(0, n_offers, payload, 10, chunk_rows=97)
    by_id = seekers.sort("id")
    consent = consent_of(by_id)
    assert 0.5 < consent.mean() < 0.9  # the synthetic population mixes both
    chunk, _ = seekers_from_frame(by_id, codebook)
    interactive = ProfileIndex(demo.n_skills, demo.n_occupations)
    for row in range(len(chunk)):
        interactive.upsert(row, matcher.seeker_profile(
            chunk.skills[[row]].indices, chunk.occupations[[row]].indices, float(chunk.lat[row]), float(chunk.lon[row]),
            float(chunk.radius_km[row]), consent=bool(consent[row])))
    compared = 0
    for key in range(n_offers):
        scores, keys = matcher.top_candidates(interactive, payload.index.profile(key), k=10)
        mine = top.indices[key][top.indices[key] >= 0]
        assert mine.tolist() == keys.tolist(), key
        assert np.array_equal(top.scores[key][:len(keys)], scores), key
        compared += len(keys)
    assert compared > 5_000
    listed = top.indices[top.indices >= 0]
    assert consent[listed].all()  # a seeker without consent is never a candidate
    names = payload.pseudonyms.to_pylist()
    ids = by_id["id"].to_list()
    assert all(names[r] == _pseudonym(ids[r]) for r in listed[:100])
    assert all(names[r] is None for r in np.flatnonzero(~consent))


def test_offers_direction_needs_a_pseudonym_function(setting, tmp_path):
    from api.services.batch_jobs import BatchJob

    demo, _, seekers, offers_path = setting
    seekers.write_parquet(tmp_path / "s.parquet")
    with pytest.raises(ValueError, match="pseudonym"):
        BatchJob.plan(tmp_path / "s.parquet", offers_path, tmp_path / "out", 5, demo, direction="offers")
    with pytest.raises(ValueError, match="unknown direction 'sideways'"):
        BatchJob.plan(tmp_path / "s.parquet", offers_path, tmp_path / "out", 5, demo, direction="sideways")


def test_cosine_candidates_are_the_cosine_of_consenting_seekers(setting, tmp_path):
    from api.services.batch_jobs import add_seekers, consent_of, match_offers

    demo, matcher, seekers, offers_path = setting
    seekers.write_parquet(tmp_path / "s.parquet")
    payload = add_seekers(build_payload(offers_path, Codebook.of(demo), matcher, "cosine"), tmp_path / "s.parquet",
                          _pseudonym)
    top = match_offers(0, 200, payload, 5, chunk_rows=64)
    assert top.score_name == "cosine" and top.indices.shape == (200, 5)
    consent = consent_of(seekers.sort("id"))
    assert consent[top.indices[top.indices >= 0]].all()
    # the same pair scores the same both ways: an offer's best candidate lists that offer's cosine
    seeker_side, _ = match_seekers(seekers.sort("id"), payload, len(payload.offer_ids))
    offer, seeker = 0, int(top.indices[0, 0])
    assert top.scores[0, 0] == pytest.approx(float(seeker_side.scores[seeker][seeker_side.indices[seeker] == offer][0]),
                                             abs=1e-6)


# ---- free-text skills ------------------------------------------------------------------------------

def test_free_text_skills_are_read_like_ingest(setting):
    """A seeker whose skills come as free text (``skills_text``) is matched like the same seeker with
    the codes the normaliser reads from those texts; unreadable texts are counted, not fatal."""
    from api.services.batch_jobs import match_seekers as match
    from api.services.pool_service import resolve_skill_texts
    from matching.normalise import SkillNormaliser

    demo, matcher, seekers, offers_path = setting
    normaliser = SkillNormaliser.fit(demo)
    labels = dict(zip(demo.skills["code"].to_list(), demo.skills["label"].to_list()))
    read = resolve_skill_texts(normaliser, sorted(labels.values()))
    own = {code for code, label in labels.items() if read[label][0] == code}  # labels that read back as their code
    assert len(own) > 0.8 * len(labels)
    codes = seekers.head(60).with_columns(pl.col("skills").list.eval(pl.element().filter(pl.element().is_in(sorted(own)))))
    texts = codes.with_columns(
        pl.col("skills").list.eval(pl.element().replace_strict(labels, default=None)).list.concat(
            pl.lit(["zzqx wvvk"])).alias("skills_text"),
        pl.lit([], dtype=pl.List(pl.String)).alias("skills"))
    table = pl.DataFrame({"text": list(read) + ["zzqx wvvk"], "code": [v[0] for v in read.values()] + [None]})
    payload = build_payload(offers_path, Codebook.of(demo), matcher, "interactive", texts=table)
    by_code, counts_code = match(codes, payload, 5)
    by_text, counts_text = match(texts, payload, 5)
    assert np.array_equal(by_code.indices, by_text.indices) and np.array_equal(by_code.scores, by_text.scores)
    assert (by_text.indices >= 0).sum() > 200
    assert counts_text["unreadable_skill_texts"] == 60 and counts_code["unreadable_skill_texts"] == 0


def test_skill_texts_of_a_file_go_through_the_normaliser_once(setting, tmp_path):
    from api.services.batch_jobs import skill_texts

    demo, _, seekers, _ = setting
    label = demo.skills["label"][0]
    frame = seekers.head(3).with_columns(pl.Series("skills_text", [[label, " "], [label], None]))
    frame.write_parquet(tmp_path / "s.parquet")
    calls = []

    class Counting:
        def batch(self, texts, k):
            calls.append(list(texts))
            from matching.normalise import SkillNormaliser
            return SkillNormaliser.fit(demo).batch(texts, k=k)

    table = skill_texts(tmp_path / "s.parquet", Counting())
    assert calls == [[label]]  # distinct, blank texts never reach it
    assert dict(zip(table["text"], table["code"])) == {" ": None, label: demo.skills["code"][0]}
    seekers.head(3).write_parquet(tmp_path / "plain.parquet")
    assert skill_texts(tmp_path / "plain.parquet", Counting()) is None
