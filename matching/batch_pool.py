"""Batch matching with the interactive score: the pre-filter vectors and the exact pair scorer.

The interactive score of :mod:`matching.match` (``PoolMatcher``) of seeker ``s`` for offer ``o``::

    score = (ALPHA * min(coverage, 1) + BETA * bridge) * must_factor * distance_factor

has ``must_factor`` and ``distance_factor`` in [0, 1], so its linear part is an upper bound, and
that linear part is a **sparse dot product** in an augmented space of n_skills + n_occupations
features (:func:`prefilter_vectors`):

    seeker row  = [1 on each held skill            | bridge_vec[o'] for o' with bridge >= floor]
    offer row   = [ALPHA * cov(s) on each required | BETA on the offer's occupation            ]
    seeker . offer = ALPHA * coverage + BETA * bridge(seeker -> offer's occupation)

where ``bridge_vec`` is the seeker's best bridge toward every occupation (max over the seeker's
occupations, as ``PoolMatcher.offers_for`` computes it) and ``floor`` defaults to the matcher's
``min_bridge``: the interactive kernel never scores an offer that shares no skill with the seeker
and whose occupation's bridge is below ``min_bridge``, and neither does the batch.
:func:`matching.batch.batch_topk` then takes the pre-filter's top ``k'``, re-scores them with
:func:`pair_scorer` — which calls the interactive kernel's own ``_score`` on each pair, with the
coverage accumulated in the same order and precision — and certifies every row (the pre-filter
plus ``slack = BETA * floor`` bounds the exact score of every pair left out).

So the batch ranks exactly what ``PoolMatcher.offers_for(offers, seeker, k)`` returns for every
seeker (same scores, same ties by offer key ascending when offers are in key order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from .match import _score  # the interactive kernel's per-pair score, reused as is
from .pool import ALIVE, VISIBLE

SLACK_EPS: float = 1e-5
"""Added to the certificate's slack: float32 rounding of the pre-filter against the float64 score."""


@dataclass(frozen=True, eq=False)
class OfferSet:
    """Offers in row order (sort them by key first: ties are broken by row = by key).

    Attributes:
        keys:       (n,) int64 offer ids
        skills:     (n, n_skills) float32 CSR, sorted indices; data = cov, the share of the offer's
                    requirement weight (``PoolMatcher.offer_profile``'s ``cov``)
        must:       (nnz,) float32 aligned with ``skills.data``: the share of must-have weight
        occupation: (n,) int32 occupation row, -1 when unknown
        lat, lon:   (n,) float32 degrees, NaN when unknown
        has_must:   (n,) uint8, 1 when the offer has at least one must-have skill
    """

    keys: np.ndarray
    skills: sp.csr_array
    must: np.ndarray
    occupation: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    has_must: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        s = self.skills
        return (s.data.nbytes + s.indices.nbytes + s.indptr.nbytes + self.must.nbytes + self.keys.nbytes
                + self.occupation.nbytes + self.lat.nbytes + self.lon.nbytes + self.has_must.nbytes)


@dataclass(frozen=True, eq=False)
class SeekerSet:
    """A chunk of seekers.

    Attributes:
        keys:        (n,) int64 seeker ids
        skills:      (n, n_skills) CSR, sorted unique indices (values ignored)
        occupations: (n, n_occupations) CSR whose indices per row are the seeker's occupation rows
                     (current first, then past ones; values ignored)
        lat, lon:    (n,) float64 degrees, NaN when unknown
        radius_km:   (n,) float64 mobility radius, NaN when unknown (no distance filter)
    """

    keys: np.ndarray
    skills: sp.csr_array
    occupations: sp.csr_array
    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def offer_weights(skill_ptr: np.ndarray, skill_ids: np.ndarray, is_must: np.ndarray, skill_weight: np.ndarray,
                  desired_factor: float) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Vectorised ``PoolMatcher.offer_profile`` weights for many offers.

    Args:
        skill_ptr: (n + 1,) int64 row pointer into ``skill_ids``
        skill_ids: (nnz,) int skill columns; a skill both must and desired counts as must
        is_must:   (nnz,) bool
        skill_weight: (n_skills,) float32 ``SkillSpace.skill_weight``
        desired_factor: weight factor of a desired skill

    Returns:
        (cov CSR (n, n_skills) float32 sorted indices, must (nnz,) float32 aligned, has_must (n,) uint8)
    """
    n = len(skill_ptr) - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(skill_ptr))
    ids = np.asarray(skill_ids, dtype=np.int64)
    must = np.asarray(is_must, dtype=bool)
    # one entry per (row, skill): must wins over desired
    order = np.lexsort((~must, ids, rows))
    rows, ids, must = rows[order], ids[order], must[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (ids[1:] != ids[:-1])
    rows, ids, must = rows[first], ids[first], must[first]
    w = np.asarray(skill_weight, dtype=np.float32)[ids].astype(np.float64)
    w = np.where(must, w, w * desired_factor)
    total = np.bincount(rows, weights=w, minlength=n)
    must_w = np.where(must, w, 0.0)
    must_total = np.bincount(rows, weights=must_w, minlength=n)
    cov = np.where(total[rows] > 0, w / np.where(total[rows] > 0, total[rows], 1.0), 0.0).astype(np.float32)
    mustv = np.where(must_total[rows] > 0, must_w / np.where(must_total[rows] > 0, must_total[rows], 1.0),
                     must_w).astype(np.float32)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    m = sp.csr_array((cov, ids.astype(np.int32), ptr), shape=(n, len(skill_weight)))
    return m, mustv, (must_total > 0).astype(np.uint8)


def _bridge_rows(occupations: sp.csr_array, bridge: np.ndarray, floor: float) -> sp.csr_array:
    """(n, n_occ) float32 CSR: each seeker's max bridge toward every occupation, entries >= floor."""
    n = occupations.shape[0]
    occ = np.asarray(occupations.indices, dtype=np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(occupations.indptr))
    kept = sp.csr_array(np.where(bridge >= floor, bridge, 0.0).astype(np.float32))
    kept.eliminate_zeros()
    lengths = np.diff(kept.indptr)[occ]
    seeker = np.repeat(owner, lengths)
    starts = np.repeat(kept.indptr[occ], lengths)
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = kept.indices[starts + within].astype(np.int64)
    vals = kept.data[starts + within]
    if len(cols) == 0:
        return sp.csr_array((n, bridge.shape[1]), dtype=np.float32)
    key = seeker * bridge.shape[1] + cols
    order = np.argsort(key, kind="stable")
    key, vals = key[order], vals[order]
    head = np.ones(len(key), dtype=bool)
    head[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(head)
    best = np.maximum.reduceat(vals, starts)
    ukey = key[starts]
    out = sp.csr_array((best.astype(np.float32), ((ukey // bridge.shape[1]), ukey % bridge.shape[1])),
                       shape=(n, bridge.shape[1]))
    out.sort_indices()
    return out


def prefilter_vectors(seekers: SeekerSet | None, offers: OfferSet | None, bridge: np.ndarray, *, alpha: float,
                      beta: float, floor: float) -> tuple[sp.csr_array | None, sp.csr_array | None]:
    """The augmented (n, n_skills + n_occupations) float32 CSR rows of the pre-filter (module docstring).

    Either side may be None (built separately: offers once, seekers per chunk)."""
    n_occ = bridge.shape[0]
    a = b = None
    if seekers is not None:
        held = sp.csr_array(seekers.skills, dtype=np.float32, copy=True)
        held.data[:] = 1.0
        a = sp.hstack([held, _bridge_rows(seekers.occupations, bridge, floor)], format="csr").astype(np.float32)
        a.sort_indices()
    if offers is not None:
        cov = sp.csr_array(offers.skills, dtype=np.float32, copy=True)
        cov.data = (cov.data * np.float32(alpha)).astype(np.float32)
        known = offers.occupation >= 0
        occ = sp.csr_array((np.full(int(known.sum()), beta, dtype=np.float32),
                            (np.flatnonzero(known), offers.occupation[known].astype(np.int64))),
                           shape=(len(offers), n_occ))
        b = sp.hstack([cov, occ], format="csr").astype(np.float32)
        b.sort_indices()
    return a, b


@numba.njit(nogil=True)
def _pair_kernel(rows, cols, s_ptr, s_idx, q_ptr, q_occ, s_lat, s_lon, s_rad,
                 o_ptr, o_idx, o_cov, o_must, f_occ, f_start, f_len, flags, lat, lon, radius, has_must,
                 bridge, alpha, beta, must_penalty, dist_decay, out, o_n, allowance, breadth_power):
    need = np.uint8(3)
    no_must = np.zeros(0, dtype=np.uint8)
    bvec = np.zeros(bridge.shape[1], dtype=np.float32)
    current = -1
    for p in range(len(rows)):
        r = rows[p]
        c = cols[p]
        if r != current:  # the seeker's bridge vector: max over his occupations (offers_for)
            current = r
            if q_ptr[r + 1] > q_ptr[r]:
                bvec[:] = bridge[q_occ[q_ptr[r]]]
                for j in range(q_ptr[r] + 1, q_ptr[r + 1]):
                    row = bridge[q_occ[j]]
                    for t in range(len(bvec)):
                        if row[t] > bvec[t]:
                            bvec[t] = row[t]
            else:
                bvec[:] = 0.0
        # coverage as the interactive kernel accumulates it: float32, from 1.0, seeker skills ascending
        acc = np.float32(1.0)
        accm = np.float32(0.0)
        j = o_ptr[c]
        j_end = o_ptr[c + 1]
        for i in range(s_ptr[r], s_ptr[r + 1]):
            s = s_idx[i]
            while j < j_end and o_idx[j] < s:
                j += 1
            if j == j_end:
                break
            if o_idx[j] == s:
                acc += np.float32(1.0) * o_cov[j]
                accm += np.float32(1.0) * o_must[j]
        sc = _score(c, acc - 1.0, accm, f_occ, f_start, f_len, bvec, flags, need, lat, lon, radius,
                    s_lat[r], s_lon[r], s_rad[r], has_must, False, False, alpha, beta, must_penalty, dist_decay,
                    o_n, s_ptr[r + 1] - s_ptr[r], False, allowance, breadth_power)
        out[p] = np.float32(sc) if sc > 0.0 else np.float32(0.0)
    return out


def pair_scorer(seekers: SeekerSet, offers: OfferSet, matcher) -> "callable":
    """``scorer(rows, cols) -> (m,) float32``: the interactive score of seeker row ``rows[i]`` of this
    chunk for offer row ``cols[i]`` (0 where the interactive matching would not list the pair: out
    of the mobility radius, or a score <= 0). ``matcher``: a ``matching.match.PoolMatcher``."""
    n = len(offers)
    f_occ = np.where(offers.occupation >= 0, offers.occupation, 0).astype(np.int32)
    f_len = (offers.occupation >= 0).astype(np.int32)
    f_start = np.arange(n, dtype=np.int64)
    flags = np.full(n, ALIVE | VISIBLE, dtype=np.uint8)
    radius = np.full(n, np.nan, dtype=np.float32)
    s_skills = sp.csr_array(seekers.skills)
    s_skills.sort_indices()
    occ = seekers.occupations
    bridge = np.ascontiguousarray(matcher.bridge, dtype=np.float32)

    def scorer(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = np.zeros(len(rows), dtype=np.float32)
        if len(rows) == 0:
            return out
        return _pair_kernel(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                            s_skills.indptr.astype(np.int64), s_skills.indices.astype(np.int32),
                            occ.indptr.astype(np.int64), occ.indices.astype(np.int32),
                            np.asarray(seekers.lat, dtype=np.float64), np.asarray(seekers.lon, dtype=np.float64),
                            np.asarray(seekers.radius_km, dtype=np.float64),
                            offers.skills.indptr.astype(np.int64), offers.skills.indices.astype(np.int32),
                            offers.skills.data, offers.must, f_occ, f_start, f_len, flags,
                            offers.lat.astype(np.float32), offers.lon.astype(np.float32), radius,
                            offers.has_must, bridge, float(matcher.alpha), float(matcher.beta),
                            float(matcher.must_penalty), float(matcher.dist_decay), out,
                            np.diff(offers.skills.indptr).astype(np.int32),
                            float(getattr(matcher, "breadth_allowance", float("inf"))),
                            float(getattr(matcher, "breadth_power", 0.5)))

    return scorer
