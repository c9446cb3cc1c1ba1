"""No breadth bias in seeker/offer matching (issue 12): listing more skills must not buy a better rank.

Properties, on the demo referential, through the real pool index and its top-k kernel
(``matching.match.PoolMatcher``) and through its explanation (the same formula in Python):

1. adding skills unrelated to an offer (not required by it, and not related to any of its
   requirements by the bridge model's skill kernel) never raises a seeker's score for that offer;
2. a seeker holding exactly the offer's skills outranks one holding those plus 200 unrelated ones,
   even when the tie-break (key ascending) would favour the broad one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.match import PoolMatcher
from matching.bridges import RELATED_MIN
from matching.pool import ProfileIndex


@pytest.fixture(scope="module")
def world(demo):
    space = SkillSpace.from_referentiel(demo)
    model = BridgeModel.from_referentiel(demo, space)
    return demo, space, model, PoolMatcher.fit(space, model)


def unrelated_to(model: BridgeModel, required: np.ndarray, n_skills: int) -> np.ndarray:
    """Skill columns neither required nor related (kernel < RELATED_MIN) to any requirement."""
    everything = np.arange(n_skills)
    kernel = model.related(np.asarray(required), everything)
    related = (kernel >= RELATED_MIN).any(axis=0)
    related[np.asarray(required)] = True
    return everything[~related]


def offer_and_seeker(draw, demo, matcher):
    n_occ, n_skills = demo.n_occupations, demo.n_skills
    links = demo.matrix
    occ = draw(st.integers(0, n_occ - 1))
    own = links.indices[links.indptr[occ]:links.indptr[occ + 1]]
    picked = draw(st.lists(st.sampled_from(sorted(own.tolist())), min_size=1, max_size=10, unique=True))
    n_must = draw(st.integers(1, len(picked)))
    offer = matcher.offer_profile(occ, must=picked[:n_must], desired=picked[n_must:])
    seeker_occ = draw(st.lists(st.integers(0, n_occ - 1), max_size=2, unique=True))
    seeker_skills = draw(st.lists(st.integers(0, n_skills - 1), max_size=60, unique=True))
    return offer, seeker_occ, seeker_skills


@st.composite
def cases(draw, demo, model, matcher):
    offer, seeker_occ, seeker_skills = offer_and_seeker(draw, demo, matcher)
    pool = unrelated_to(model, offer.skills, demo.n_skills)
    extra = draw(st.lists(st.sampled_from(pool.tolist()), min_size=1, max_size=300, unique=True))
    return offer, seeker_occ, seeker_skills, extra


def _index_of(demo, matcher, seekers: list[tuple[int, list[int], list[int]]]) -> ProfileIndex:
    index = ProfileIndex(demo.n_skills, demo.n_occupations)
    for key, occs, skills in seekers:
        index.upsert(key, matcher.seeker_profile(skills, occs))
    return index


def test_adding_unrelated_skills_never_raises_a_seekers_score(world):
    demo, _, model, matcher = world

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases(demo, model, matcher))
    def check(case):
        offer, occs, skills, extra = case
        base = matcher.seeker_profile(skills, occs)
        broad = matcher.seeker_profile(list(skills) + list(extra), occs)
        assert matcher.explain(broad, offer, 1).score <= matcher.explain(base, offer, 0).score
        # the same through the index and its top-k kernel (the broad seeker has the smaller key)
        index = _index_of(demo, matcher, [(2, occs, skills), (1, occs, list(skills) + list(extra))])
        hits = {h.key: h.score for h in matcher.candidates(index, offer, k=2)}
        if 1 in hits:
            assert hits[1] <= hits[2]

    check()


def test_exact_skills_outrank_exact_plus_200_unrelated(world):
    demo, _, model, matcher = world

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data):
        offer, occs, _ = offer_and_seeker(data.draw, demo, matcher)
        pool = unrelated_to(model, offer.skills, demo.n_skills)
        assert len(pool) >= 200
        extra = data.draw(st.lists(st.sampled_from(pool.tolist()), min_size=200, max_size=200, unique=True))
        exact = offer.skills.tolist()
        index = _index_of(demo, matcher, [(1, occs, exact + extra), (2, occs, exact)])  # broad wins ties
        hits = matcher.candidates(index, offer, k=2)
        assert [h.key for h in hits] == [2, 1]
        assert hits[0].score > hits[1].score
        assert hits[0].coverage == hits[1].coverage == pytest.approx(1.0)

    check()


def test_a_seeker_listing_hundreds_of_skills_does_not_top_every_search(world):
    """One seeker holding every skill of the referential against 100 ordinary seekers (70% of their
    occupation's skills): across offers, the ordinary seeker of the offer's occupation ranks first."""
    demo, _, _, matcher = world
    rng = np.random.default_rng(0)
    links = demo.matrix
    seekers = [(0, [], list(range(demo.n_skills)))]  # key 0: wins every tie
    for occ in range(demo.n_occupations):
        own = links.indices[links.indptr[occ]:links.indptr[occ + 1]]
        kept = rng.choice(own, size=max(1, int(0.7 * len(own))), replace=False)
        seekers.append((occ + 1, [occ], kept.tolist()))
    index = _index_of(demo, matcher, seekers)
    top_is_broad = 0
    for occ in range(demo.n_occupations):
        own = links.indices[links.indptr[occ]:links.indptr[occ + 1]]
        offer = matcher.offer_profile(occ, must=own[:5], desired=own[5:8])
        hits = matcher.candidates(index, offer, k=3)
        top_is_broad += hits[0].key == 0
    assert top_is_broad == 0
