"""The pruned top-k kernel (matching/match.py ``_topk``) returns exactly the brute-force top-k.

The kernel stops walking postings once no candidate it has not met can beat the k-th best score
(and skips the bridge-only pass then). These tests build populations large enough for that to
happen, full of exact ties (profiles drawn from a few templates, at a few places), and check the
keys and scores against ``score_reference`` (every profile scored the obvious way), in both
directions, with filters, and after updates and deletes (offers' per-skill maxima then overstate,
which must stay safe).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.match import DIST_DECAY, PoolMatcher, _geo, _haversine, _reachable, score_reference
from matching.pool import Profile, ProfileIndex

N_SKILLS, N_OCC = 60, 9
PLACES = [(45.0, 5.0), (45.1, 5.1), (45.5, 5.6), (46.2, 6.1), (44.9, 4.95), (48.85, 2.35), (-21.1, 55.5)]


def matcher(rng: np.random.Generator) -> PoolMatcher:
    bridge = (rng.random((N_OCC, N_OCC)) * (rng.random((N_OCC, N_OCC)) < 0.5)).astype(np.float32)
    np.fill_diagonal(bridge, 1.0)
    # a few heavy (rare) skills and many light (common) ones, as IDF weights look on ROME
    weight = np.where(rng.random(N_SKILLS) < 0.2, 2.0 + rng.random(N_SKILLS), 0.2 + 0.3 * rng.random(N_SKILLS))
    return PoolMatcher(skill_weight=weight.astype(np.float32), bridge=bridge, breadth_allowance=12.0)


def seeker_templates(m: PoolMatcher, rng: np.random.Generator, n: int) -> list:
    out = []
    for _ in range(n):
        lat, lon = PLACES[int(rng.integers(len(PLACES)))]
        out.append(m.seeker_profile(rng.choice(N_SKILLS, int(rng.integers(0, 16)), replace=False),
                                    rng.choice(N_OCC, int(rng.integers(0, 3))), lat=lat, lon=lon,
                                    radius_km=float(rng.choice([20.0, 80.0, np.nan])), consent=bool(rng.random() < 0.9)))
    return out


def offer_templates(m: PoolMatcher, rng: np.random.Generator, n: int) -> list:
    out = []
    for _ in range(n):
        lat, lon = PLACES[int(rng.integers(len(PLACES)))]
        out.append(m.offer_profile(int(rng.integers(N_OCC)), rng.choice(N_SKILLS, int(rng.integers(0, 5)), replace=False),
                                   rng.choice(N_SKILLS, int(rng.integers(0, 8)), replace=False), lat=lat, lon=lon))
    return out


def populate(rng, templates, weighted: bool, n: int) -> ProfileIndex:
    index = ProfileIndex(N_SKILLS, N_OCC, weighted=weighted)
    for key in rng.permutation(n).tolist():  # keys not in slot order: ties must still go to the smaller key
        index.upsert(key, templates[int(rng.integers(len(templates)))])
    return index


def assert_exact(got: tuple[np.ndarray, np.ndarray], want: list[tuple[float, int]]) -> None:
    scores, keys = got
    assert keys.tolist() == [k for _, k in want], (list(zip(scores.tolist(), keys.tolist()))[:8], want[:8])
    assert np.allclose(scores, [s for s, _ in want], atol=2e-5)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), k=st.sampled_from([1, 3, 7, 20]),
       radius=st.sampled_from([None, 30.0, 400.0]), require_must=st.booleans())
def test_pruned_top_k_equals_brute_force_with_ties(seed, k, radius, require_must):
    rng = np.random.default_rng(seed)
    m = matcher(rng)
    seekers = populate(rng, seeker_templates(m, rng, 25), False, 600)
    offers = populate(rng, offer_templates(m, rng, 25), True, 600)
    for _ in range(4):
        offer = offer_templates(m, rng, 1)[0]
        want = score_reference(m, seekers, offer, True, radius_km=radius, require_must=require_must)[:k]
        assert_exact(m.top_candidates(seekers, offer, k=k, radius_km=radius, require_must=require_must), want)
        seeker = seeker_templates(m, rng, 1)[0]
        want = score_reference(m, offers, seeker, False, radius_km=radius, require_must=require_must)[:k]
        assert_exact(m.top_offers(offers, seeker, k=k, radius_km=radius, require_must=require_must), want)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_pruning_stays_exact_after_updates_and_deletes(seed):
    rng = np.random.default_rng(seed)
    m = matcher(rng)
    templates = offer_templates(m, rng, 30)
    offers = populate(rng, templates, True, 400)
    seekers = populate(rng, seeker_templates(m, rng, 30), False, 400)
    for _ in range(300):  # heavy offers leave: the per-skill maxima now overstate what is left
        key = int(rng.integers(400))
        if rng.random() < 0.5:
            offers.delete(key)
            seekers.delete(key)
        else:
            offers.upsert(key, templates[int(rng.integers(len(templates)))])
    for _ in range(4):
        seeker = seeker_templates(m, rng, 1)[0]
        assert_exact(m.top_offers(offers, seeker, k=5), score_reference(m, offers, seeker, False)[:5])
        offer = templates[int(rng.integers(len(templates)))]
        assert_exact(m.top_candidates(seekers, offer, k=5), score_reference(m, seekers, offer, True)[:5])


def test_pruning_walks_fewer_postings_than_the_full_lists():
    """The point of the kernel: with many equal, perfect candidates the k-th score is reached early
    and the long, light posting lists are never walked, yet the answer is the brute-force one."""
    rng = np.random.default_rng(3)
    weight = np.full(N_SKILLS, 0.2, dtype=np.float32)
    weight[:3] = 5.0  # three rare, heavy skills
    m = PoolMatcher(skill_weight=weight, bridge=np.eye(N_OCC, dtype=np.float32))
    index = ProfileIndex(N_SKILLS, N_OCC)
    for key in range(3000):
        skills = [0, 1, 2, 10, 11] if key % 50 == 0 else rng.choice(np.arange(10, N_SKILLS), 8, replace=False)
        index.upsert(key, m.seeker_profile(skills, [0], lat=45.0, lon=5.0, radius_km=50.0))
    offer = m.offer_profile(0, [0, 1, 2], [10, 11], lat=45.0, lon=5.0)
    got = m.top_candidates(index, offer, k=20)
    assert_exact(got, score_reference(m, index, offer, True)[:20])
    assert got[1].tolist() == list(range(0, 1000, 50))
    full = int(index.skill_postings.length[offer.skills].sum())
    assert m.last_stats.postings < full / 5, (m.last_stats, full)


@pytest.mark.slow
def test_a_cell_holding_a_profile_within_reach_is_never_skipped():
    """The posting's cell is checked before the profile's own location: that check may only drop
    cells that cannot hold a profile within reach (near the poles and across the antimeridian too).
    Profiles are put just inside the radius, where an optimistic bound would fail."""
    rng = np.random.default_rng(5)
    for case in range(3000):
        q_lat = float(rng.uniform(-89, 89) if case % 3 else rng.uniform(40, 75))
        q_lon = float(rng.uniform(-180, 180) if case % 4 else rng.choice([-179.8, 179.8]))
        lat = float(np.clip(q_lat + rng.uniform(-2, 2), -89.99, 89.99))
        lon = (q_lon + rng.uniform(-8, 8) + 180.0) % 360.0 - 180.0
        d = _haversine(q_lat, q_lon, float(np.float32(lat)), float(np.float32(lon)))
        radius = d * float(rng.uniform(1.0, 1.02)) + 1e-3
        # seekers: 1 degree cells; offers: 0.25 degree cells
        seekers = ProfileIndex(4, 1)
        seekers.upsert(0, PoolMatcher.seeker_profile([1], [0], lat=lat, lon=lon, radius_km=radius))
        offers = ProfileIndex(4, 1, weighted=True)
        offers.upsert(0, Profile(skills=np.array([1], dtype=np.int32), occupations=np.array([0], dtype=np.int32),
                                 lat=lat, lon=lon, radius_km=radius, cov=np.ones(1, dtype=np.float32),
                                 must=np.zeros(1, dtype=np.float32)))
        for index in (seekers, offers):
            cell = int(index.skill_postings.get(1, len(index.skill_postings.dtypes) - 1)[0])
            assert cell > 0
            for q_radius in (np.nan, radius):  # the profile's own radius, or the query's
                reach = _reachable(index.cell_corner, index.cell_radius, q_lat, q_lon, q_radius, index.cell_size)
                assert reach[cell] == 1, (q_lat, q_lon, lat, lon, d, radius, index.cell_size)
            far = _reachable(index.cell_corner, index.cell_radius, q_lat, q_lon, max(d - 250.0, 0.0), index.cell_size)
            assert far[0] == 1  # unknown locations are always looked at


def test_the_cheap_distance_rejection_agrees_with_the_haversine():
    """``_geo`` rules most candidates out without trigonometry (a lower bound of the haversine): it
    must never rule out a profile within the radius, and must give the exact factor to those kept.
    Profiles sit just inside and just outside the radius, near the poles and across the antimeridian."""
    rng = np.random.default_rng(11)
    for case in range(20000):
        q_lat = float(np.float32(rng.uniform(-89, 89) if case % 3 else rng.uniform(60, 89.9)))
        q_lon = float(np.float32(rng.uniform(-180, 180) if case % 4 else rng.choice([-179.9, 179.9])))
        lat = float(np.float32(np.clip(q_lat + rng.uniform(-3, 3) * rng.random() ** 3, -89.99, 89.99)))
        lon = float(np.float32((q_lon + rng.uniform(-6, 6) * rng.random() ** 3 + 180.0) % 360.0 - 180.0))
        d = _haversine(q_lat, q_lon, lat, lon)
        radius = d * (1.0 + float(rng.choice([-1, 1])) * 10.0 ** float(rng.uniform(-7, -2))) + float(rng.choice([0.0, 1e-9]))
        cos_lat = float(np.float32(np.cos(np.radians(np.float32(lat)))))  # as geo_rows stores it
        got = _geo(lat, lon, cos_lat, radius, q_lat, q_lon, np.cos(np.radians(q_lat)), DIST_DECAY)
        if d > radius:
            assert got == -1.0, (q_lat, q_lon, lat, lon, d, radius)
        else:
            expected = 1.0 - DIST_DECAY * d / radius if radius > 0 else 1.0
            assert got == expected, (q_lat, q_lon, lat, lon, d, radius, got)
