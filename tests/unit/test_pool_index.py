"""The pool index (matching/pool.py) and the matching kernel (matching/match.py) on small random pools.

Invariants: postings always mirror the forward lists through any sequence of inserts, updates and
deletes (single or bulk); the numba top-k equals a slow, obvious scoring of every profile; an
index updated in place ranks exactly like one built fresh from the same final profiles; memory
per seeker of 30 skills stays under 300 bytes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.match import PoolMatcher, score_reference
from matching.pool import ListStore, ProfileIndex

N_SKILLS, N_OCC = 40, 7


def matcher(seed: int = 0, **params) -> PoolMatcher:
    rng = np.random.default_rng(seed)
    bridge = rng.random((N_OCC, N_OCC)).astype(np.float32)
    np.fill_diagonal(bridge, 1.0)
    return PoolMatcher(skill_weight=(rng.random(N_SKILLS) + 0.1).astype(np.float32), bridge=bridge, **params)


def random_seeker(m: PoolMatcher, rng: np.random.Generator):
    return m.seeker_profile(rng.choice(N_SKILLS, int(rng.integers(0, 9)), replace=False),
                            rng.choice(N_OCC, int(rng.integers(0, 3))), lat=45 + rng.random(), lon=5 + rng.random(),
                            radius_km=float(rng.choice([25.0, 60.0, np.nan])), consent=bool(rng.random() < 0.8))


def random_offer(m: PoolMatcher, rng: np.random.Generator):
    return m.offer_profile(int(rng.integers(N_OCC)), rng.choice(N_SKILLS, int(rng.integers(0, 4)), replace=False),
                           rng.choice(N_SKILLS, int(rng.integers(0, 5)), replace=False),
                           lat=45 + rng.random(), lon=5 + rng.random())


def check_consistent(index: ProfileIndex) -> None:
    """Postings == the transpose of the forward lists, for skills and occupations; counts agree."""
    alive = [s for s in range(index.n_slots) if index.keys[s] >= 0]
    assert len(alive) == len(index)
    expected: dict[int, list[int]] = {}
    expected_occ: dict[int, list[int]] = {}
    for slot in alive:
        assert index.slot(int(index.keys[slot])) == slot
        for s in index.skills.get(slot).tolist():
            expected.setdefault(s, []).append(slot)
        for o in set(index.occupations.get(slot).tolist()):
            expected_occ.setdefault(o, []).append(slot)
    for s in range(index.n_skills):
        assert sorted(index.skill_postings.get(s).tolist()) == sorted(expected.get(s, []))
    for o in range(index.n_occupations):
        assert sorted(index.occupation_postings.get(o).tolist()) == sorted(expected_occ.get(o, []))


def same_ranking(got, want, tolerance=2e-5) -> None:
    """Same keys in the same order; scores equal up to float32 accumulation."""
    assert [k for _, k in got] == [k for _, k in want], (got[:5], want[:5])
    assert np.allclose([s for s, _ in got], [s for s, _ in want], atol=tolerance)


def test_list_store_grows_relocates_and_compacts():
    store = ListStore(3, (np.int32,))
    for i in range(100):
        store.extend(i % 3, np.array([i], dtype=np.int32))
    assert store.get(1).tolist() == list(range(1, 100, 3))
    assert store.garbage > 0
    store.compact(slack=0.0)
    assert store.garbage == 0 and store.used == 100
    assert store.get(2).tolist() == list(range(2, 100, 3))
    assert store.remove(2, 5) and not store.remove(2, 5)
    assert sorted(store.get(2).tolist()) == [v for v in range(2, 100, 3) if v != 5]


def test_from_pairs_matches_appends():
    rng = np.random.default_rng(1)
    lists = rng.integers(0, 9, 500)
    values = rng.integers(0, 10_000, 500).astype(np.int32)
    built = ListStore.from_pairs(9, lists, (values,), (np.int32,))
    for i in range(9):
        assert built.get(i).tolist() == values[lists == i].tolist()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_ops=st.integers(1, 120))
def test_incremental_updates_keep_postings_exact_and_rank_like_the_oracle(seed, n_ops):
    rng = np.random.default_rng(seed)
    m = matcher(seed % 5)
    seekers, offers = ProfileIndex(N_SKILLS, N_OCC), ProfileIndex(N_SKILLS, N_OCC, weighted=True)
    for _ in range(n_ops):
        key = int(rng.integers(0, 40))
        if rng.random() < 0.25:
            seekers.delete(key)
            offers.delete(key)
        else:
            seekers.upsert(key, random_seeker(m, rng))
            offers.upsert(key, random_offer(m, rng))
    check_consistent(seekers)
    check_consistent(offers)
    for _ in range(3):
        k = int(rng.integers(1, 12))
        offer = random_offer(m, rng)
        got = [(h.score, h.key) for h in m.candidates(seekers, offer, k=k)]
        same_ranking(got, score_reference(m, seekers, offer, query_is_offer=True)[:k])
        seeker = random_seeker(m, rng)
        got = [(h.score, h.key) for h in m.offers_for(offers, seeker, k=k)]
        same_ranking(got, score_reference(m, offers, seeker, query_is_offer=False)[:k])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), require_must=st.booleans(), radius=st.sampled_from([None, 5.0, 40.0, 500.0]))
def test_filters_agree_with_the_oracle(seed, require_must, radius):
    rng = np.random.default_rng(seed)
    m = matcher(seed % 3)
    seekers, offers = ProfileIndex(N_SKILLS, N_OCC), ProfileIndex(N_SKILLS, N_OCC, weighted=True)
    for key in range(60):
        seekers.upsert(key, random_seeker(m, rng))
        offers.upsert(key, random_offer(m, rng))
    offer, seeker = random_offer(m, rng), random_seeker(m, rng)
    got = [(h.score, h.key) for h in m.candidates(seekers, offer, k=60, radius_km=radius, require_must=require_must)]
    same_ranking(got, score_reference(m, seekers, offer, True, radius_km=radius, require_must=require_must))
    got = [(h.score, h.key) for h in m.offers_for(offers, seeker, k=60, radius_km=radius, require_must=require_must)]
    same_ranking(got, score_reference(m, offers, seeker, False, radius_km=radius, require_must=require_must))
    if require_must:
        assert all(h.must_coverage is None or h.must_coverage > 0.9999
                   for h in m.candidates(seekers, offer, k=60, radius_km=radius, require_must=True))


def test_bulk_extend_equals_one_by_one_and_fresh_build():
    rng = np.random.default_rng(7)
    m = matcher()
    profiles = {key: random_seeker(m, rng) for key in range(300)}
    one_by_one = ProfileIndex(N_SKILLS, N_OCC)
    for key, p in profiles.items():
        one_by_one.upsert(key, p)

    def bulk(index, items):
        keys = np.array([k for k, _ in items])
        skills = [p.skills for _, p in items]
        occs = [p.occupations for _, p in items]
        sp = np.concatenate([[0], np.cumsum([len(s) for s in skills])])
        op = np.concatenate([[0], np.cumsum([len(o) for o in occs])])
        index.extend(keys, sp, np.concatenate(skills), op, np.concatenate(occs),
                     np.array([p.lat for _, p in items]), np.array([p.lon for _, p in items]),
                     np.array([p.radius_km for _, p in items]), np.array([p.visible for _, p in items]))

    fresh = ProfileIndex(N_SKILLS, N_OCC)
    bulk(fresh, list(profiles.items()))
    grown = ProfileIndex(N_SKILLS, N_OCC)
    items = list(profiles.items())
    bulk(grown, items[:100])
    bulk(grown, items[100:200])
    for key, p in items[200:]:
        grown.upsert(key, p)
    # replace 50 of them in a later bulk: same keys, new profiles
    replaced = [(key, random_seeker(m, rng)) for key in range(0, 100, 2)]
    bulk(grown, replaced)
    for index in (one_by_one, fresh):
        bulk(index, replaced)
    for index in (one_by_one, fresh, grown):
        check_consistent(index)
    for _ in range(10):
        offer = random_offer(m, rng)
        ranked = [[(h.score, h.key) for h in m.candidates(index, offer, k=15)] for index in (one_by_one, fresh, grown)]
        assert ranked[0] == ranked[1] == ranked[2]


def test_ties_are_broken_by_key_and_results_are_deterministic():
    m = matcher()
    index = ProfileIndex(N_SKILLS, N_OCC)
    same = m.seeker_profile([1, 2, 3], [0])
    for key in (9, 3, 7, 1):
        index.upsert(key, same)
    offer = m.offer_profile(0, [1, 2], [3])
    hits = m.candidates(index, offer, k=3)
    assert [h.key for h in hits] == [1, 3, 7]
    assert len({h.score for h in hits}) == 1
    assert [h.key for h in m.candidates(index, offer, k=3)] == [1, 3, 7]


def test_explanation_names_matched_missing_bridge_and_distance():
    m = matcher()
    index = ProfileIndex(N_SKILLS, N_OCC)
    index.upsert(5, m.seeker_profile([1, 4], [2, 3], lat=45.0, lon=5.0, radius_km=50))
    offer = m.offer_profile(6, must=[1, 2], desired=[4], lat=45.1, lon=5.0)
    (hit,) = m.candidates(index, offer, k=5)
    assert {s.skill for s in hit.matched} == {1, 4} and [s.skill for s in hit.missing] == [2]
    assert [s.must for s in hit.matched] == [True, False]  # must-haves first
    assert hit.bridge_to == 6 and hit.bridge_from in (2, 3)
    assert hit.bridge == pytest.approx(max(m.bridge[2, 6], m.bridge[3, 6]))
    assert hit.distance_km == pytest.approx(11.1, abs=0.1)
    assert 0 < hit.score <= 1 and 0 <= hit.coverage <= 1


def test_consent_and_deletion_hide_seekers():
    m = matcher()
    index = ProfileIndex(N_SKILLS, N_OCC)
    index.upsert(1, m.seeker_profile([1, 2], [0], consent=False))
    index.upsert(2, m.seeker_profile([1, 2], [0], consent=True))
    offer = m.offer_profile(0, [1], [2])
    assert [h.key for h in m.candidates(index, offer, k=5)] == [2]
    assert [h.key for h in m.candidates(index, offer, k=5, consenting_only=False)] == [1, 2]
    index.delete(2)
    assert m.candidates(index, offer, k=5) == []
    index.set_visible(1, True)
    assert [h.key for h in m.candidates(index, offer, k=5)] == [1]


def test_bridge_only_candidates_surface_through_phase_two():
    """A seeker sharing no skill code with the offer still comes up through his occupation's bridge."""
    bridge = matcher().bridge.copy()
    bridge[3, 5] = 0.9
    m = dataclasses.replace(matcher(), bridge=bridge)
    index = ProfileIndex(N_SKILLS, N_OCC)
    index.upsert(1, m.seeker_profile([30, 31], [3]))
    index.upsert(2, m.seeker_profile([32], []))
    hits = m.candidates(index, m.offer_profile(5, [1], [2]), k=5)
    assert [h.key for h in hits] == [1]
    assert hits[0].coverage == 0 and hits[0].bridge == pytest.approx(0.9) and hits[0].bridge_from == 3


def test_bad_input_is_refused_with_a_reason():
    index = ProfileIndex(N_SKILLS, N_OCC)
    m = matcher()
    with pytest.raises(ValueError, match="skill ids"):
        index.upsert(1, m.seeker_profile([N_SKILLS], []))
    with pytest.raises(ValueError, match="keys"):
        index.upsert(-1, m.seeker_profile([1], []))
    with pytest.raises(ValueError, match="k must be"):
        m.candidates(index, m.offer_profile(0, [1]), k=0)


def test_memory_per_seeker_of_30_skills_is_under_300_bytes():
    n, n_skills, n_occ = 20_000, 13_000, 1_500
    rng = np.random.default_rng(0)
    skills = np.concatenate([rng.choice(n_skills, 30, replace=False) for _ in range(n)])
    occs = rng.integers(0, n_occ, 2 * n)
    index = ProfileIndex(n_skills, n_occ)
    index.extend(np.arange(n), np.arange(0, 30 * n + 1, 30), skills, np.arange(0, 2 * n + 1, 2), occs,
                 rng.uniform(43, 50, n), rng.uniform(-1, 7, n), np.full(n, 30.0), np.ones(n, dtype=bool))
    per_seeker = index.nbytes() / n
    assert per_seeker <= 300, per_seeker
    # and it stays there through incremental updates of a tenth of the pool
    m = PoolMatcher(skill_weight=np.ones(n_skills, dtype=np.float32), bridge=np.eye(n_occ, dtype=np.float32))
    for key in range(0, n, 10):
        index.upsert(key, m.seeker_profile(rng.choice(n_skills, 30, replace=False), [1, 2]))
    assert index.nbytes() / n <= 300 * 1.25
