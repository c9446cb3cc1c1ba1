"""Skill gaps, the set-cover training plan (properties), basin needs, and the H2102 worked example."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.gaps import (TrainingIndex, basin_needs, choose_targets, greedy_cover, held_support_for, occupation_need,
                           skill_gap, support_for, support_matrix)
from matching.relation import SkillRelation
from referentiels.trainings import demo_trainings


@pytest.fixture(scope="module")
def world(demo):
    space = SkillSpace.from_referentiel(demo)
    bridges = BridgeModel.from_referentiel(demo, space)
    support = held_support_for(bridges, SkillRelation.from_referentiel(demo, space), demo.n_skills)
    catalogue = demo_trainings(demo)
    return demo, space, bridges, support, catalogue, TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())


def test_sparse_support_equals_the_kernel(world):
    r, _, bridges, *_ = world
    related = support_matrix(bridges.related, r.n_skills)
    fast = support_for(bridges, r.n_skills)
    assert (fast != related).nnz == 0 and fast.diagonal().all()
    assert (support_matrix(None, 5) != sp.identity(5, dtype=bool)).nnz == 0


def test_held_support_is_a_small_part_of_the_related_one(world):
    """Only what the skill relation calls held supports a need; it is always related too."""
    r, _, bridges, support, *_ = world
    related = support_for(bridges, r.n_skills)
    assert support.diagonal().all() and (support.astype(np.int8) - support.multiply(related).astype(np.int8)).nnz == 0
    assert support.nnz - r.n_skills < (related.nnz - r.n_skills) / 4
    assert (held_support_for(bridges, None, 5) != sp.identity(5, dtype=bool)).nnz == 0


def held_of(space, code_row):
    return space.raw.indices[space.raw.indptr[code_row]:space.raw.indptr[code_row + 1]]


# ---- the worked example ----------------------------------------------------------------------

def test_worked_example_h2102_to_welder(world):
    """A food line operator (H2102) toward welder (H2913): the gap is welding, metallurgy and plan
    reading, core welding skills first; the demo catalogue closes it with three trainings."""
    r, space, _, support, catalogue, index = world
    a, b = r.occupation_row("H2102"), r.occupation_row("H2913")
    related = support_for(world[2], r.n_skills)
    gap = skill_gap(*occupation_need(space.raw, space.core, b), held=held_of(space, a), support=support, near=related)
    codes = r.skill_codes
    missing = [codes[c] for c in gap.missing]
    assert gap.missing_core[:9].all() and not gap.missing_core[9:].any()  # core first
    assert "DS0195" in missing[:9]  # Souder en toutes positions
    assert {"DS0587", "DS0586", "DS0153"} <= set(missing)  # procédés de soudage, métallurgie, lire un plan
    assert np.all(np.diff(gap.missing_weight[:9]) <= 0)  # weight descending inside core
    # some of the target's skills are held; the gap keeps the close ones, marked, and the plan
    # covers all but two close skills that no training of the demo catalogue teaches
    assert gap.coverage > 0 and len(gap.missing) < len(gap.need)
    close = gap.missing_close >= 0
    assert close.sum() == 2 and np.isin(gap.missing_close[close], held_of(space, a)).all()
    plan = index.plan(gap.missing, gap.missing_weight)
    ids = [catalogue.ids[t] for t in plan.trainings]
    assert ids == ["DT002", "DT003", "DT013"]
    assert set(plan.residual.tolist()) <= set(gap.missing[close].tolist()) and plan.hours == 70 + 735 + 280
    # the plan restricted to Beauvais +- 30 km and the first half of 2026 leaves the rest residual
    near = index.plan(gap.missing, gap.missing_weight, lat=49.4295, lon=2.0807, radius_km=30,
                      earliest=date(2026, 1, 1), latest=date(2026, 6, 30))
    assert [catalogue.ids[t] for t in near.trainings] == ["DT002"]
    assert set(codes[c] for c in near.residual) >= {"DS0195", "DS0587"}


def test_the_held_gap_lies_between_the_exact_and_the_related_gaps(world):
    """Related skills no longer close the gap: they are marked close inside it."""
    r, space, bridges, support, *_ = world
    related = support_for(bridges, r.n_skills)
    a, b = r.occupation_row("H2102"), r.occupation_row("H2906")
    need = occupation_need(space.raw, space.core, b)
    held = skill_gap(*need, held=held_of(space, a), support=support, near=related)
    soft = skill_gap(*need, held=held_of(space, a), support=related)
    exact = skill_gap(*need, held=held_of(space, a))
    assert set(soft.missing) < set(exact.missing)
    assert set(soft.missing) <= set(held.missing) <= set(exact.missing)
    close = set(held.missing[held.missing_close >= 0].tolist())
    assert close and close == set(held.missing.tolist()) - set(soft.missing.tolist())
    assert np.isin(held.via[held.via >= 0], held_of(space, a)).all()
    assert np.isin(held.missing_close[held.missing_close >= 0], held_of(space, a)).all()


def test_gap_to_itself_is_empty(world):
    r, space, *_ = world
    for code in ("H2102", "H2913", "I1304"):
        b = r.occupation_row(code)
        gap = skill_gap(*occupation_need(space.raw, space.core, b), held=held_of(space, b))
        assert len(gap.missing) == 0 and gap.coverage == 1.0


# ---- properties of the plan -------------------------------------------------------------------

@st.composite
def instances(draw):
    n_skills = draw(st.integers(3, 25))
    n_tr = draw(st.integers(0, 30))
    teaches = draw(st.lists(st.lists(st.integers(0, n_skills - 1), min_size=1, max_size=6),
                            min_size=n_tr, max_size=n_tr))
    hours = draw(st.lists(st.floats(1, 500), min_size=n_tr, max_size=n_tr))
    gap = sorted(draw(st.sets(st.integers(0, n_skills - 1), min_size=0, max_size=n_skills)))
    weights = draw(st.lists(st.floats(0.01, 10), min_size=len(gap), max_size=len(gap)))
    extra = draw(st.lists(st.integers(0, n_skills - 1), min_size=1, max_size=6))
    extra_hours = draw(st.floats(1, 500))
    return n_skills, teaches, hours, np.array(gap, dtype=np.int64), np.array(weights), extra, extra_hours


def matrix(n_skills, teaches):
    rows = np.repeat(np.arange(len(teaches)), [len(t) for t in teaches])
    cols = np.array([c for t in teaches for c in t], dtype=np.int64)
    m = sp.csr_array((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(teaches), n_skills))
    m.data[:] = 1.0
    return m


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_plan_properties(instance):
    n_skills, teaches, hours, gap, weights, extra, extra_hours = instance
    t = matrix(n_skills, teaches)
    index = TrainingIndex.fit(t, hours=hours)
    plan = index.plan(gap, weights)
    dense = t.toarray() > 0
    # never claims a skill that no chosen training teaches; each covered skill is claimed once
    claimed = np.concatenate(plan.covers) if plan.covers else np.zeros(0, np.int64)
    for row, cols in zip(plan.trainings, plan.covers):
        assert dense[row, cols].all()
    assert sorted(claimed.tolist()) == sorted(plan.covered.tolist())
    # residual + covered = the gap (a partition)
    assert sorted(np.concatenate([plan.covered, plan.residual]).tolist()) == sorted(gap.tolist())
    assert not set(plan.covered.tolist()) & set(plan.residual.tolist())
    assert plan.covered_weight + plan.residual_weight == pytest.approx(weights.sum())
    # every coverable skill is covered (no residual skill is taught by any training)
    if len(plan.residual) and len(teaches):
        assert not dense[:, plan.residual].any()
    assert plan.hours == pytest.approx(sum(hours[i] for i in plan.trainings))
    assert len(set(plan.trainings.tolist())) == len(plan.trainings)
    # adding a training never makes the covered weight smaller
    bigger = TrainingIndex.fit(matrix(n_skills, teaches + [extra]), hours=list(hours) + [extra_hours])
    assert bigger.plan(gap, weights).covered_weight >= plan.covered_weight - 1e-9


@settings(max_examples=100, deadline=None)
@given(instances())
def test_pruned_plan_is_no_longer_than_greedy(instance):
    n_skills, teaches, hours, gap, weights, *_ = instance
    if not len(teaches) or not len(gap):
        return
    a = matrix(n_skills, teaches).toarray()[:, gap] > 0
    h = np.asarray(hours)
    pruned, raw = greedy_cover(a, weights, h), greedy_cover(a, weights, h, prune=False)
    assert set(pruned) <= set(raw) and h[pruned].sum() <= h[raw].sum() + 1e-9
    assert (a[pruned].any(axis=0) == a.any(axis=0)).all()


def test_eligibility_filters():
    t = sp.csr_array(np.ones((4, 2), dtype=np.float32))
    days = np.array([20454, 20600], dtype=np.int32)  # 2026-01-01, 2026-05-27
    index = TrainingIndex.fit(t, hours=[10, 20, 30, 400], lat=[49.43, 44.84, np.nan, 49.43],
                              lon=[2.08, -0.58, np.nan, 2.08], remote=[False, False, True, False],
                              start_indptr=np.array([0, 1, 1, 2, 2]), start_days=days)
    near = index.eligible(lat=49.4, lon=2.1, radius_km=50)
    assert near.tolist() == [True, False, True, True]
    spring = index.eligible(earliest=date(2026, 3, 1), latest=date(2026, 12, 31))
    assert spring.tolist() == [False, True, True, True]  # 1: permanent entry, 2: starts in May
    assert index.eligible(max_hours=100).tolist() == [True, True, True, False]


# ---- basin needs -----------------------------------------------------------------------------

def test_basin_needs_matches_individual_gaps(world):
    r, space, bridges, support, catalogue, _ = world
    rng = np.random.default_rng(0)
    sources = [r.occupation_row(c) for c in ("H2102", "H2105", "H2104", "N1103")]
    occ = np.array([sources[i] for i in rng.integers(0, len(sources), size=60)])
    rows, cols = [], []
    for i, o in enumerate(occ):
        held = held_of(space, o)
        keep = held[rng.random(len(held)) < 0.7]
        rows += [i] * len(keep)
        cols += keep.tolist()
    skills = sp.csr_array((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(occ), r.n_skills))
    targets = choose_targets(occ, np.array([r.occupation_row("H2913"), r.occupation_row("H2906")]), bridges.matrix)
    needs = basin_needs(skills, targets, space.raw, space.core, catalogue.teaches, support=support)
    expected = np.zeros(r.n_skills)
    for i in range(len(occ)):
        gap = skill_gap(*occupation_need(space.raw, space.core, targets[i]), held=skills[[i]].indices,
                        support=support)
        expected[gap.missing] += gap.missing_weight
    got = np.zeros(r.n_skills)
    got[needs.skills] = needs.skill_weight
    assert np.allclose(got, expected, rtol=1e-5)
    assert needs.total_weight == pytest.approx(expected.sum(), rel=1e-5)
    assert np.all(np.diff(needs.skill_weight) <= 1e-9)
    # a training's closable weight is the missing weight of the skills it teaches
    t = catalogue.teaches.toarray() > 0
    for row, w in zip(needs.trainings[:5], needs.training_weight[:5]):
        assert w == pytest.approx(expected[t[row]].sum(), rel=1e-5)
    assert needs.closable_weight <= needs.total_weight + 1e-9
    assert (needs.training_seekers <= needs.seekers).all() and needs.seekers == len(occ)


def test_choose_targets_prefers_the_best_bridge(world):
    r, _, bridges, *_ = world
    a = r.occupation_row("H2102")
    cands = np.array([r.occupation_row("H2906"), r.occupation_row("K2204") if "K2204" in r.occupation_index
                      else r.occupation_row("N1103")])
    got = choose_targets(np.array([a, -1]), cands, bridges.matrix)
    assert got[1] == -1
    assert got[0] == cands[np.argmax(bridges.matrix[a, cands])]
