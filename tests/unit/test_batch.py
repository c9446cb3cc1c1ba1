"""The chunked sparse top-k kernel and exact re-scoring (matching/batch.py) against dense references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.batch import (PAD_INDEX, Postings, batch_topk, chunk_bounds, chunked_topk, dense_topk, rescore_topk,
                            topk_sparse, weighted_profiles)


def _random(rng: np.random.Generator, n: int, d: int, per_row: int, ties: bool) -> sp.csr_array:
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, d, n * per_row)
    values = rng.integers(1, 4, n * per_row).astype(np.float32) if ties else rng.random(n * per_row).astype(np.float32)
    m = sp.csr_array((values, (rows, cols)), shape=(n, d))
    m.sum_duplicates()
    return m


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_a=st.integers(0, 40), n_b=st.integers(1, 60), d=st.integers(1, 30),
       per_row=st.integers(0, 6), k=st.integers(1, 70), ties=st.booleans())
def test_topk_equals_dense_reference(seed, n_a, n_b, d, per_row, k, ties):
    """Same indices, same scores, ties by lower index, padding past the positive scores."""
    rng = np.random.default_rng(seed)
    a, b = _random(rng, n_a, d, per_row, ties), _random(rng, n_b, d, per_row, ties)
    got, want = topk_sparse(a, Postings.of(b), k), dense_topk(a, b, k)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.scores, want.scores)
    np.testing.assert_allclose(got.next_best, want.next_best, rtol=1e-6)
    assert got.indices.dtype == np.int32 and got.scores.dtype == np.float32
    assert np.all((got.indices == PAD_INDEX) == (got.scores == 0))


def test_chunking_never_changes_a_row():
    rng = np.random.default_rng(3)
    a, b = _random(rng, 500, 80, 6, True), _random(rng, 700, 80, 6, True)
    p = Postings.of(b)
    whole = topk_sparse(a, p, 10)
    for chunk in (1, 7, 64, 499, 10_000):
        parts = chunked_topk(a, p, 10, chunk_rows=chunk)
        assert np.array_equal(parts.indices, whole.indices) and np.array_equal(parts.scores, whole.scores)
        assert parts.work == whole.work


def test_work_counts_postings_visited():
    a = sp.csr_array(np.array([[1, 0, 1], [0, 0, 0]], dtype=np.float32))
    b = sp.csr_array(np.array([[1, 1, 0], [0, 0, 1], [1, 0, 1]], dtype=np.float32))
    top = topk_sparse(a, Postings.of(b), 2)
    assert top.work == 4  # feature 0: rows 0, 2; feature 2: rows 1, 2
    assert top.indices.tolist() == [[2, 0], [-1, -1]]
    assert top.scores.tolist() == [[2.0, 1.0], [0.0, 0.0]]
    assert top.next_best.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("k", [1, 5])
def test_rescoring_with_an_upper_bound_is_certified_and_exact(k):
    """A scorer below the pre-filter: widening until certified gives the exact top-k of the scorer."""
    rng = np.random.default_rng(k)
    a, b = _random(rng, 300, 50, 5, True), _random(rng, 400, 50, 5, True)
    factor = rng.uniform(0.2, 1.0, (300, 400)).astype(np.float32)
    exact = (a @ b.T).toarray().astype(np.float32) * factor
    res = chunked_topk(a, Postings.of(b), k, chunk_rows=37, scorer=lambda r, c: exact[r, c], upper_bound=True,
                       widen=2)
    order = np.lexsort((np.broadcast_to(np.arange(400), exact.shape), -exact), axis=1)[:, :k]
    top = exact[np.arange(300)[:, None], order]
    assert res.certified.all()
    assert np.array_equal(res.indices, np.where(top > 0, order, PAD_INDEX))
    assert np.array_equal(res.scores, np.where(top > 0, top, 0))


def test_rescoring_without_a_bound_is_not_claimed_certified():
    a = sp.csr_array(np.array([[1, 1, 1]], dtype=np.float32))
    b = sp.csr_array(np.eye(3, dtype=np.float32))
    cand = topk_sparse(a, Postings.of(b), 1)
    res = rescore_topk(cand, lambda r, c: np.full(len(r), 0.5, np.float32), 1)
    assert not res.certified[0] and res.indices[0, 0] == 0 and res.scores[0, 0] == 0.5
    full = batch_topk(a, Postings.of(b), 1, scorer=lambda r, c: (c + 1).astype(np.float32) / 3, widen=3)
    assert full.indices[0, 0] == 2 and full.certified[0]  # every candidate re-scored: nothing left out


def test_weighted_profiles_are_unit_rows():
    presence = sp.csr_array(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    m = weighted_profiles(presence, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    norms = np.sqrt((m.toarray() ** 2).sum(axis=1))
    np.testing.assert_allclose(norms, [1.0, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(m.toarray()[0], [1 / np.sqrt(10), 0, 3 / np.sqrt(10)], rtol=1e-6)


def test_validation_messages():
    a = sp.csr_array(np.ones((2, 3), dtype=np.float32))
    p = Postings.of(sp.csr_array(np.ones((2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="same skill space"):
        topk_sparse(a, p, 1)
    with pytest.raises(ValueError, match="k must be >= 1"):
        topk_sparse(a, Postings.of(a), 0)
    assert chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
