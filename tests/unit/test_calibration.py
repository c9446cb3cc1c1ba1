"""`matching.calibration`: thresholds read off the score distributions, the core-support rule, labels."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.calibration import LABELS, BridgeLabeller, Calibration, CoreSupport, calibrate, label_rank


def _space(links: list[list[int]], core: list[list[int]], n_skills: int) -> SkillSpace:
    rows, cols, vals, cvals = [], [], [], []
    for o, skills in enumerate(links):
        for s in skills:
            rows.append(o)
            cols.append(s)
            vals.append(1.0)
            cvals.append(1.0 if s in core[o] else 0.0)
    shape = (len(links), n_skills)
    m = sp.csr_array((np.array(vals, np.float32), (rows, cols)), shape=shape)
    c = sp.csr_array((np.array(cvals, np.float32), (rows, cols)), shape=shape)
    return SkillSpace.fit(m, c, np.zeros(n_skills, dtype=np.int8))


def test_core_support_counts_held_and_related_skills_only():
    # occupation 2 needs core skills 0 (group 0) and 2 (group 1); 0 holds 0; 1 holds 1 (same group as 0)
    space = _space([[0], [1], [0, 2, 3]], [[0], [1], [0, 2]], n_skills=4)
    exact = CoreSupport.fit(space)
    weight = space.skill_weight  # shares are of the target's weighted core (idf: rarer skills weigh more)
    half = weight[0] / (weight[0] + weight[2])
    assert exact.matrix[0, 2] == pytest.approx(half) and exact.matrix[1, 2] == 0.0
    assert exact.unsupported[0, 2] == 1 and exact.unsupported[1, 2] == 2
    grouped = CoreSupport.fit(space, groups=np.array([0, 0, 1, 2]))
    assert grouped.matrix[1, 2] == pytest.approx(half)  # skill 1 is related to core skill 0
    assert exact.matrix[2, 2] == 1.0
    kernel = sp.csr_array((np.array([0.9], np.float32), (np.array([2]), np.array([1]))), shape=(4, 4))
    with_kernel = CoreSupport.fit(space, groups=np.array([0, 0, 1, 2]), kernel=kernel)  # [target, held]
    assert with_kernel.matrix[1, 2] == pytest.approx(1.0) and with_kernel.unsupported[1, 2] == 0
    # label words: skills 1 and 2 read alike (cosine 0.8 >= 0.5), skills 0 and 1 do not (0.0)
    words = sp.csr_array(np.array([[1, 0], [0, 1], [0.6, 0.8], [1, 0]], dtype=np.float32))
    with_words = CoreSupport.fit(space, words=words)
    assert with_words.matrix[1, 2] == pytest.approx(1 - half) and with_words.unsupported[1, 2] == 1


def test_a_close_core_skill_counts_half_a_held_one_counts_in_full():
    # occupation 2 needs core skills 0 and 2; occupation 1 holds skill 1, related to both (one group)
    space = _space([[0], [1], [0, 2, 3]], [[0], [1], [0, 2]], n_skills=4)
    weight = space.skill_weight
    share0 = weight[0] / (weight[0] + weight[2])
    groups = np.array([0, 0, 0, 2])
    related = CoreSupport.fit(space, groups=groups)
    assert related.matrix[1, 2] == pytest.approx(1.0)  # before issue 19: related = supported
    nothing_held = sp.csr_array(sp.identity(4, dtype=bool, format="csr"))
    close = CoreSupport.fit(space, groups=groups, held=nothing_held)
    assert close.matrix[1, 2] == pytest.approx(0.5) and close.unsupported[1, 2] == 0
    held = sp.csr_array((np.array([True]), (np.array([1]), np.array([0]))), shape=(4, 4))  # 1 makes 0 held
    part = CoreSupport.fit(space, groups=groups, held=held + nothing_held)
    assert part.matrix[1, 2] == pytest.approx(share0 + 0.5 * (1 - share0))
    # a held pair the soft kernel does not relate still counts, in full
    alone = CoreSupport.fit(space, held=held + nothing_held)
    assert alone.matrix[1, 2] == pytest.approx(share0) and alone.unsupported[1, 2] == 1


def test_a_target_with_unsupported_core_is_never_viable():
    c = Calibration(viable=0.2, highly_viable=0.5, min_core_support=0.3)
    assert c.label(0.9, 1.0) == "highly viable"
    assert c.label(0.3, 1.0) == "viable"
    assert c.label(0.1, 1.0) == "stretch"
    assert c.label(0.99, 0.0) == "stretch"    # no shared or related skill supports the target's core
    assert c.label(0.99, 0.29) == "stretch"   # below the calibrated core-support floor
    assert c.label(0.99, 0.3) == "highly viable"


def test_label_rank_orders_and_rejects_unknown_labels():
    assert [label_rank(x) for x in LABELS] == [0, 1, 2]
    assert label_rank("viable") < label_rank("highly viable")
    with pytest.raises(ValueError, match="highly viable"):
        label_rank("maybe")


def _synthetic(seed: int, n: int = 60, n_domains: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    domains = np.arange(n) % n_domains
    same = domains[:, None] == domains[None, :]
    scores = np.where(same, rng.beta(4, 3, (n, n)), rng.beta(1, 8, (n, n))).astype(np.float32)
    np.fill_diagonal(scores, 1.0)
    support = np.clip(scores + rng.normal(0, 0.1, (n, n)), 0, 1).astype(np.float32)
    return scores, domains, support


def test_thresholds_separate_same_domain_from_random_pairs_and_are_reproducible():
    scores, domains, support = _synthetic(1)
    c = calibrate(scores, domains, support)
    assert c == calibrate(scores, domains, support)  # deterministic
    assert 0 < c.viable <= c.highly_viable <= 1
    ref = c.reference
    assert ref["random_pairs_exhaustive"] and ref["random_pairs"] == 60 * 59
    v = ref["viable"]
    level = ref["likelihood_ratio_levels_used"][0]  # 10, or less when this referential cannot reach it
    assert ref["capped"] == (level < 10)
    assert v["same_domain_pairs_at_or_above"] >= level * v["random_pairs_at_or_above"] * 0.999
    assert 0 <= c.min_core_support <= 1


def test_sampled_random_pairs_are_seeded():
    scores, domains, support = _synthetic(2)
    a = calibrate(scores, domains, support, max_pairs=1000, seed=7)
    assert a == calibrate(scores, domains, support, max_pairs=1000, seed=7)
    assert not a.reference["random_pairs_exhaustive"] and a.reference["random_pairs"] == 1000


def test_bad_shapes_are_named():
    scores, domains, support = _synthetic(3)
    with pytest.raises(ValueError, match="shape"):
        calibrate(scores, domains[:-1], support)
    with pytest.raises(ValueError, match="domain"):
        calibrate(scores, np.array([None] * len(domains)), support)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), power=st.floats(0.3, 3.0))
def test_labels_are_invariant_to_a_monotone_transform_of_the_score(seed, power):
    """The thresholds are read off the distributions, not fixed: rescaling the score changes nothing."""
    scores, domains, support = _synthetic(seed)
    transformed = scores.astype(np.float64) ** power
    a = calibrate(scores, domains, support)
    b = calibrate(transformed.astype(np.float32), domains, support)
    assert np.array_equal(a.labels(scores, support), b.labels(transformed.astype(np.float32), support))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_labels_never_decrease_with_the_score(seed):
    scores, domains, support = _synthetic(seed)
    c = calibrate(scores, domains, support)
    grid = np.linspace(0, 1, 101, dtype=np.float32)
    for s in (0.0, 0.2, 0.6, 1.0):
        ranks = c.labels(grid, np.full_like(grid, s))
        assert np.all(np.diff(ranks) >= 0)


def test_labeller_on_the_demo(demo):
    space = SkillSpace.from_referentiel(demo)
    labeller = BridgeLabeller.from_referentiel(demo, BridgeModel.fit(space), space)
    ranks = labeller.labels_from(0)
    assert ranks.shape == (demo.n_occupations,) and set(np.unique(ranks)) <= {0, 1, 2}
    assert labeller.label(0, 0) == "highly viable"  # an occupation fully supports itself
