"""National batch matching: chunked all-pairs top-k between two sparse sets in the skill space.

Every seeker's best offers (or every offer's best candidates: swap the roles) at national scale
(about 6M seekers x 1M offers, 6e12 pairs) cannot go through a dense product. The work is split in
two stages, both pure functions here (the Dask orchestration and the Parquet I/O live in
``api/services/batch_jobs.py``):

1. **Pre-filter** (:func:`topk_sparse`): the sparse product ``A @ B.T`` restricted, row by row, to
   its ``k'`` largest entries. ``A`` (n_a, n_features) and ``B`` (n_b, n_features) are float32
   CSR rows — by default :func:`weighted_profiles`, the L2-normalised skill vectors of the
   referential's :class:`~matching.space.SkillSpace` weights, so the pre-filter score is the
   cosine of the weighted skill profiles (``prefilter_cosine``). The kernel is a numba
   Gustavson-style scan over the postings of ``B`` (feature -> rows of B): one float32
   accumulator of n_b entries and a bounded heap of ``k'`` per row, nothing of size n_a x n_b ever
   exists. Memory: ``12 * n_b`` bytes of accumulator, touched list and marks per call, plus
   ``8 * k'`` per output row; the caller bounds the rest by the number of rows it passes
   (the chunk).
2. **Exact re-scoring** (:func:`rescore_topk`): a caller-supplied pair scorer — the interactive
   matching score — is evaluated on the ``k'`` candidates of each row, which are re-ranked and cut
   to ``k``. When the scorer is known never to exceed the pre-filter score
   (``upper_bound=True``), :func:`batch_topk` *certifies* each row: the k-th exact score is at
   least the best pre-filter score left out, so no pair outside the candidates could enter the
   top-k; uncertified rows are widened (``k'`` doubled) until certified or complete. Without that
   property the result is "exact re-scoring of the top ``k'`` pre-filter candidates" and the
   number of certified rows is reported, not claimed.

Determinism: every row is computed alone (no state crosses rows), accumulation follows the order
of the CSR indices, and ties are broken by the lower column index (the order of ``B``'s rows: the
caller sorts them by id). So any chunking — one process, or any number of Dask workers — gives
bit-identical results, which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np
import scipy.sparse as sp

PAD_INDEX: int = -1
"""Column index of an empty slot (a row with fewer than k candidates of positive score)."""

PREFILTER_NAME: str = "prefilter_cosine"
"""Name of the score when no exact scorer is plugged in: the cosine of the weighted skill profiles."""

PairScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``scorer(rows, cols) -> scores``: (m,) int64 local row indices of A, (m,) int64 row indices
of B -> (m,) float32 exact scores in [0, 1] of those pairs."""


def weighted_profiles(presence: sp.csr_array, skill_weight: np.ndarray,
                      boost: sp.csr_array | None = None) -> sp.csr_array:
    """L2-normalised weighted skill profiles, the vectors of the pre-filter.

    Args:
        presence: (n, n_skills) CSR, non-zero where the person or offer holds / asks the skill
            (values are ignored, only the pattern counts)
        skill_weight: (n_skills,) float32, ``SkillSpace.skill_weight`` (idf x kind weight)
        boost: optional (n, n_skills) CSR of the same pattern, a multiplicative factor per entry
            (e.g. 2 on an offer's must-have skills)

    Returns:
        (n, n_skills) float32 CSR, sorted indices, each non-empty row of unit L2 norm.
    """
    m = sp.csr_array(presence, dtype=np.float32, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    m.data = np.asarray(skill_weight, dtype=np.float32)[m.indices]
    if boost is not None:
        b = sp.csr_array(boost, dtype=np.float32)
        b.sum_duplicates()
        b.sort_indices()
        if b.nnz != m.nnz or not np.array_equal(b.indices, m.indices):
            raise ValueError("boost must have the same sparsity pattern as presence")
        m.data = m.data * b.data
    norms = np.sqrt(np.add.reduceat(np.concatenate([m.data.astype(np.float64) ** 2, [0.0]]),
                                    np.minimum(m.indptr[:-1], m.nnz))) if m.shape[0] else np.zeros(0)
    lengths = np.diff(m.indptr)
    norms = np.where(lengths > 0, norms, 1.0)
    m.data = (m.data / np.repeat(norms, lengths)).astype(np.float32)
    return m


@dataclass(frozen=True, eq=False)
class Postings:
    """The inverted form of B: feature -> rows of B holding it, with their values (CSC of B).

    Build once per B with :meth:`of`, then reuse for every chunk of A (and ship it once to each
    Dask worker). ``n_rows`` is n_b; arrays are int64 ``indptr`` (n_features + 1,), int32
    ``rows`` (nnz,), float32 ``values`` (nnz,), rows sorted ascending within each feature.
    """

    indptr: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    n_rows: int

    @classmethod
    def of(cls, b: sp.csr_array | sp.csr_matrix) -> "Postings":
        """Postings of the (n_b, n_features) CSR ``b``."""
        csc = sp.csc_array(b, dtype=np.float32)
        csc.sum_duplicates()
        csc.sort_indices()
        return cls(indptr=csc.indptr.astype(np.int64), rows=csc.indices.astype(np.int32),
                   values=csc.data.astype(np.float32), n_rows=int(b.shape[0]))

    @property
    def n_features(self) -> int:
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.rows.nbytes + self.values.nbytes


@numba.njit(inline="always")
def _worse(s1: np.float32, i1: np.int32, s2: np.float32, i2: np.int32) -> bool:
    """True when (s1, i1) ranks below (s2, i2): lower score, or same score and higher index."""
    return s1 < s2 or (s1 == s2 and i1 > i2)


@numba.njit(nogil=True, cache=True)
def _topk_kernel(a_indptr, a_indices, a_data, p_indptr, p_rows, p_values, n_b, k, threshold,
                 out_idx, out_score, out_next):
    """Row-by-row top-k of A @ B.T through B's postings. Fills out_idx/out_score (n_a, k) and
    out_next (n_a,), the best score left out of each row's top-k (0 when nothing was left out).
    Returns the number of multiply-adds done (the work)."""
    n_a = len(a_indptr) - 1
    acc = np.zeros(n_b, dtype=np.float32)
    touched = np.empty(n_b, dtype=np.int32)
    mark = np.zeros(n_b, dtype=np.int32)  # mark[c] == r + 1: c already in this row's touched list
    heap_s = np.empty(k, dtype=np.float32)
    heap_i = np.empty(k, dtype=np.int32)
    work = 0
    for r in range(n_a):
        n_touched = 0
        for jj in range(a_indptr[r], a_indptr[r + 1]):
            f = a_indices[jj]
            v = a_data[jj]
            for pp in range(p_indptr[f], p_indptr[f + 1]):
                c = p_rows[pp]
                if mark[c] != r + 1:
                    mark[c] = r + 1
                    touched[n_touched] = c
                    n_touched += 1
                acc[c] += v * p_values[pp]
            work += p_indptr[f + 1] - p_indptr[f]
        # bounded min-heap of the k best (score desc, index asc); the root is the worst kept
        size = 0
        best_left = np.float32(0.0)
        for t in range(n_touched):
            c = touched[t]
            s = acc[c]
            acc[c] = 0.0
            if not s > threshold:
                continue
            if size < k:
                pos = size
                size += 1
                while pos > 0:  # sift up
                    parent = (pos - 1) >> 1
                    if _worse(s, c, heap_s[parent], heap_i[parent]):
                        heap_s[pos] = heap_s[parent]
                        heap_i[pos] = heap_i[parent]
                        pos = parent
                    else:
                        break
                heap_s[pos] = s
                heap_i[pos] = c
            elif _worse(heap_s[0], heap_i[0], s, c):
                if heap_s[0] > best_left:
                    best_left = heap_s[0]
                pos = 0  # replace the root, sift down
                while True:
                    child = 2 * pos + 1
                    if child >= size:
                        break
                    if child + 1 < size and _worse(heap_s[child + 1], heap_i[child + 1], heap_s[child], heap_i[child]):
                        child += 1
                    if _worse(heap_s[child], heap_i[child], s, c):
                        heap_s[pos] = heap_s[child]
                        heap_i[pos] = heap_i[child]
                        pos = child
                    else:
                        break
                heap_s[pos] = s
                heap_i[pos] = c
            elif s > best_left:
                best_left = s
        out_next[r] = best_left
        # pop worst-first into the tail: the output is sorted best-first
        for slot in range(k - 1, -1, -1):
            if slot >= size:
                out_idx[r, slot] = -1
                out_score[r, slot] = 0.0
                continue
        m = size
        while m > 0:
            out_idx[r, m - 1] = heap_i[0]
            out_score[r, m - 1] = heap_s[0]
            m -= 1
            last_s = heap_s[m]
            last_i = heap_i[m]
            pos = 0
            while True:
                child = 2 * pos + 1
                if child >= m:
                    break
                if child + 1 < m and _worse(heap_s[child + 1], heap_i[child + 1], heap_s[child], heap_i[child]):
                    child += 1
                if _worse(heap_s[child], heap_i[child], last_s, last_i):
                    heap_s[pos] = heap_s[child]
                    heap_i[pos] = heap_i[child]
                    pos = child
                else:
                    break
            if m > 0:
                heap_s[pos] = last_s
                heap_i[pos] = last_i
    return work


@dataclass(frozen=True, eq=False)
class TopK:
    """Top-k of each row of A against B.

    Attributes:
        indices:  (n_a, k) int32 row indices of B, best first; ``PAD_INDEX`` (-1) in empty slots
        scores:   (n_a, k) float32 scores, non-increasing along each row; 0 in empty slots
        next_best: (n_a,) float32, the best *pre-filter* score of a pair left out of the row's
                  candidates (0 when none was left out): the bound used to certify the row
        certified: (n_a,) bool, True when the row's top-k is provably exact for the final score
        work:     multiply-adds done by the pre-filter (postings entries visited)
        score_name: the name of the final score
    """

    indices: np.ndarray
    scores: np.ndarray
    next_best: np.ndarray
    certified: np.ndarray
    work: int
    score_name: str = PREFILTER_NAME

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def __len__(self) -> int:
        return self.indices.shape[0]


def _check(a: sp.csr_array, postings: Postings, k: int) -> sp.csr_array:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    a = sp.csr_array(a, dtype=np.float32)
    if a.shape[1] != postings.n_features:
        raise ValueError(f"A has {a.shape[1]} features but B's postings have {postings.n_features}: "
                         "both must be in the same skill space")
    if not a.has_canonical_format:
        a = a.copy()
        a.sum_duplicates()
        a.sort_indices()
    return a


def topk_sparse(a: sp.csr_array, postings: Postings, k: int, threshold: float = 0.0) -> TopK:
    """Row-wise top-k of ``A @ B.T`` (the pre-filter), without forming the product.

    Args:
        a: (n_a, n_features) float32 CSR (a chunk of seekers)
        postings: :meth:`Postings.of` B, (n_b, n_features)
        k: candidates kept per row (k > n_b is allowed: rows are padded)
        threshold: only scores strictly above it are kept (default: positive scores)

    Returns:
        :class:`TopK` with (n_a, k) indices/scores sorted by score descending, ties by index
        ascending; ``certified`` is all True (the pre-filter is its own exact score).
    """
    a = _check(a, postings, k)
    n_a = a.shape[0]
    idx = np.empty((n_a, k), dtype=np.int32)
    scores = np.empty((n_a, k), dtype=np.float32)
    nxt = np.empty(n_a, dtype=np.float32)
    work = _topk_kernel(a.indptr.astype(np.int64), a.indices.astype(np.int32), a.data, postings.indptr,
                        postings.rows, postings.values, postings.n_rows, k, np.float32(threshold),
                        idx, scores, nxt)
    return TopK(indices=idx, scores=scores, next_best=nxt, certified=np.ones(n_a, dtype=bool), work=int(work))


def rescore_topk(candidates: TopK, scorer: PairScorer, k: int, *, upper_bound: bool = False,
                 slack: float = 0.0, complete: bool = True, row_offset: int = 0,
                 score_name: str = "exact") -> TopK:
    """Re-score each row's candidates with the exact ``scorer``, re-rank them, keep ``k``.

    Args:
        candidates: a pre-filter :class:`TopK` (k' >= k columns)
        scorer: ``scorer(rows, cols) -> (m,) float32``; ``rows`` are ``row_offset`` + local rows
        k: kept per row
        upper_bound: the scorer never exceeds the pre-filter score of a pair plus ``slack``; then
            a row is certified when its k-th exact score is >= ``next_best + slack`` (no pair left
            out could beat it), or when no candidate was left out and ``complete``
        slack: how much the exact score may exceed the pre-filter score (e.g. bridge mass the
            pre-filter dropped); with ``complete=False``, also a bound of the exact score of pairs
            whose pre-filter score is 0 (never candidates)
        complete: every pair the exact score may rank has a positive pre-filter score
        row_offset: added to local row numbers before calling ``scorer`` (a chunk's first row)

    Returns:
        :class:`TopK` of k columns sorted by exact score descending, ties by index ascending; pairs
        whose exact score is <= 0 are dropped (padded).
    """
    n, kp = candidates.indices.shape
    valid = candidates.indices >= 0
    rows_local, slots = np.nonzero(valid)
    cols = candidates.indices[rows_local, slots].astype(np.int64)
    exact = np.zeros((n, kp), dtype=np.float32)
    if len(cols):
        values = np.asarray(scorer(rows_local.astype(np.int64) + row_offset, cols), dtype=np.float32)
        if values.shape != cols.shape:
            raise ValueError(f"scorer returned shape {values.shape} for {cols.shape} pairs")
        exact[rows_local, slots] = values
    keep = valid & (exact > 0)
    # sort each row by (score desc, index asc) with the padding last: one lexsort over all rows
    idx_key = np.where(keep, candidates.indices, np.iinfo(np.int32).max).astype(np.int64)
    score_key = np.where(keep, -exact, np.inf)
    row_key = np.repeat(np.arange(n), kp)
    order = np.lexsort((idx_key.ravel(), score_key.ravel(), row_key)).reshape(n, kp)
    order = order - (np.arange(n) * kp)[:, None]
    take = order[:, :k] if kp >= k else np.pad(order, ((0, 0), (0, k - kp)), constant_values=-1)
    rows_ix = np.arange(n)[:, None]
    slot_ok = take >= 0
    safe = np.where(slot_ok, take, 0)
    out_keep = keep[rows_ix, safe] & slot_ok
    out_idx = np.where(out_keep, candidates.indices[rows_ix, safe], PAD_INDEX).astype(np.int32)
    out_scores = np.where(out_keep, exact[rows_ix, safe], 0.0).astype(np.float32)
    nothing_left = candidates.next_best <= 0
    certified = nothing_left & complete
    if upper_bound:
        full = out_keep[:, -1]
        certified |= full & (out_scores[:, -1] >= candidates.next_best + np.float32(slack))
    return TopK(indices=out_idx, scores=out_scores, next_best=candidates.next_best, certified=certified,
                work=candidates.work, score_name=score_name)


def batch_topk(a: sp.csr_array, postings: Postings, k: int, *, scorer: PairScorer | None = None,
               widen: int = 4, upper_bound: bool = False, slack: float = 0.0, complete: bool = True,
               row_offset: int = 0, score_name: str = "exact", max_candidates: int | None = None) -> TopK:
    """Top-k of every row of ``a`` (one chunk): the pre-filter, then exact re-scoring if a scorer is given.

    Without ``scorer`` the result is :func:`topk_sparse` (score ``prefilter_cosine``). With it,
    ``k' = widen * k`` pre-filter candidates are re-scored (:func:`rescore_topk`); when
    ``upper_bound`` holds (see :func:`rescore_topk` for ``slack`` and ``complete``), the rows not
    yet certified are recomputed with ``k'`` doubled until every row is certified or ``k'``
    reaches ``max_candidates`` (default: n_b, where every pair of positive pre-filter score has
    been re-scored: certified when ``complete``).

    Memory is bounded by the chunk: O(n_b) per call for the accumulator, O(n_a * k') for the output.
    """
    if scorer is None:
        return topk_sparse(a, postings, k)
    if widen < 1:
        raise ValueError(f"widen must be >= 1, got {widen}")
    a = _check(a, postings, k)
    limit = max(k, min(max_candidates or postings.n_rows, postings.n_rows))
    kp = min(max(k, widen * k), limit)
    result = rescore_topk(topk_sparse(a, postings, kp), scorer, k, upper_bound=upper_bound, slack=slack,
                          complete=complete, row_offset=row_offset, score_name=score_name)
    work = result.work
    if not upper_bound:
        return result
    indices, scores, nxt, certified = (result.indices.copy(), result.scores.copy(), result.next_best.copy(),
                                       result.certified.copy())
    while kp < limit and not certified.all():
        kp = min(2 * kp, limit)
        todo = np.flatnonzero(~certified)
        offsets = todo.astype(np.int64) + row_offset

        def sub_scorer(rows: np.ndarray, cols: np.ndarray, _offsets=offsets) -> np.ndarray:
            return scorer(_offsets[rows], cols)

        again = rescore_topk(topk_sparse(a[todo], postings, kp), sub_scorer, k, upper_bound=True, slack=slack,
                             complete=complete, score_name=score_name)
        work += again.work
        indices[todo], scores[todo], nxt[todo], certified[todo] = (again.indices, again.scores, again.next_best,
                                                                    again.certified)
    return TopK(indices=indices, scores=scores, next_best=nxt, certified=certified, work=work,
                score_name=score_name)


def chunk_bounds(n_rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] contiguous row ranges of at most ``chunk_rows`` covering ``n_rows``."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    return [(s, min(s + chunk_rows, n_rows)) for s in range(0, n_rows, chunk_rows)]


def empty_topk(k: int, score_name: str = PREFILTER_NAME) -> TopK:
    """A :class:`TopK` of no row (k columns)."""
    return TopK(indices=np.empty((0, k), np.int32), scores=np.empty((0, k), np.float32),
                next_best=np.empty(0, np.float32), certified=np.empty(0, bool), work=0, score_name=score_name)


def concat_topk(parts: list[TopK], k: int, score_name: str = PREFILTER_NAME) -> TopK:
    """The rows of ``parts`` one after the other, named ``score_name`` (no part: :func:`empty_topk`)."""
    if not parts:
        return empty_topk(k, score_name)
    return TopK(indices=np.concatenate([p.indices for p in parts]), scores=np.concatenate([p.scores for p in parts]),
                next_best=np.concatenate([p.next_best for p in parts]),
                certified=np.concatenate([p.certified for p in parts]), work=sum(p.work for p in parts),
                score_name=score_name)


def map_chunks(n_rows: int, chunk_rows: int, k: int, compute: Callable[[int, int], TopK],
               score_name: str = PREFILTER_NAME) -> TopK:
    """The one chunk loop of the batch: ``compute(start, stop)`` (the :class:`TopK` of rows
    ``start:stop``) over :func:`chunk_bounds`, concatenated in row order.

    Every direction and score goes through it (seekers -> offers, offers -> candidates; the
    interactive score or the cosine), in one process or on each Dask partition: rows never depend
    on each other, so any chunking gives the same arrays. Memory: one chunk's output at a time
    plus the concatenation."""
    return concat_topk([compute(s, e) for s, e in chunk_bounds(n_rows, chunk_rows)], k, score_name)


def chunked_topk(a: sp.csr_array, postings: Postings, k: int, chunk_rows: int = 65_536,
                 **options) -> TopK:
    """:func:`batch_topk` over row chunks of ``a`` in this process, concatenated.

    The single-process path: the Dask path runs the same function on each partition, so both give
    the same arrays (rows never depend on each other)."""
    a = sp.csr_array(a, dtype=np.float32)
    name = options.get("score_name", "exact") if options.get("scorer") else PREFILTER_NAME
    return map_chunks(a.shape[0], chunk_rows, k,
                      lambda s, e: batch_topk(a[s:e], postings, k, row_offset=s, **options), name)


def dense_topk(a: sp.csr_array, b: sp.csr_array, k: int) -> TopK:
    """Reference top-k through the full product (tests and small inputs only): O(n_a * n_b) memory.

    Same contract as :func:`topk_sparse` (positive scores, score desc, index asc)."""
    prod = np.asarray((sp.csr_array(a, dtype=np.float32) @ sp.csr_array(b, dtype=np.float32).T).toarray(),
                      dtype=np.float32)
    n_a, n_b = prod.shape
    cols = np.broadcast_to(np.arange(n_b), prod.shape)
    order = np.lexsort((cols, -prod), axis=1)[:, :k] if n_b else np.empty((n_a, 0), dtype=np.int64)
    rows = np.arange(n_a)[:, None]
    top = prod[rows, order]
    ok = top > 0
    idx = np.full((n_a, k), PAD_INDEX, dtype=np.int32)
    sc = np.zeros((n_a, k), dtype=np.float32)
    idx[:, :order.shape[1]] = np.where(ok, order, PAD_INDEX)
    sc[:, :order.shape[1]] = np.where(ok, top, 0.0)
    left = prod.copy()
    left[rows, order] = 0.0
    return TopK(indices=idx, scores=sc, next_best=left.max(axis=1, initial=0.0).astype(np.float32),
                certified=np.ones(n_a, dtype=bool), work=0)
