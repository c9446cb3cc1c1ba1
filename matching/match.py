"""Matching both ways over the pool index: offer -> top-k candidates, seeker -> top-k offers, explained.

    matcher = PoolMatcher.fit(space, bridges)                     # once per referential
    offer   = matcher.offer_profile(occupation=b, must=[...], desired=[...], lat=, lon=)
    hits    = matcher.candidates(seekers_index, offer, k=20)      # consenting seekers only
    hits    = matcher.offers_for(offers_index, seeker, k=20, radius_km=30)

The score of a seeker ``s`` for an offer ``o`` (all terms in [0, 1])::

    score = (ALPHA * coverage * breadth + BETA * bridge) * must_factor * distance_factor

- ``coverage``: share of the offer's requirement weight that ``s`` holds. A requirement weighs the
  skill's weight in the space (IDF x kind, ``SkillSpace.skill_weight``), x ``DESIRED_FACTOR`` (0.5)
  for a desired skill, x 1 for a must-have.
- ``breadth`` (no breadth bias, issue 12): 1 while the seeker lists at most ``allowance`` skills,
  then ``(allowance / n_skills) ** 0.5``; ``allowance`` is the number of skills of the broadest
  occupations of the referential (95th percentile: 82 on ROME v460, 43 on the demo) or the offer's
  own number of requirements if larger. Coverage alone made breadth free: a seeker listing every
  skill covered every offer, and one holding an offer's skills plus 200 unrelated ones tied with
  one holding exactly them (the tie then went to the smaller key). Now adding skills never raises
  a score unless they cover a requirement, and a long list costs coverage credit.
- ``bridge``: the best bridge score from one of the seeker's occupations (current or past) toward the
  offer's occupation (``BridgeModel.scores_from``; 1 for the same occupation). This is what makes a
  food-industry line operator surface for a metallurgy line-operator offer although ROME gives the
  two occupations almost no skill code in common.
- ``must_factor``: must-have skills are **heavily penalised, not enforced** by default:
  ``1 - MUST_PENALTY * (share of must-have weight missing)``, so a seeker missing every must-have
  keeps half his score (a bridge candidate holds none of the offer's exact codes, yet is the point
  of the product). ``require_must=True`` enforces them instead (such seekers are dropped).
- ``distance_factor``: candidates farther than the mobility radius are excluded (the seeker's
  radius, or the query's ``radius_km``); within it, ``1 - DIST_DECAY * distance / radius``. When a
  location or the radius is unknown, no distance filter applies (factor 1, distance None).

A candidate sharing no skill with the query is a match only through a bridge of at least
``MIN_BRIDGE``. Ranking: score (rounded to 1e-5, so float noise cannot reorder ties) descending, ties broken by key
ascending; exact top-k (no approximation).

How a query runs (one numba kernel, :func:`_topk`; details in docs/pool.md): the query's skills
are walked from the heaviest (the most a candidate can gain from it) down. A posting carries its
candidate's geographic cell (1 x 1 degree): a cell the query cannot reach (:func:`_reachable`: a
lower bound of the distance to the square against the query's radius or the cell's largest radius)
is skipped from the posting alone. A candidate met for the first time (one bit per slot) is scored
exactly from its own forward lists, never again. Before each skill, the best score a candidate not
yet met could reach — ``(ALPHA * remaining weight + BETA * best bridge) * best must factor`` — is
compared with the k-th score; once it cannot win, the walk stops (and no bridge-only candidate can
win either). Only when every skill was walked are the bridged occupations walked for candidates
sharing no skill, best bridge first, while ``BETA * bridge`` can still beat the k-th score. Every
skipped candidate is proven unable to enter the top-k, so the result is exactly the brute-force one
(``score_reference``; tests/unit/test_pool_pruning.py).

Speed is memory: the candidates looked at are scattered over hundreds of megabytes, so the kernel
takes postings by chunks, keeps those in reach, and asks for each candidate's row a few candidates
ahead (:mod:`matching.prefetch`); the survivors' own lists are asked for before they are scored.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import njit

from .pool import ALIVE, VISIBLE, Profile, ProfileIndex
from .prefetch import prefetch

ALPHA: float = 0.6
BETA: float = 0.4
MUST_PENALTY: float = 0.5
DESIRED_FACTOR: float = 0.5
DIST_DECAY: float = 0.3
BREADTH_QUANTILE: float = 0.95
BREADTH_POWER: float = 0.5
MIN_BRIDGE: float = 0.05
"""Occupations whose bridge toward the query is below this are not walked in phase 2."""
EARTH_KM: float = 6371.0088
CHUNK = 256
"""Postings the kernel takes at once: it keeps the in-reach ones, then looks at their candidates."""
AHEAD = 16
"""How many in-reach candidates ahead the kernel asks for a candidate's row (see ``prefetch``)."""


@njit(cache=True, inline="always")
def _haversine(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


@njit(cache=True, inline="always")
def _worse(s1, k1, s2, k2):
    return s1 < s2 or (s1 == s2 and k1 > k2)


@njit(cache=True)
def _push(hs, hk, hslot, size, score, key, slot):
    """Min-heap (root = worst kept) of at most len(hs) entries; returns the new size."""
    k = len(hs)
    if size < k:
        i = size
        hs[i], hk[i], hslot[i] = score, key, slot
        while i > 0:
            parent = (i - 1) // 2
            if _worse(hs[i], hk[i], hs[parent], hk[parent]):
                hs[i], hs[parent] = hs[parent], hs[i]
                hk[i], hk[parent] = hk[parent], hk[i]
                hslot[i], hslot[parent] = hslot[parent], hslot[i]
                i = parent
            else:
                break
        return size + 1
    if not _worse(hs[0], hk[0], score, key):
        return size
    hs[0], hk[0], hslot[0] = score, key, slot
    i = 0
    while True:
        left, right, low = 2 * i + 1, 2 * i + 2, i
        if left < k and _worse(hs[left], hk[left], hs[low], hk[low]):
            low = left
        if right < k and _worse(hs[right], hk[right], hs[low], hk[low]):
            low = right
        if low == i:
            break
        hs[i], hs[low] = hs[low], hs[i]
        hk[i], hk[low] = hk[low], hk[i]
        hslot[i], hslot[low] = hslot[low], hslot[i]
        i = low
    return size


@njit(cache=True, inline="always")
def _breadth(n_seeker, n_offer, allowance, power):
    """Breadth factor on coverage (issue 12): 1 up to max(allowance, n_offer) skills, then (that / n) ** power."""
    limit = max(allowance, float(n_offer))
    if n_seeker <= limit:
        return 1.0
    return (limit / n_seeker) ** power


@njit(cache=True)
def _best_bridge(slot, f_start, f_len, f_occ, bridge):
    """Best bridge score from any of a slot's occupations (its forward list) to the query's."""
    b = 0.0
    for u in range(f_start[slot], f_start[slot] + f_len[slot]):
        v = bridge[f_occ[u]]
        if v > b:
            b = v
    return b


@njit(cache=True, inline="always")
def _geo(la, lo, cos_la, rad, q_lat, q_lon, q_cos, dist_decay):
    """Distance factor in (0, 1] of a profile at (``la``, ``lo``) degrees (``cos_la`` its cosine) for a
    query at (``q_lat``, ``q_lon``) (``q_cos``) and a radius of ``rad`` km; -1 beyond the radius.

    Most candidates looked at lie beyond it, so it is first ruled out without trigonometry: the
    haversine ``a = sin^2(dlat/2) + cos cos' sin^2(dlon/2)`` is at least the same with each sine
    replaced by ``x - x^3/6 <= sin x`` (and ``cos_la`` lowered by its float32 error), and ``d = 2R
    asin(sqrt a) >= 2R sqrt a``; when that lower bound exceeds ``rad`` (with a 1e-6 margin for
    rounding) so does ``d``. Otherwise ``d`` is the exact haversine. Scalars only: an inlined numba
    function taking arrays costs a reference count round trip per call.
    """
    if math.isnan(q_lat) or math.isnan(la) or math.isnan(rad):
        return 1.0
    x = 0.5 * math.radians(abs(la - q_lat))
    dlon = abs(lo - q_lon)
    if dlon > 360.0:
        dlon = dlon % 360.0
    y = 0.5 * math.radians(min(dlon, 360.0 - dlon))  # the same sin^2 as dlon, in [0, pi / 2]
    sx = x - x * x * x / 6.0
    sy = y - y * y * y / 6.0
    h = rad / (2.0 * 6371.0088)
    # cos_la is float32, computed from the float32 latitude: within 3e-7 of the cosine the haversine uses
    cos_low = max(cos_la - 1e-6, 0.0)
    if (sx * sx + q_cos * cos_low * sy * sy) * (1.0 - 1e-6) > h * h + 1e-15:
        return -1.0
    d = _haversine(q_lat, q_lon, la, lo)
    if d > rad:
        return -1.0
    if rad > 0:
        return 1.0 - dist_decay * d / rad
    return 1.0


@njit(cache=True)
def _ask_candidate(slot, geo, flags, seen):
    """Ask for what meeting a candidate reads first: its geo row, its flags, its first-met bit."""
    prefetch(geo, slot)
    prefetch(flags, slot)
    prefetch(seen, slot >> 3)


@njit(cache=True, inline="always")
def _final(cov, mustcov, b, df, has_must, require_must, alpha, beta, must_penalty, g):
    """The score from its terms, rounded to 1e-5 (-1 when a required must-have is missing)."""
    if has_must and require_must and mustcov < 0.9999:
        return -1.0
    mf = 1.0
    if has_must:
        mf = 1.0 - must_penalty * (1.0 - min(mustcov, 1.0))
    return math.floor((alpha * min(cov, 1.0) * g + beta * b) * mf * df * 1e5 + 0.5) * 1e-5


@njit(cache=True)
def _reachable(cell_corner, cell_radius, q_lat, q_lon, q_radius, cell_size=1.0):
    """(n_cells,) uint8: 1 for the cells a profile within reach of the query may lie in.

    A cell is a ``cell_size`` x ``cell_size`` degree square (1 for seekers, 0.25 for offers); a profile in it is within reach only if the distance from the
    query to the square is at most the radius (the query's, else the largest radius of the cell).
    The distance is bounded from below: haversine's ``a`` is at least ``sin^2(dlat/2) + cos^2(lat_max)
    sin^2(dlon/2)`` with ``dlat`` / ``dlon`` the smallest latitude / longitude gaps to the square and
    ``lat_max`` the largest |latitude| involved. Cell 0 (unknown locations) is always reachable.
    """
    return _cells(cell_corner, cell_radius, q_lat, q_lon, q_radius, 0.0, cell_size)[0]


@njit(cache=True)
def _cells(cell_corner, cell_radius, q_lat, q_lon, q_radius, dist_decay, cell_size):
    """(reach, df_max): :func:`_reachable`'s flags, and per cell an upper bound of the distance factor
    of any profile in it within reach (``1 - dist_decay * d_min / radius`` with ``d_min`` the lower
    bound of the distance to the square and ``radius`` the query's, else the cell's largest one: a
    profile's own radius is at most that, so its factor is at most the bound; 1 when unknown)."""
    n = cell_radius.shape[0]
    reach = np.ones(n, dtype=np.uint8)
    df_max = np.ones(n, dtype=np.float64)
    if math.isnan(q_lat) or math.isnan(q_lon):
        return reach, df_max
    for c in range(1, n):
        a = cell_corner[c, 0]
        rad = q_radius
        if math.isnan(rad):
            rad = cell_radius[c]
        if math.isnan(a):
            reach[c] = 0  # no profile was ever put in this cell
            continue
        if math.isnan(rad) or math.isinf(rad):
            continue
        b = cell_corner[c, 1]
        dlat = 0.0
        if q_lat < a:
            dlat = a - q_lat
        elif q_lat > a + cell_size:
            dlat = q_lat - a - cell_size
        if dlat * 111.0 - 0.01 > rad:
            reach[c] = 0  # the latitude gap alone is too far (111 km per degree is a lower bound)
            continue
        dlon = 0.0
        x = q_lon - b  # the query's longitude east of the square's west edge, brought into [0, 360)
        if x < 0.0 or x >= 360.0:
            x = x % 360.0
        if x > cell_size:
            dlon = min(x - cell_size, 360.0 - x)
        lat_max = min(max(abs(q_lat), abs(a), abs(a + cell_size)), 90.0)
        h = math.sin(math.radians(dlat) / 2) ** 2 + (math.cos(math.radians(lat_max)) * math.sin(math.radians(dlon) / 2)) ** 2
        d = 2.0 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
        d_low = d * (1.0 - 1e-6) - 0.01
        if d_low > rad:
            reach[c] = 0
        elif rad > 0.0 and d_low > 0.0:
            df_max[c] = 1.0 - dist_decay * d_low / rad
    return reach, df_max


@njit(cache=True)
def _walk_order(q_skills, q_weight, q_must_weight, skill_max):
    """(terms, cov, must, ub) of a query, walked from the term a candidate can gain most from down
    (stable on ties): ``ub`` is an offer's requirement weight, or for a seeker's skills (``q_weight``
    empty: 1 each) 1 x the largest share any offer gives that skill (``skill_max``, offers only)."""
    n = q_skills.shape[0]
    if q_weight.shape[0] == 0:
        q_weight = np.ones(n, dtype=np.float32)
        q_must_weight = q_weight
    ub = q_weight.astype(np.float64)
    if skill_max.shape[0] > 0:
        for i in range(n):
            ub[i] *= skill_max[q_skills[i]]
    walk = np.argsort(-ub, kind="mergesort")
    return q_skills[walk], q_weight[walk], q_must_weight[walk], ub[walk]


@njit(cache=True)
def _bridge_toward(q_occ, bridge_rows):
    """(n_occupations,) float32 bridge toward the query from each occupation: the best over the
    query's occupations ``q_occ`` (rows of ``bridge_rows``: the bridge matrix, or its transpose for
    an offer's occupation); zeros when it has none."""
    bridge = np.zeros(bridge_rows.shape[1], dtype=np.float32)
    for o in q_occ:
        for a in range(bridge.shape[0]):
            if bridge_rows[o, a] > bridge[a]:
                bridge[a] = bridge_rows[o, a]
    return bridge


@njit(cache=True, nogil=True)
def _topk(q_skills, q_weight, q_must_weight, skill_max, q_occ, bridge_rows, qrank, seen, fw_ids, fw_cov, fw_must,
          fw_start, fw_len, p_ids, p_cov, p_occ, p_cell, slot_cell, cell_corner, cell_radius, cell_size, p_start, p_len,
          o_ids, o_start, o_len, f_occ, f_start, f_len, min_bridge,
          flags, need, geo, q_lat, q_lon, q_radius, cand_has_must,
          require_must, alpha, beta, must_penalty, dist_decay, keys, k, cand_is_seeker,
          allowance, power):
    """Exact top-k by pruned term-at-a-time search.

    Returns (scores, keys, slots) best first (ties by key), and the work done: candidates scored
    through a shared skill, candidates scored in all, postings walked, postings in reach.

    The query: ``q_skills`` (m,) with their weights ``q_weight`` / ``q_must_weight`` (an offer's
    shares; empty for a seeker: 1 each), ``q_occ`` its occupations and ``bridge_rows`` the bridge
    matrix read by row (``bridge[a, :]`` for a seeker's occupation ``a``, its transpose for an
    offer's). The terms are walked by decreasing ``q_ub``, the most a candidate can gain from one
    term (x ``skill_max`` for offers). A posting whose geographic cell lies out of reach is skipped from the posting
    alone (:func:`_reachable`). A candidate is looked at once, when first met (``seen``: one bit per
    slot, cleared before returning), and scored exactly: its coverage and must-have coverage come from
    its own forward list against ``qrank`` (the query term's rank per skill, -1 elsewhere; reset to
    -1 before returning). Before term
    ``r`` a candidate not yet met holds none of terms ``< r``: its coverage is at most the sum of the
    remaining ``q_ub``, its bridge at most the query's best bridge, its distance factor at most 1, so
    its score is bounded; once the k-th best score beats that bound, no unmet candidate (sharing a
    skill or only a bridge) can enter and the search stops. When every term was walked, bridged
    occupations are walked for candidates sharing no skill, best bridge first, while
    ``beta * bridge`` can still win.
    """
    q_terms, q_cov, q_must, q_ub = _walk_order(q_skills, q_weight, q_must_weight, skill_max)
    q_len = q_terms.shape[0]
    nq = q_len
    weighted = fw_cov.shape[0] > 0
    per_cand_must = cand_has_must.shape[0] > 0
    query_has_must = False  # an offer with must-haves (the candidates are seekers)
    if not per_cand_must:
        for i in range(nq):
            if q_must[i] > 0:
                query_has_must = True
    bridge = _bridge_toward(q_occ, bridge_rows)
    reach, cell_df = _cells(cell_corner, cell_radius, q_lat, q_lon, q_radius, dist_decay, cell_size)
    known_occ = p_occ.shape[0] > 0
    for i in range(nq):
        qrank[q_terms[i]] = i
    rem = np.empty(nq + 1, dtype=np.float64)
    rem_must = np.empty(nq + 1, dtype=np.float64)
    rem[nq] = 0.0
    rem_must[nq] = 0.0
    for i in range(nq - 1, -1, -1):
        rem[i] = rem[i + 1] + q_ub[i]
        rem_must[i] = rem_must[i + 1] + q_must[i]
    b_max = 0.0
    for a in range(bridge.shape[0]):
        if bridge[a] > b_max:
            b_max = bridge[a]
    hs = np.empty(k, dtype=np.float32)
    hk = np.empty(k, dtype=np.int64)
    hslot = np.empty(k, dtype=np.int32)
    size = 0
    n_scored = 0
    n_post = 0
    n_reach = 0
    complete = True
    own_radius = math.isnan(q_radius)
    q_cos = math.cos(math.radians(q_lat))
    in_reach = np.empty(CHUNK, dtype=np.int64)  # a chunk's postings in reach
    in_reach_slot = np.empty(CHUNK, dtype=np.int64)  # and their slots
    kept_slot = np.empty(CHUNK, dtype=np.int64)  # and, of their candidates, those still in the race:
    kept_df = np.empty(CHUNK, dtype=np.float64)  # distance factor,
    kept_cb = np.empty(CHUNK, dtype=np.float64)  # coverage bound,
    kept_b = np.empty(CHUNK, dtype=np.float64)  # bridge when known from the posting, else -1
    for r in range(nq):
        # the best score a candidate holding none of the terms before r can reach
        mf_b = 1.0
        if query_has_must and not per_cand_must:
            if require_must and rem_must[r] < 0.9999:
                mf_b = 0.0
            else:
                mf_b = 1.0 - must_penalty * (1.0 - min(rem_must[r], 1.0))
        bound = (alpha * min(rem[r], 1.0) + beta * b_max) * mf_b
        if mf_b == 0.0 or (size == k and hs[0] > bound + 1e-5):
            complete = False
            break
        t = q_terms[r]
        s = p_start[t]
        n = p_len[t]
        n_post += n
        full = size == k
        for j0 in range(s, s + n, CHUNK):
            # the chunk's postings in reach (cell known from the posting alone), kept in order
            j1 = min(j0 + CHUNK, s + n)
            m = 0
            for j in range(j0, j1):
                in_reach[m] = j
                in_reach_slot[m] = p_ids[j]  # read in order: cheaper than one by one later
                m += reach[p_cell[j]]
            n_reach += m
            # 1. meet them: bounds, first-met bit, distance, flags; the survivors are kept in order.
            # Each candidate's row and flags are asked for AHEAD candidates early: the reads overlap.
            for i in range(min(AHEAD, m)):
                _ask_candidate(in_reach_slot[i], geo, flags, seen)
            n_kept = 0
            for i in range(m):
                if i + AHEAD < m:
                    _ask_candidate(in_reach_slot[i + AHEAD], geo, flags, seen)
                j = in_reach[i]
                c = p_cell[j]
                if full and hs[0] > bound * cell_df[c] + 1e-5:
                    # even first met here, with every remaining term, the best bridge and the best
                    # distance factor of its cell it could not win; met again at a later term (with a
                    # lower bound, a higher k-th score) it is skipped here again: left unmarked
                    continue
                slot = in_reach_slot[i]
                bit = np.uint8(1 << (slot & 7))
                if seen[slot >> 3] & bit:
                    continue  # met at an earlier term: holds it, was dealt with there
                seen[slot >> 3] |= bit
                # first met here, so it holds none of the terms before r and exactly this term's share
                # (the posting's own share for offers): its coverage is at most cb
                cb = rem[r]
                if weighted:
                    cb = p_cov[j] + rem[r + 1]
                # its bridge: known from the posting when it has a single occupation (offers), else at most the best
                b = b_max
                known_b = False
                if known_occ:
                    o = p_occ[j]
                    if o >= 0:
                        b = bridge[o]
                        known_b = True
                bound_j = (alpha * min(cb, 1.0) + beta * b) * mf_b
                if full and hs[0] > bound_j * cell_df[c] + 1e-5:
                    continue  # marked: met again later, it must not pass for one holding none of this term
                # distance first: it rejects most of them
                rad = geo[slot, 2] if own_radius else q_radius
                df = _geo(geo[slot, 0], geo[slot, 1], geo[slot, 3], rad, q_lat, q_lon, q_cos, dist_decay)
                if df < 0.0 or (full and hs[0] > bound_j * df + 1e-5):
                    continue  # beyond the radius, or too far to win even with every remaining term
                if (flags[slot] & need) != need:
                    continue
                prefetch(fw_start, slot)
                prefetch(fw_len, slot)
                prefetch(keys, slot)
                if not known_b:
                    prefetch(f_start, slot)
                    prefetch(f_len, slot)
                kept_slot[n_kept] = slot
                kept_df[n_kept] = df
                kept_cb[n_kept] = cb
                kept_b[n_kept] = b if known_b else -1.0
                n_kept += 1
            # 2. the survivors' own lists, asked for one level down, then each one scored exactly
            for i in range(n_kept):
                slot = kept_slot[i]
                prefetch(fw_ids, fw_start[slot])
                if kept_b[i] < 0.0:
                    prefetch(f_occ, f_start[slot])
            for i in range(n_kept):
                slot = kept_slot[i]
                df = kept_df[i]
                cb = kept_cb[i]
                b = kept_b[i]
                if b < 0.0:
                    b = _best_bridge(slot, f_start, f_len, f_occ, bridge)
                if full and hs[0] > (alpha * min(cb, 1.0) + beta * b) * mf_b * df + 1e-5:
                    continue  # its own bridge is too weak to win even with every remaining term
                fs = fw_start[slot]
                fl = fw_len[slot]
                cov = 0.0
                mustcov = 0.0
                for u in range(fs, fs + fl):
                    q = qrank[fw_ids[u]]
                    if q >= 0:
                        if weighted:
                            cov += fw_cov[u]
                            mustcov += fw_must[u]
                        else:
                            cov += q_cov[q]
                            mustcov += q_must[q]
                n_scored += 1
                has_must = query_has_must
                if per_cand_must:
                    has_must = cand_has_must[slot] != 0
                g = 1.0
                if cov > 0.0:
                    if cand_is_seeker:
                        g = _breadth(fl, q_len, allowance, power)
                    else:
                        g = _breadth(q_len, fl, allowance, power)
                sc = _final(cov, mustcov, b, df, has_must, require_must, alpha, beta, must_penalty, g)
                if sc > 0.0:
                    size = _push(hs, hk, hslot, size, np.float32(sc), keys[slot], slot)
                    full = size == k
    n_phase1 = n_scored
    if complete and not (require_must and query_has_must):
        # candidates sharing no skill, through the bridged occupations, best bridge first
        bridged = np.nonzero(bridge >= min_bridge)[0]
        src_order = bridged[np.argsort(-bridge[bridged], kind="mergesort")]
        mf0 = 1.0
        if query_has_must and not per_cand_must:
            mf0 = 1.0 - must_penalty
        for idx in range(src_order.shape[0]):
            a = src_order[idx]
            bound = beta * bridge[a] * mf0 + 1e-5
            if size == k and hs[0] > bound:
                break
            s = o_start[a]
            n = o_len[a]
            n_post += n
            for j in range(s, s + n):
                slot = o_ids[j]
                c = slot_cell[slot]
                if reach[c] == 0:
                    continue
                n_reach += 1
                if size == k and hs[0] > beta * bridge[a] * mf0 * cell_df[c] + 1e-5:
                    continue  # not even with the best distance factor of its cell (left unmarked: see above)
                bit = np.uint8(1 << (slot & 7))
                if seen[slot >> 3] & bit:
                    continue  # holds a query skill (every term was walked), or met in a better-bridged list
                seen[slot >> 3] |= bit
                if (flags[slot] & need) != need:
                    continue
                rad = geo[slot, 2] if own_radius else q_radius
                df = _geo(geo[slot, 0], geo[slot, 1], geo[slot, 3], rad, q_lat, q_lon, q_cos, dist_decay)
                if df < 0.0:
                    continue
                b = _best_bridge(slot, f_start, f_len, f_occ, bridge)
                n_scored += 1
                has_must = query_has_must
                if per_cand_must:
                    has_must = cand_has_must[slot] != 0
                sc = _final(0.0, 0.0, b, df, has_must, require_must, alpha, beta, must_penalty, 1.0)
                if sc > 0.0:
                    size = _push(hs, hk, hslot, size, np.float32(sc), keys[slot], slot)
    for i in range(nq):
        qrank[q_terms[i]] = -1
    seen[:] = 0
    # best first, ties by key (insertion sort of at most k entries)
    for i in range(1, size):
        s0, k0, l0 = hs[i], hk[i], hslot[i]
        j = i - 1
        while j >= 0 and _worse(hs[j], hk[j], s0, k0):
            hs[j + 1], hk[j + 1], hslot[j + 1] = hs[j], hk[j], hslot[j]
            j -= 1
        hs[j + 1], hk[j + 1], hslot[j + 1] = s0, k0, l0
    return hs[:size], hk[:size], hslot[:size], n_phase1, n_scored, n_post, n_reach


@dataclass(frozen=True)
class SkillHit:
    """One requirement of the offer: ``weight`` its share of the offer's requirement weight."""

    skill: int
    weight: float
    must: bool


@dataclass(frozen=True)
class MatchHit:
    """One result, explained. ``key``: the other side's key. Scores in [0, 1]; distance in km or None.

    ``bridge_from`` / ``bridge_to``: occupation rows of the bridge used (the seeker's occupation with
    the best bridge toward the offer's occupation), None when the seeker has no occupation.
    """

    key: int
    score: float
    coverage: float
    must_coverage: float | None
    bridge: float
    bridge_from: int | None
    bridge_to: int | None
    distance_km: float | None
    matched: tuple[SkillHit, ...] = field(default=())
    missing: tuple[SkillHit, ...] = field(default=())


@dataclass(frozen=True)
class QueryStats:
    """Work of the last query: candidates scored with a shared skill, all scored, postings walked."""

    scored_by_skill: int
    scored: int
    postings: int
    in_reach: int = 0
    """Postings whose geographic cell was within reach: the ones that cost a look at the candidate."""


_EMPTY_F32 = np.zeros(0, dtype=np.float32)
_EMPTY_U8 = np.zeros(0, dtype=np.uint8)
_EMPTY_I32 = np.zeros(0, dtype=np.int32)


def _as(values, dtype) -> np.ndarray:
    """``values`` as a 1-D array of ``dtype``, without a numpy call when it already is one."""
    if type(values) is np.ndarray and values.dtype == dtype:
        return values
    return np.asarray(values, dtype=dtype).reshape(-1)


@dataclass(eq=False)
class PoolMatcher:
    """The scoring model over a referential: skill weights and the bridge matrix (built once).

    Attributes:
        skill_weight: (n_skills,) float32, a requirement's weight before the must/desired factor
        bridge:       (n_occupations, n_occupations) float32, bridge(a -> b) at [a, b], diagonal 1
    """

    skill_weight: np.ndarray
    bridge: np.ndarray
    alpha: float = ALPHA
    beta: float = BETA
    must_penalty: float = MUST_PENALTY
    desired_factor: float = DESIRED_FACTOR
    dist_decay: float = DIST_DECAY
    min_bridge: float = MIN_BRIDGE
    breadth_allowance: float = float("inf")
    """Skills a seeker may list before his coverage credit shrinks (``fit``: the referential's
    BREADTH_QUANTILE of skills per occupation); inf disables the breadth factor."""
    breadth_power: float = BREADTH_POWER
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    last_stats: QueryStats | None = None
    _bridge_to: np.ndarray = field(init=False, repr=False, compare=False)
    """(n_occupations, n_occupations) float32, bridge(a -> b) at [b, a]: row b, contiguous, is what a query
    toward occupation b reads (a column of ``bridge`` would be 1,584 scattered reads)."""
    _qrank: np.ndarray = field(init=False, repr=False, compare=False,
                               default_factory=lambda: np.zeros(0, dtype=np.int32))
    """Query scratch: each query skill's rank in the walk, -1 elsewhere (reset after every query, under ``lock``)."""
    _seen: np.ndarray = field(init=False, repr=False, compare=False,
                              default_factory=lambda: np.zeros(0, dtype=np.uint8))
    """Query scratch: one bit per slot of the queried index, set when a candidate is met (cleared after every query)."""

    def __post_init__(self) -> None:
        # read-only from here on: the transposed copy below must stay equal to it (build another
        # matcher, e.g. dataclasses.replace(m, bridge=...), to change bridges)
        self.bridge = np.array(self.bridge, dtype=np.float32)
        self.bridge.flags.writeable = False
        self._bridge_to = np.ascontiguousarray(self.bridge.T)
        self._bridge_to.flags.writeable = False

    @classmethod
    def fit(cls, space, bridges, **params) -> "PoolMatcher":
        """From a ``SkillSpace`` and a bridge model exposing ``scores_from(a)`` (or ``matrix``)."""
        n = space.shape[0]
        matrix = getattr(bridges, "matrix", None)
        if matrix is None:
            matrix = np.stack([np.asarray(bridges.scores_from(a)) for a in range(n)])
        bridge = np.clip(np.asarray(matrix, dtype=np.float32), 0.0, 1.0).copy()
        np.fill_diagonal(bridge, 1.0)
        if "breadth_allowance" not in params:
            per_occupation = np.diff(sp.csr_array(space.raw).indptr)
            params["breadth_allowance"] = float(np.quantile(per_occupation, BREADTH_QUANTILE)) if len(per_occupation) else float("inf")
        return cls(skill_weight=np.asarray(space.skill_weight, dtype=np.float32), bridge=bridge, **params)

    # ---- profiles ---------------------------------------------------------------------------
    def offer_profile(self, occupation: int, must, desired=(), lat: float = float("nan"),
                      lon: float = float("nan"), visible: bool = True) -> Profile:
        """An offer's profile with its requirement weights (a skill both must and desired counts as must)."""
        must = np.unique(np.asarray(must, dtype=np.int64))
        desired = np.setdiff1d(np.unique(np.asarray(desired, dtype=np.int64)), must)
        skills = np.concatenate([must, desired]).astype(np.int32)
        w = self.skill_weight[skills].astype(np.float64)
        w[len(must):] *= self.desired_factor
        total = w.sum()
        cov = (w / total if total > 0 else np.zeros_like(w)).astype(np.float32)
        must_w = np.zeros_like(w)
        must_w[:len(must)] = w[:len(must)]
        mt = must_w.sum()
        mustv = (must_w / mt if mt > 0 else must_w).astype(np.float32)
        return Profile(skills=skills, occupations=np.asarray([occupation], dtype=np.int32), lat=lat, lon=lon,
                       visible=visible, cov=cov, must=mustv)

    def offer_weights(self, owner: np.ndarray, skills: np.ndarray, is_must: np.ndarray, n: int
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`offer_profile` weights for many offers at once.

        ``owner`` (m,) offer row in [0, n) of each (offer, skill) pair, ``skills`` (m,) skill columns,
        ``is_must`` (m,) bool. Returns (cov, must) float32 (m,): each pair's share of its offer's
        requirement weight and of its must-have weight (0 for desired skills).
        """
        owner = np.asarray(owner, dtype=np.int64)
        is_must = np.asarray(is_must, dtype=bool)
        w = self.skill_weight[np.asarray(skills, dtype=np.int64)].astype(np.float64)
        w[~is_must] *= self.desired_factor
        total = np.bincount(owner, weights=w, minlength=n)
        must_w = np.where(is_must, w, 0.0)
        must_total = np.bincount(owner, weights=must_w, minlength=n)
        cov = np.divide(w, total[owner], out=np.zeros_like(w), where=total[owner] > 0)
        must = np.divide(must_w, must_total[owner], out=np.zeros_like(w), where=must_total[owner] > 0)
        return cov.astype(np.float32), must.astype(np.float32)

    @staticmethod
    def seeker_profile(skills, occupations, lat: float = float("nan"), lon: float = float("nan"),
                       radius_km: float = float("nan"), consent: bool = True) -> Profile:
        skills = np.unique(np.asarray(skills, dtype=np.int64)).astype(np.int32)
        occs = np.asarray(occupations, dtype=np.int32)
        return Profile(skills=skills, occupations=occs, lat=lat, lon=lon, radius_km=radius_km, visible=consent)

    # ---- queries ----------------------------------------------------------------------------
    def _run(self, index: ProfileIndex, q_skills, q_weight, q_must, q_occ, bridge_rows, q_lat, q_lon, q_radius,
             require_must, need, k, cand_is_seeker: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One kernel call. Kept lean on purpose: in a busy process every numpy call made here costs
        its share of cache misses; the query is ordered and its bridges gathered inside the kernel."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        fw, sp, oc, fo = index.skills, index.skill_postings, index.occupation_postings, index.occupations
        weighted = index.weighted
        with self.lock:
            if len(self._qrank) < index.n_skills:
                self._qrank = np.full(index.n_skills, -1, dtype=np.int32)
            n_bytes = (index.n_slots + 7) // 8
            if len(self._seen) < n_bytes:
                self._seen = np.zeros(n_bytes + n_bytes // 4 + 8, dtype=np.uint8)
            hs, hk, hslot, n1, nt, npost, nreach = _topk(
                _as(q_skills, np.int32), _as(q_weight, np.float32), _as(q_must, np.float32),
                index.skill_max, _as(q_occ, np.int32), bridge_rows, self._qrank, self._seen[:n_bytes],
                fw.columns[0], fw.columns[1] if weighted else _EMPTY_F32, fw.columns[2] if weighted else _EMPTY_F32,
                fw.start, fw.length, sp.columns[0], sp.columns[1] if weighted else _EMPTY_F32,
                sp.columns[3] if weighted else _EMPTY_I32, sp.columns[-1], index.cell, index.cell_corner, index.cell_radius,
                float(index.cell_size),
                sp.start, sp.length, oc.columns[0], oc.start, oc.length,
                fo.columns[0], fo.start, fo.length, float(self.min_bridge),
                index.flags, np.uint8(need), index.geo,
                float(q_lat), float(q_lon), float(q_radius), _offer_has_must(index) if not cand_is_seeker else _EMPTY_U8,
                bool(require_must), self.alpha, self.beta, self.must_penalty, self.dist_decay,
                index.keys, int(k), cand_is_seeker, float(self.breadth_allowance), float(self.breadth_power))
            self.last_stats = QueryStats(int(n1), int(nt), int(npost), int(nreach))
        return hs, hk, hslot

    def top_candidates(self, seekers: ProfileIndex, offer: Profile, k: int = 20, radius_km: float | None = None,
                       require_must: bool = False, consenting_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(scores float32 (<=k,), keys int64 (<=k,)) of the top-``k`` seekers for ``offer``, best first."""
        scores, keys, _ = self._run(seekers, offer.skills, offer.cov, offer.must, offer.occupations[:1], self._bridge_to,
                                    offer.lat, offer.lon, np.nan if radius_km is None else radius_km, require_must,
                                    ALIVE | (VISIBLE if consenting_only else 0), k, cand_is_seeker=True)
        return scores, keys

    def candidates(self, seekers: ProfileIndex, offer: Profile, k: int = 20, radius_km: float | None = None,
                   require_must: bool = False, consenting_only: bool = True) -> list[MatchHit]:
        """Top-``k`` seekers for ``offer`` (consenting ones only by default), explained."""
        scores, keys = self.top_candidates(seekers, offer, k, radius_km, require_must, consenting_only)
        return [self.explain(seekers.profile(int(key)), offer, int(key), float(score), radius_km)
                for score, key in zip(scores, keys)]

    def top_offers(self, offers: ProfileIndex, seeker: Profile, k: int = 20, radius_km: float | None = None,
                   require_must: bool = False, open_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(scores, keys) of the top-``k`` offers for ``seeker`` within his radius (or ``radius_km``)."""
        scores, keys, _ = self._run(offers, seeker.skills, _EMPTY_F32, _EMPTY_F32, seeker.occupations, self.bridge,
                                    seeker.lat, seeker.lon, seeker.radius_km if radius_km is None else radius_km,
                                    require_must, ALIVE | (VISIBLE if open_only else 0), k, cand_is_seeker=False)
        return scores, keys

    def offers_for(self, offers: ProfileIndex, seeker: Profile, k: int = 20, radius_km: float | None = None,
                   require_must: bool = False, open_only: bool = True) -> list[MatchHit]:
        """Top-``k`` offers for ``seeker`` within his radius (or ``radius_km``), explained."""
        scores, keys = self.top_offers(offers, seeker, k, radius_km, require_must, open_only)
        radius = seeker.radius_km if radius_km is None else radius_km
        return [self.explain(seeker, offers.profile(int(key)), int(key), float(score), radius, seeker_is_query=True)
                for score, key in zip(scores, keys)]

    def breadth(self, n_seeker: int, n_offer: int) -> float:
        """The breadth factor on a seeker's coverage (see the module docstring), in (0, 1]."""
        return float(_breadth(int(n_seeker), int(n_offer), float(self.breadth_allowance), float(self.breadth_power)))

    # ---- explanation ------------------------------------------------------------------------
    def explain(self, seeker: Profile, offer: Profile, key: int, score: float | None = None,
                radius_km: float | None = None, seeker_is_query: bool = False) -> MatchHit:
        """Why ``seeker`` matches ``offer``: matched and missing requirements, bridge, distance, score."""
        held = np.isin(offer.skills, seeker.skills)
        must_flags = offer.must > 0
        coverage = float(offer.cov[held].sum())
        must_cov = float(offer.must[held].sum()) if must_flags.any() else None
        b = int(offer.occupations[0]) if len(offer.occupations) else None
        bridge, bridge_from = 0.0, None
        if b is not None and len(seeker.occupations):
            values = self.bridge[np.asarray(seeker.occupations, dtype=np.int64), b]
            best = int(np.argmax(values))
            bridge, bridge_from = float(values[best]), int(seeker.occupations[best])
        distance = None
        if not (math.isnan(seeker.lat) or math.isnan(offer.lat)):
            distance = float(_haversine(seeker.lat, seeker.lon, offer.lat, offer.lon))
        if score is None:
            radius = seeker.radius_km if radius_km is None else radius_km
            df = 1.0
            if distance is not None and not math.isnan(radius):
                df = 0.0 if distance > radius else (1.0 - self.dist_decay * distance / radius if radius > 0 else 1.0)
            mf = 1.0 - self.must_penalty * (1.0 - min(must_cov, 1.0)) if must_cov is not None else 1.0
            g = self.breadth(len(seeker.skills), len(offer.skills)) if coverage > 0 else 1.0
            score = math.floor((self.alpha * min(coverage, 1.0) * g + self.beta * bridge) * mf * df * 1e5 + 0.5) * 1e-5
        order = np.lexsort((offer.skills, -offer.cov, ~must_flags))
        items = list(zip(offer.skills[order].tolist(), offer.cov[order].tolist(), must_flags[order].tolist(),
                         held[order].tolist()))
        matched = tuple(SkillHit(s, w, m) for s, w, m, h in items if h)
        missing = tuple(SkillHit(s, w, m) for s, w, m, h in items if not h)
        return MatchHit(key=key, score=float(score), coverage=min(coverage, 1.0), must_coverage=must_cov,
                        bridge=bridge, bridge_from=bridge_from, bridge_to=b, distance_km=distance,
                        matched=matched, missing=missing)


def _offer_has_must(offers: ProfileIndex) -> np.ndarray:
    """(n_slot_capacity,) uint8: 1 for offers with at least one must-have (kept on the index)."""
    cached = getattr(offers, "has_must", None)
    if cached is None or len(cached) < len(offers.keys):
        raise ValueError("an offers index needs its has_must array (ProfileIndex(weighted=True))")
    return cached


def score_reference(matcher: PoolMatcher, index: ProfileIndex, query: Profile, query_is_offer: bool,
                    radius_km: float | None = None, require_must: bool = False, visible_only: bool = True
                    ) -> list[tuple[float, int]]:
    """Slow, obvious scoring of every profile of ``index`` (tests' oracle): [(score, key)] sorted."""
    out = []
    for slot in range(index.n_slots):
        key = int(index.keys[slot])
        if key < 0 or not index.flags[slot] & ALIVE or (visible_only and not index.flags[slot] & VISIBLE):
            continue
        other = index.profile(key)
        seeker, offer = (other, query) if query_is_offer else (query, other)
        radius = radius_km if radius_km is not None else (seeker.radius_km if not query_is_offer else None)
        hit = matcher.explain(seeker, offer, key, None, radius)
        if require_must and hit.must_coverage is not None and hit.must_coverage < 0.9999:
            continue
        if not hit.matched and hit.bridge < matcher.min_bridge:
            continue  # shares no skill and no bridge worth walking: not a match
        if hit.score > 0:
            out.append((hit.score, key))
    out.sort(key=lambda t: (-t[0], t[1]))
    return out
