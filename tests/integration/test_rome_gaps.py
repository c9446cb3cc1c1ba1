"""Gaps and plans on the real ROME 4.0 (v460) with a synthetic catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.gaps import TrainingIndex, occupation_need, skill_gap, support_for
from referentiels.trainings import from_frame, synthesize_trainings

pytestmark = pytest.mark.rome


@pytest.fixture(scope="module")
def world(rome):
    space = SkillSpace.from_referentiel(rome)
    bridges = BridgeModel.from_referentiel(rome, space)
    support = support_for(bridges, rome.n_skills)
    catalogue = from_frame(synthesize_trainings(rome, 2000, seed=0), rome)
    return rome, space, support, catalogue, TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())


def test_h2102_to_metallurgy_on_rome(world):
    r, space, support, catalogue, index = world
    a = r.occupation_row("H2102")
    held = space.raw.indices[space.raw.indptr[a]:space.raw.indptr[a + 1]]
    for target in ("H2913", "H2906"):
        b = r.occupation_row(target)
        need = occupation_need(space.raw, space.core, b)
        soft, exact = skill_gap(*need, held=held, support=support), skill_gap(*need, held=held)
        # ROME's codes barely overlap across sectors: exact matching sees almost everything missing,
        # the related-skill kernel recognises the generic know-how both occupations share
        assert len(soft.missing) < len(exact.missing) <= len(need[0])
        assert soft.missing_core[: int(soft.missing_core.sum())].all()
        plan = index.plan(soft.missing, soft.missing_weight)
        assert sorted(np.concatenate([plan.covered, plan.residual]).tolist()) == sorted(soft.missing.tolist())
        t = catalogue.teaches.toarray()[plan.trainings] > 0 if len(plan.trainings) else None
        for row, cols in zip(range(len(plan.trainings)), plan.covers):
            assert t[row, cols].all()


def test_support_is_symmetric_with_a_diagonal(world):
    r, _, support, *_ = world
    assert support.shape == (r.n_skills, r.n_skills) and support.diagonal().all()
    assert (support != support.T).nnz == 0
