"""Invariants of the skill space, the bridge score, passerelles, paths and the evaluation (hypothesis)."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.bridges import BridgeModel
from matching.evaluation import cross_validated_matrix, evaluate, ranks_of
from matching.graph import best_paths
from matching.passerelles import PasserelleIndex
from matching.ranking import top_k
from matching.space import SkillSpace
from referentiels.model import Referentiel

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("savoir-faire", "savoir", "savoir-être")
WORDS = ("contrôler", "régler", "machine", "produit", "qualité", "ligne", "soudure", "hygiène", "stock",
         "conformité", "maintenance", "sécurité")


def sparse_pair(weights: np.ndarray, core: np.ndarray) -> tuple[sp.csr_array, sp.csr_array]:
    """Link and core CSR matrices with the same pattern (the pattern of ``weights`` > 0)."""
    links = sp.csr_array(weights.astype(np.float32))
    links.sort_indices()
    flags = links.copy()
    rows = np.repeat(np.arange(links.shape[0]), np.diff(links.indptr))
    flags.data = core[rows, links.indices].astype(np.float32)
    return links, flags


@st.composite
def link_matrices(draw, max_occ: int = 7, max_skills: int = 10):
    """(links, core, kinds): real-valued weights > 0, every occupation with at least one skill."""
    n = draw(st.integers(2, max_occ))
    m = draw(st.integers(1, max_skills))
    weights = np.zeros((n, m))
    core = np.zeros((n, m), dtype=bool)
    for i in range(n):
        for j in draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m, unique=True)):
            weights[i, j] = draw(st.floats(0.1, 5.0))
            core[i, j] = draw(st.booleans())
    kinds = np.array(draw(st.lists(st.integers(0, 2), min_size=m, max_size=m)), dtype=np.int8)
    return (*sparse_pair(weights, core), kinds)


@st.composite
def referentials(draw):
    """A small referential as tables: labels from a fixed vocabulary, sectors, titles, mobilities."""
    links, core, kinds = draw(link_matrices())
    n, m = links.shape
    label = lambda: " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))  # noqa: E731
    occupations = pl.DataFrame({"code": [f"X{i:04d}" for i in range(n)], "label": [label() for _ in range(n)],
                                "domain": [draw(st.sampled_from(["X10", "X20", None])) for _ in range(n)],
                                "domain_label": [None] * n, "parent": [None] * n})
    skills = pl.DataFrame({"code": [f"{100000 + j}" for j in range(m)], "label": [label() for _ in range(m)],
                           "kind": [KINDS[k] for k in kinds], "group": [draw(st.sampled_from(["g1", "g2", ""]))
                                                                        for _ in range(m)]})
    coo = links.tocoo()
    linkt = pl.DataFrame({"occupation": [f"X{i:04d}" for i in coo.row], "skill": [f"{100000 + j}" for j in coo.col],
                          "weight": coo.data.astype(float), "core": [bool(core[[i]][0, j]) for i, j in zip(coo.row, coo.col)]})
    sectors = pl.DataFrame({"sector": [draw(st.sampled_from(["Alpha", "Beta", "Gamma"])) for _ in range(n)],
                            "occupation": [f"X{i:04d}" for i in range(n)], "principal": [True] * n})
    titles = pl.DataFrame({"title": [label() for _ in range(n)], "occupation": [f"X{i:04d}" for i in range(n)]})
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12, unique=True))
    pairs = [(a, b) for a, b in pairs if a != b]
    mobilities = pl.DataFrame({"occupation": [f"X{a:04d}" for a, _ in pairs], "target": [f"X{b:04d}" for _, b in pairs],
                               "rank": list(range(1, len(pairs) + 1))}, schema={"occupation": pl.String,
                                                                               "target": pl.String, "rank": pl.Int64})
    return dict(occupations=occupations, skills=skills, links=linkt, sectors=sectors.unique(["sector", "occupation"]),
                titles=titles, mobilities=mobilities)


def _build(tables: dict, seed: int | None = None) -> Referentiel:
    if seed is not None:  # shuffle the rows of every table, as a file written in another order
        tables = {k: v.sample(fraction=1.0, shuffle=True, seed=seed + i) for i, (k, v) in enumerate(tables.items())}
    return Referentiel.from_tables(name="t", version="1", source="test", **tables)


# ---- scores ----------------------------------------------------------------------------------------
@FAST
@given(link_matrices())
def test_scores_are_in_unit_interval_and_similarity_is_symmetric(data):
    model = BridgeModel.fit(SkillSpace.fit(*data))
    for m in (model.matrix, model.similarity_matrix, model.coverage_matrix):
        assert m.dtype == np.float32 and np.all(m >= 0.0) and np.all(m <= 1.0)
    np.testing.assert_allclose(model.similarity_matrix, model.similarity_matrix.T, atol=1e-6)
    a = 0
    assert model.scores_from(a).shape == (model.matrix.shape[0],) and model.scores_from(a).dtype == np.float32


@FAST
@given(link_matrices())
def test_coverage_of_oneself_is_one(data):
    model = BridgeModel.fit(SkillSpace.fit(*data))
    np.testing.assert_allclose(np.diag(model.coverage_matrix), 1.0, atol=1e-6)
    space = model.space
    assert all(abs(space.coverage(i, i) - 1.0) < 1e-6 for i in range(space.shape[0]))


@FAST
@given(link_matrices(), st.data())
def test_adding_one_of_bs_skills_to_a_never_lowers_coverage_a_to_b(data, draw):
    links, core, kinds = data
    n = links.shape[0]
    a = draw.draw(st.integers(0, n - 1))
    b = draw.draw(st.integers(0, n - 1))
    s = int(draw.draw(st.sampled_from(sorted(links[[b]].indices.tolist()))))
    before = BridgeModel.fit(SkillSpace.fit(links, core, kinds)).coverage(a, b)
    weights, flags = links.toarray(), core.toarray() > 0
    if weights[a, s] == 0:
        weights[a, s] = draw.draw(st.floats(0.1, 5.0))
        flags[a, s] = draw.draw(st.booleans())
    after = BridgeModel.fit(SkillSpace.fit(*sparse_pair(weights, flags), kinds)).coverage(a, b)
    assert after >= before - 1e-6


@FAST
@given(referentials())
def test_full_model_with_context_and_mobilities_stays_in_unit_interval(tables):
    r = _build(tables)
    model = BridgeModel.from_referentiel(r)
    assert set(model.signals) >= {"skills", "words", "titles", "domain", "family", "sectors"}
    for name, m in model.signals.items():
        assert np.all(m >= 0.0) and np.all(m <= 1.0), name
    assert np.all(model.matrix >= 0) and np.all(model.matrix <= 1)
    np.testing.assert_allclose(model.similarity_matrix, model.similarity_matrix.T, atol=1e-6)
    need = np.arange(r.n_skills)
    kernel = model.related(need, need)
    assert np.all(kernel >= 0) and np.all(kernel <= 1) and np.allclose(np.diag(kernel), 1.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referentials(), st.integers(0, 10_000))
def test_results_do_not_depend_on_the_order_of_rows_in_the_input_files(tables, seed):
    r1, r2 = _build(tables), _build(tables, seed=seed)
    assert r1.fingerprint == r2.fingerprint
    m1, m2 = BridgeModel.from_referentiel(r1), BridgeModel.from_referentiel(r2)
    np.testing.assert_array_equal(m1.matrix, m2.matrix)
    i1, i2 = PasserelleIndex.fit(r1, m1.space, m1), PasserelleIndex.fit(r2, m2.space, m2)
    for a in range(r1.n_occupations):
        assert [p.to_dict() for p in i1.query(a, 5)] == [p.to_dict() for p in i2.query(a, 5)]


# ---- ranking -------------------------------------------------------------------------------------
@FAST
@given(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=1, max_size=30), st.integers(0, 35), st.data())
def test_top_k_breaks_ties_by_code_deterministically(values, k, data):
    scores = np.asarray(values, dtype=np.float32)
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    rows, vals = top_k(scores, mask, k)
    expected = sorted(np.flatnonzero(mask).tolist(), key=lambda i: (-scores[i], i))[:k]
    assert rows.tolist() == expected and vals.tolist() == scores[expected].tolist()


@FAST
@given(link_matrices(max_occ=6), st.integers(1, 3), st.data())
def test_best_path_is_the_exact_max_product_over_at_most_three_steps(data, max_steps, draw):
    links, core, kinds = data
    scores = BridgeModel.fit(SkillSpace.fit(links, core, kinds)).matrix
    n = scores.shape[0]
    keep = np.asarray(draw.draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n))).reshape(n, n)
    edges = np.where(keep, scores, 0.0).astype(np.float32)
    np.fill_diagonal(edges, 0.0)
    a, t = 0, n - 1
    found = best_paths(edges, scores[a], a, t, max_steps=max_steps, n_paths=1)
    best = float(scores[a, t])
    others = [m for m in range(n) if m not in (a, t)]
    for length in range(1, max_steps):
        for mids in itertools.permutations(others, length):
            path = (a, *mids, t)
            best = max(best, float(np.prod([edges[path[i], path[i + 1]] for i in range(len(path) - 1)])))
    (path, score), = found
    assert score == pytest.approx(best, rel=1e-5, abs=1e-7)
    assert path[0] == a and path[-1] == t and len(path) - 1 <= max_steps and len(set(path)) == len(path)


# ---- evaluation ----------------------------------------------------------------------------------
@FAST
@given(st.lists(st.floats(0, 1, width=32), min_size=3, max_size=20), st.data())
def test_ranks_match_a_brute_force_ranking(values, data):
    n = len(values)
    scores = np.tile(np.asarray(values, dtype=np.float32), (n, 1))
    a = data.draw(st.integers(0, n - 1))
    targets = np.asarray(data.draw(st.lists(st.integers(0, n - 1).filter(lambda x: x != a), min_size=1, max_size=3)))
    order = sorted((i for i in range(n) if i != a), key=lambda i: (-scores[a, i], i))
    assert ranks_of(scores, a, targets).tolist() == [order.index(t) + 1 for t in targets]


def test_a_perfect_ranking_has_recall_and_mrr_one():
    n = 6
    sources, targets = np.array([0, 0, 3]), np.array([1, 2, 4])
    scores = np.zeros((n, n), dtype=np.float32)
    scores[sources, targets] = 1.0
    e = evaluate(scores, sources, targets)
    assert e.mrr == 1.0 and all(v == 1.0 for v in e.recall.values()) and e.sources == 2 and e.pairs == 3


def test_cross_validation_never_scores_a_source_with_its_own_mobilities(demo):
    model = BridgeModel.fit(SkillSpace.from_referentiel(demo))
    idx = demo.occupation_index
    src = np.array([idx[c] for c in demo.mobilities["occupation"]])
    dst = np.array([idx[c] for c in demo.mobilities["target"]])
    base = cross_validated_matrix(model, src, dst)
    a = int(src[0])
    # change a's own mobilities only: its cross-validated row must not move
    keep = src != a
    changed = cross_validated_matrix(model, np.r_[src[keep], [a, a]], np.r_[dst[keep], [(a + 1) % 106, (a + 2) % 106]])
    np.testing.assert_array_equal(base[a], changed[a])


def test_the_served_mobility_signal_scores_no_source_with_its_own_mobilities(demo):
    """The kernel ridge mobility signal's exact leave-one-out: a source's served row is the row a
    model fitted without that source would give (so it cannot move with the source's own list)."""
    from matching.bridges import mobility_signal, weighted_mean

    model = BridgeModel.fit(SkillSpace.from_referentiel(demo))
    content = weighted_mean(model.signals, model.weights.signals())
    idx = demo.occupation_index
    src = np.array([idx[c] for c in demo.mobilities["occupation"]])
    dst = np.array([idx[c] for c in demo.mobilities["target"]])
    full = mobility_signal(content, src, dst)
    assert full.dtype == np.float32 and full.min() >= 0.0 and full.max() <= 1.0
    for a in np.unique(src)[:5]:
        without = mobility_signal(content, src[src != a], dst[src != a])
        np.testing.assert_allclose(full[a], without[a], atol=1e-4)
        moved = mobility_signal(content, np.r_[src[src != a], [a]], np.r_[dst[src != a], [(a + 3) % len(content)]])
        np.testing.assert_allclose(full[a], moved[a], atol=1e-4)
    # a source's mobilities do reach the others: a learned signal, not a constant
    assert np.abs(full - mobility_signal(content, src[src != src[0]], dst[src != src[0]])).max() > 1e-3
