"""Batch matching with the interactive score, both ways, through ``PoolMatcher``'s own queries:
every seeker's top-k offers, and every offer's top-k (consenting) candidates.

The interactive score of :mod:`matching.match` is not a dot product: a mobility radius filters
offers out, must-have skills and distance scale the score down, a breadth factor discounts long
skill lists. A linear pre-filter (coverage + bridge as a sparse product, then exact re-scoring of
its top candidates) was built and measured first (git history of this file): on 100k seekers x 20k
offers of the demo referential its certificate failed for most seekers with a small radius — the
pre-filter cannot see distance, so their top-k had to be widened to every touched offer — and the
job took 479 s. The interactive kernel is exact *and* prunes (candidates scored in decreasing
order of their upper bound, bridged occupations walked until the bound stops), so the batch runs
that very kernel once per seeker, in chunks, over an offers index built once per worker:

    offers = offer_index(matcher, n_skills, n_occupations, ...)     # once per job / worker
    top = top_offers(matcher, offers, seekers, k)                   # a chunk of seekers -> TopK

The result is, by construction, what ``PoolMatcher.offers_for(offers, seeker, k)`` lists for each
seeker (same scores, same ties by offer key); ``tests/unit/test_batch_pool.py`` checks it against
``offers_for``. The other direction is the same idea the other way round: a seekers index built once
per job (keys = rows, the ``VISIBLE`` flag = consent), and each offer's profile read back from the
offers index and queried with ``PoolMatcher.top_candidates`` itself (consenting seekers only):

    seekers_ix = seeker_index(n_skills, n_occupations, seekers, consent)   # once per job / worker
    top = top_candidates(matcher, seekers_ix, offers, keys, k)            # a chunk of offers -> TopK
 The skill-space cosine batch (``matching.batch.topk_sparse``) is the other score
the batch offers: a pure sparse product, no distance.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .batch import PAD_INDEX, TopK
from .match import _EMPTY_F32, _offer_has_must
from .pool import ALIVE, VISIBLE, ProfileIndex

SCORE_NAME: str = "interactive"


@dataclass(frozen=True, eq=False)
class SeekerSet:
    """A chunk of seekers, as the interactive index would hold them.

    Attributes:
        skills:      (n, n_skills) CSR, sorted unique column indices per row (values ignored)
        occupations: (n, n_occupations) CSR; row i's indices are seeker i's occupation rows
        lat, lon:    (n,) float32 degrees, NaN when unknown (float32 as in ``ProfileIndex``)
        radius_km:   (n,) float32 mobility radius, NaN when unknown (no distance filter)
    """

    skills: sp.csr_array
    occupations: sp.csr_array
    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray

    def __len__(self) -> int:
        return self.skills.shape[0]


def offer_index(matcher, n_skills: int, n_occupations: int, skill_ptr: np.ndarray, skill_ids: np.ndarray,
                is_must: np.ndarray, occupation: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> ProfileIndex:
    """An offers ``ProfileIndex`` (keys 0..n-1 in row order: ties are broken by row) built in bulk.

    Args:
        matcher: the ``PoolMatcher`` (its ``offer_weights`` gives each requirement's share)
        skill_ptr: (n + 1,) int64, offer i's skills are ``skill_ids[skill_ptr[i]:skill_ptr[i+1]]``
            (unique per offer, a skill both must and desired given once as must)
        skill_ids: (nnz,) int skill columns; is_must: (nnz,) bool
        occupation: (n,) int occupation row, -1 when unknown
        lat, lon: (n,) degrees, NaN when unknown
    """
    n = len(skill_ptr) - 1
    skill_ptr = np.asarray(skill_ptr, dtype=np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(skill_ptr))
    cov, must = matcher.offer_weights(owner, skill_ids, is_must, n)
    occupation = np.asarray(occupation, dtype=np.int64)
    known = occupation >= 0
    occ_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(known.astype(np.int64), out=occ_ptr[1:])
    index = ProfileIndex(n_skills, n_occupations, weighted=True, capacity=n)
    index.extend(np.arange(n, dtype=np.int64), skill_ptr, np.asarray(skill_ids, dtype=np.int64), occ_ptr,
                 occupation[known], np.asarray(lat, dtype=np.float32), np.asarray(lon, dtype=np.float32),
                 np.full(n, np.nan, np.float32), np.ones(n, dtype=bool), cov=cov, must=must)
    return index


def seeker_index(n_skills: int, n_occupations: int, seekers: SeekerSet, consent: np.ndarray) -> ProfileIndex:
    """A seekers ``ProfileIndex`` (keys 0..n-1 in row order: ties are broken by row) built in bulk;
    ``consent`` (n,) bool sets the ``VISIBLE`` flag, the only seekers an offer's query may list."""
    n = len(seekers)
    skills = sp.csr_array(seekers.skills)
    skills.sort_indices()
    occupations = sp.csr_array(seekers.occupations)
    index = ProfileIndex(n_skills, n_occupations, weighted=False, capacity=n)
    index.extend(np.arange(n, dtype=np.int64), skills.indptr.astype(np.int64), skills.indices.astype(np.int64),
                 occupations.indptr.astype(np.int64), occupations.indices.astype(np.int64),
                 np.asarray(seekers.lat, dtype=np.float32), np.asarray(seekers.lon, dtype=np.float32),
                 np.asarray(seekers.radius_km, dtype=np.float32), np.asarray(consent, dtype=bool))
    return index


def private_copies(matcher, *indexes: ProfileIndex):
    """A matcher owning its lock and query scratch (the indexes hold none: they are shared as they
    are), so several threads (Dask workers of one process) can query the same indexes at once."""
    return (dataclasses.replace(matcher, lock=threading.Lock()), *indexes)


def top_offers(matcher, offers: ProfileIndex, seekers: SeekerSet, k: int) -> TopK:
    """Top-``k`` open offers of every seeker of the chunk with the interactive score.

    Each row is exactly ``matcher.offers_for(offers, seeker, k)`` without the explanations: the
    same query (``PoolMatcher._run``) with the same arguments, so the same scores and ties.

    Returns:
        :class:`matching.batch.TopK` (n, k): offer keys (rows of the offers index) best first,
        ``PAD_INDEX`` where fewer than k offers qualify; ``work`` = postings walked.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = len(seekers)
    out_idx = np.full((n, k), PAD_INDEX, dtype=np.int32)
    out_score = np.zeros((n, k), dtype=np.float32)
    skills = sp.csr_array(seekers.skills)
    skills.sort_indices()
    s_ptr, s_ids = skills.indptr, skills.indices.astype(np.int32)
    o_ptr, o_ids = seekers.occupations.indptr, seekers.occupations.indices.astype(np.int32)
    lat = np.asarray(seekers.lat, dtype=np.float32)
    lon = np.asarray(seekers.lon, dtype=np.float32)
    radius = np.asarray(seekers.radius_km, dtype=np.float32)
    _offer_has_must(offers)  # refuses a seekers index
    need = ALIVE | VISIBLE
    work = 0
    for i in range(n):
        # the arguments PoolMatcher.top_offers passes for a seeker with these skills and occupations
        scores, keys, _ = matcher._run(offers, s_ids[s_ptr[i]:s_ptr[i + 1]], _EMPTY_F32, _EMPTY_F32,
                                       o_ids[o_ptr[i]:o_ptr[i + 1]], matcher.bridge, float(lat[i]), float(lon[i]),
                                       float(radius[i]), False, need, k, cand_is_seeker=False)
        m = len(keys)
        out_idx[i, :m] = keys
        out_score[i, :m] = scores
        if matcher.last_stats is not None:
            work += matcher.last_stats.postings
    return TopK(indices=out_idx, scores=out_score, next_best=np.zeros(n, dtype=np.float32),
                certified=np.ones(n, dtype=bool), work=work, score_name=SCORE_NAME)


def top_candidates(matcher, seekers: ProfileIndex, offers: ProfileIndex, keys: np.ndarray, k: int) -> TopK:
    """Top-``k`` consenting seekers of each offer ``keys`` (rows of the offers index) with the interactive score.

    Each row is exactly ``matcher.top_candidates(seekers, offers.profile(key), k)``: the offer's
    profile as the interactive pool holds it, the same query, consenting seekers only.

    Returns:
        :class:`matching.batch.TopK` (len(keys), k): seeker keys (rows of the seekers index) best
        first, ``PAD_INDEX`` where fewer than k seekers qualify; ``work`` = postings walked.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    out_idx = np.full((n, k), PAD_INDEX, dtype=np.int32)
    out_score = np.zeros((n, k), dtype=np.float32)
    work = 0
    for i, key in enumerate(keys.tolist()):
        scores, found = matcher.top_candidates(seekers, offers.profile(key), k)
        out_idx[i, :len(found)] = found
        out_score[i, :len(found)] = scores
        if matcher.last_stats is not None:
            work += matcher.last_stats.postings
    return TopK(indices=out_idx, scores=out_score, next_best=np.zeros(n, dtype=np.float32),
                certified=np.ones(n, dtype=bool), work=work, score_name=SCORE_NAME)
