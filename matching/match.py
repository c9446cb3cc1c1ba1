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

The kernel reads named tuples (:class:`Query`, :class:`Model`, :class:`Index` and its parts, each
field described there) and runs in small phases (:func:`_walk`, :func:`_walk_term` ->
:func:`_gather` / :func:`_meet` / :func:`_score_kept`, :func:`_walk_bridged`): docs/pool.md, "The
kernel's code".
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

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


# ---- what the kernel reads ------------------------------------------------------------------------
# Plain tuples cross the call (numba types a plain tuple of arrays in C, a named one in Python: about
# 0.2 us per array, +6 us a query); the kernel names them on entry (:func:`_named`).

class Forward(NamedTuple):
    """Slot -> skills: slot ``s``'s are ``ids[start[s]:start[s] + length[s]]`` (a ``ListStore``); for
    offers ``cov`` / ``must`` give each one's share of the offer's requirement / must-have weight
    (empty for seekers)."""

    ids: np.ndarray
    cov: np.ndarray
    must: np.ndarray
    start: np.ndarray
    length: np.ndarray


class Lists(NamedTuple):
    """List ``i`` is ``ids[start[i]:start[i] + length[i]]``: slot -> occupations, occupation -> slots."""

    ids: np.ndarray
    start: np.ndarray
    length: np.ndarray


class Postings(NamedTuple):
    """Skill -> postings: skill ``t``'s are ``[start[t], start[t] + length[t])``, each a candidate's ``slot``
    and geographic ``cell``; for offers also the offer's share ``cov`` of its requirement weight and
    its occupation ``occ`` (-1: none or several), empty for seekers."""

    slot: np.ndarray
    cov: np.ndarray
    occ: np.ndarray
    cell: np.ndarray
    start: np.ndarray
    length: np.ndarray


class Slots(NamedTuple):
    """Per candidate slot: ``key`` int64, ``flags`` uint8 (``ALIVE | VISIBLE``), ``geo`` (n, 4) float32
    (lat, lon, radius km, cos lat), ``cell`` its geographic cell; ``has_must`` uint8 (offers: 1 when
    it has a must-have; empty for seekers)."""

    key: np.ndarray
    flags: np.ndarray
    geo: np.ndarray
    cell: np.ndarray
    has_must: np.ndarray


class Cells(NamedTuple):
    """Geographic cells (:func:`_cells`): ``corner`` (n_cells, 2) float32 south-west corner (NaN:
    never used), ``radius`` (n_cells,) float32 the largest radius ever put in it, ``size`` degrees."""

    corner: np.ndarray
    radius: np.ndarray
    size: float


class Index(NamedTuple):
    """A :class:`matching.pool.ProfileIndex` as the kernel reads it (:func:`_index_arrays`);
    ``skill_max`` (n_skills,) float32: for offers the largest share any offer gives each skill."""

    skills: Forward
    occupations: Lists
    skill_postings: Postings
    occupation_postings: Lists
    slots: Slots
    cells: Cells
    skill_max: np.ndarray


class Query(NamedTuple):
    """One query: ``skills`` (m,) int32 with an offer's shares ``weight`` / ``must_weight`` (m,)
    float32 (empty for a seeker: 1 each), ``occupations`` (o,) int32, ``bridge_rows`` the bridge
    matrix read by row (``bridge[a, :]`` for a seeker's occupation ``a``, its transpose for an
    offer's), where it is (degrees; NaN: unknown) and the ``radius`` in km (NaN: each candidate's
    own), the flags a candidate needs, ``require_must``, ``k``, and whether candidates are seekers."""

    skills: np.ndarray
    weight: np.ndarray
    must_weight: np.ndarray
    occupations: np.ndarray
    bridge_rows: np.ndarray
    lat: float
    lon: float
    radius: float
    need: np.uint8
    require_must: bool
    k: int
    cand_is_seeker: bool


class Model(NamedTuple):
    """The score's parameters (a :class:`PoolMatcher`'s fields of the same names; ``allowance`` and
    ``power`` are its ``breadth_allowance`` / ``breadth_power``)."""

    alpha: float
    beta: float
    must_penalty: float
    dist_decay: float
    min_bridge: float
    allowance: float
    power: float


class Walk(NamedTuple):
    """A query ready to walk (:func:`_walk`): its ``terms`` in walk order with their shares ``cov`` /
    ``must``; ``rem[r]`` / ``rem_must[r]`` (m + 1,) the sums of the terms' bounds / must shares from
    ``r`` on (what a candidate first met at term ``r`` can cover at most); ``bridge``
    (n_occupations,) toward the query and its largest value ``b_max``; ``has_must``: an offer with
    must-haves (candidates are seekers); ``own_must``: candidates are offers with their own flag."""

    terms: np.ndarray
    cov: np.ndarray
    must: np.ndarray
    rem: np.ndarray
    rem_must: np.ndarray
    bridge: np.ndarray
    b_max: float
    has_must: bool
    own_must: bool


class Place(NamedTuple):
    """Where the query looks: ``lat`` / ``lon`` degrees, its ``cos_lat``, ``radius`` km (NaN: each
    candidate's own) and the distance decay of the score."""

    lat: float
    lon: float
    cos_lat: float
    radius: float
    decay: float


class Reach(NamedTuple):
    """Per geographic cell (:func:`_cells`): ``ok`` uint8 1 when a profile in it may be within reach,
    ``df`` the best distance factor one can have there."""

    ok: np.ndarray
    df: np.ndarray


class Heap(NamedTuple):
    """The k best so far (:func:`_push`): ``score`` float32, ``key`` int64, ``slot`` int32."""

    score: np.ndarray
    key: np.ndarray
    slot: np.ndarray


class Chunk(NamedTuple):
    """Scratch for ``CHUNK`` postings of a term: the in-reach ones (``post``) and their ``slot``; then the
    candidates still in the race (``kept``) with their distance factor ``df``, coverage bound ``cb``
    and bridge ``b`` (-1: not known from the posting)."""

    post: np.ndarray
    slot: np.ndarray
    kept: np.ndarray
    df: np.ndarray
    cb: np.ndarray
    b: np.ndarray


class Search(NamedTuple):
    """Everything one query reads or fills, passed as one to the kernel's phases; ``qrank`` / ``seen``
    are the matcher's scratch (see :func:`_topk`)."""

    ix: Index
    query: Query
    model: Model
    walk: Walk
    place: Place
    reach: Reach
    heap: Heap
    chunk: Chunk
    qrank: np.ndarray
    seen: np.ndarray



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
def _best_bridge(slot, occupations, bridge):
    """Best bridge score from any of a slot's occupations (its forward :class:`Lists`) to the query's."""
    b = 0.0
    for u in range(occupations.start[slot], occupations.start[slot] + occupations.length[slot]):
        v = bridge[occupations.ids[u]]
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
def _final(cov, mustcov, b, df, has_must, require_must, model, g):
    """The score from its terms, rounded to 1e-5 (-1 when a required must-have is missing)."""
    if has_must and require_must and mustcov < 0.9999:
        return -1.0
    mf = 1.0
    if has_must:
        mf = 1.0 - model.must_penalty * (1.0 - min(mustcov, 1.0))
    return math.floor((model.alpha * min(cov, 1.0) * g + model.beta * b) * mf * df * 1e5 + 0.5) * 1e-5




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

_phase = njit(cache=True, _nrt=False)
"""The kernel's phases: they read the query's arrays through named tuples, allocate nothing and keep
nothing, so they run without reference counting: with it, numba counts a reference on every array of
a tuple at every call (some 15,000 atomic operations per 1M query: +40%)."""

@njit(cache=True)
def _named(index):
    """The index's plain tuples (in the order of :class:`Index` and its parts) as named tuples."""
    return Index(Forward(*index[0]), Lists(*index[1]), Postings(*index[2]), Lists(*index[3]), Slots(*index[4]),
                 Cells(*index[5]), index[6])


@njit(cache=True)
def _walk(query, ix):
    """The query's :class:`Walk`: terms by decreasing bound (:func:`_walk_order`), their suffix sums,
    whether it is an offer with must-haves, its bridge vector."""
    terms, cov, must, ub = _walk_order(query.skills, query.weight, query.must_weight, ix.skill_max)
    n = terms.shape[0]
    own_must = ix.slots.has_must.shape[0] > 0
    has_must = False
    if not own_must:
        for i in range(n):
            if must[i] > 0:
                has_must = True
    rem = np.empty(n + 1, dtype=np.float64)
    rem_must = np.empty(n + 1, dtype=np.float64)
    rem[n] = 0.0
    rem_must[n] = 0.0
    for i in range(n - 1, -1, -1):
        rem[i] = rem[i + 1] + ub[i]
        rem_must[i] = rem_must[i + 1] + must[i]
    bridge = _bridge_toward(query.occupations, query.bridge_rows)
    b_max = 0.0
    for a in range(bridge.shape[0]):
        if bridge[a] > b_max:
            b_max = bridge[a]
    return Walk(terms, cov, must, rem, rem_must, bridge, b_max, has_must, own_must)


@_phase
def _unmet_bound(s, r):
    """(bound, mf): the best score of a candidate holding none of the terms before ``r`` (every remaining
    term, the best bridge, distance factor 1) and its best must factor (0: it cannot qualify)."""
    walk, model = s.walk, s.model
    mf = 1.0
    if walk.has_must:
        if s.query.require_must and walk.rem_must[r] < 0.9999:
            mf = 0.0
        else:
            mf = 1.0 - model.must_penalty * (1.0 - min(walk.rem_must[r], 1.0))
    return (model.alpha * min(walk.rem[r], 1.0) + model.beta * walk.b_max) * mf, mf


@_phase
def _bar(s, size):
    """The score to beat: the k-th best once there are k, else -inf."""
    return s.heap.score[0] if size == s.query.k else -np.inf


@_phase
def _first_meeting(seen, slot):
    """True the first time ``slot`` is met in this query (then sets its bit in ``seen``)."""
    bit = np.uint8(1 << (slot & 7))
    if seen[slot >> 3] & bit:
        return False
    seen[slot >> 3] |= bit
    return True


@njit(cache=True, inline="always")
def _distance_factor(geo, slot, place):
    """:func:`_geo` of candidate ``slot`` (its own radius when the query has none)."""
    rad = geo[slot, 2] if math.isnan(place.radius) else place.radius
    return _geo(geo[slot, 0], geo[slot, 1], geo[slot, 3], rad, place.lat, place.lon, place.cos_lat, place.decay)


@_phase
def _coverage(fw, slot, qrank, walk):
    """(coverage, must-have coverage) of candidate ``slot``: its own skills (forward list) against the
    query's terms (``qrank``: each term's rank in the walk, -1 elsewhere)."""
    weighted = fw.cov.shape[0] > 0
    cov = 0.0
    mustcov = 0.0
    for u in range(fw.start[slot], fw.start[slot] + fw.length[slot]):
        q = qrank[fw.ids[u]]
        if q >= 0:
            if weighted:
                cov += fw.cov[u]
                mustcov += fw.must[u]
            else:
                cov += walk.cov[q]
                mustcov += walk.must[q]
    return cov, mustcov


@_phase
def _gather(s, j0, j1):
    """Postings ``[j0, j1)`` of a term whose cell may be within reach, in order, into ``s.chunk``;
    returns their number."""
    postings, ok, chunk = s.ix.skill_postings, s.reach.ok, s.chunk
    m = 0
    for j in range(j0, j1):
        chunk.post[m] = j
        chunk.slot[m] = postings.slot[j]  # read in order: cheaper than one by one later
        m += ok[postings.cell[j]]
    return m


@_phase
def _meet(s, r, bound, mf, bar, m):
    """Meet the ``m`` gathered candidates of term ``r``: bounds, first-met bit, distance, flags. Those
    still in the race are kept in order (``s.chunk``); returns their number. Each candidate's geo row,
    flags and bit are asked for ``AHEAD`` candidates early, so the reads overlap."""
    postings, slots, seen, chunk = s.ix.skill_postings, s.ix.slots, s.seen, s.chunk
    walk, alpha, beta = s.walk, s.model.alpha, s.model.beta
    weighted = postings.cov.shape[0] > 0
    for i in range(min(AHEAD, m)):
        _ask_candidate(chunk.slot[i], slots.geo, slots.flags, seen)
    n_kept = 0
    for i in range(m):
        if i + AHEAD < m:
            _ask_candidate(chunk.slot[i + AHEAD], slots.geo, slots.flags, seen)
        j = chunk.post[i]
        cell_df = s.reach.df[postings.cell[j]]
        if bar > bound * cell_df + 1e-5:
            # even first met here, with every remaining term, the best bridge and the best distance
            # factor of its cell it could not win; met again at a later term (with a lower bound, a
            # higher k-th score) it is skipped there again: left unmarked
            continue
        slot = chunk.slot[i]
        if not _first_meeting(seen, slot):
            continue  # met at an earlier term: holds it, was dealt with there
        # first met here, so it holds none of the terms before r and exactly this term's share (the
        # posting's own for offers): its coverage is at most cb
        cb = postings.cov[j] + walk.rem[r + 1] if weighted else walk.rem[r]
        # its bridge: known from the posting when the offer has a single occupation, else at most the best
        b = -1.0
        if weighted and postings.occ[j] >= 0:
            b = walk.bridge[postings.occ[j]]
        bound_j = (alpha * min(cb, 1.0) + beta * (b if b >= 0.0 else walk.b_max)) * mf
        if bar > bound_j * cell_df + 1e-5:
            continue  # marked: met again later, it must not pass for one holding none of this term
        df = _distance_factor(slots.geo, slot, s.place)  # first: it rejects most of them
        if df < 0.0 or bar > bound_j * df + 1e-5:
            continue  # beyond the radius, or too far to win even with every remaining term
        if (slots.flags[slot] & s.query.need) != s.query.need:
            continue
        prefetch(s.ix.skills.start, slot)
        prefetch(s.ix.skills.length, slot)
        prefetch(slots.key, slot)
        if b < 0.0:
            prefetch(s.ix.occupations.start, slot)
            prefetch(s.ix.occupations.length, slot)
        chunk.kept[n_kept] = slot
        chunk.df[n_kept] = df
        chunk.cb[n_kept] = cb
        chunk.b[n_kept] = b
        n_kept += 1
    return n_kept


@_phase
def _score_kept(s, n_kept, mf, size):
    """Score the kept candidates exactly, their own lists asked for first; returns (heap size, scored)."""
    fw, occupations, slots, chunk, model = s.ix.skills, s.ix.occupations, s.ix.slots, s.chunk, s.model
    for i in range(n_kept):
        prefetch(fw.ids, fw.start[chunk.kept[i]])
        if chunk.b[i] < 0.0:
            prefetch(occupations.ids, occupations.start[chunk.kept[i]])
    n_terms = s.walk.terms.shape[0]
    scored = 0
    for i in range(n_kept):
        slot, df, cb, b = chunk.kept[i], chunk.df[i], chunk.cb[i], chunk.b[i]
        if b < 0.0:
            b = _best_bridge(slot, occupations, s.walk.bridge)
        if _bar(s, size) > (model.alpha * min(cb, 1.0) + model.beta * b) * mf * df + 1e-5:
            continue  # its own bridge is too weak to win even with every remaining term
        cov, mustcov = _coverage(fw, slot, s.qrank, s.walk)
        scored += 1
        has_must = slots.has_must[slot] != 0 if s.walk.own_must else s.walk.has_must
        g = 1.0
        if cov > 0.0:
            if s.query.cand_is_seeker:
                g = _breadth(fw.length[slot], n_terms, model.allowance, model.power)
            else:
                g = _breadth(n_terms, fw.length[slot], model.allowance, model.power)
        sc = _final(cov, mustcov, b, df, has_must, s.query.require_must, model, g)
        if sc > 0.0:
            size = _push(s.heap.score, s.heap.key, s.heap.slot, size, np.float32(sc), slots.key[slot], slot)
    return size, scored


@_phase
def _walk_term(s, r, bound, mf, size):
    """Term ``r``'s postings, ``CHUNK`` at a time: gathered, met, scored. Returns (heap size, scored,
    postings in reach)."""
    postings = s.ix.skill_postings
    t = s.walk.terms[r]
    start, end = postings.start[t], postings.start[t] + postings.length[t]
    scored = in_reach = 0
    for j0 in range(start, end, CHUNK):
        m = _gather(s, j0, min(j0 + CHUNK, end))
        in_reach += m
        n_kept = _meet(s, r, bound, mf, _bar(s, size), m)
        size, n = _score_kept(s, n_kept, mf, size)
        scored += n
    return size, scored, in_reach


@_phase
def _walk_bridged(s, a, mf, size):
    """Candidates of occupation ``a`` not met yet (they share no query skill), scored by their bridge
    alone. Returns (heap size, scored, postings in reach)."""
    lists, slots, beta = s.ix.occupation_postings, s.ix.slots, s.model.beta
    b_a = s.walk.bridge[a]
    scored = in_reach = 0
    for j in range(lists.start[a], lists.start[a] + lists.length[a]):
        slot = lists.ids[j]
        c = slots.cell[slot]
        if s.reach.ok[c] == 0:
            continue
        in_reach += 1
        if _bar(s, size) > beta * b_a * mf * s.reach.df[c] + 1e-5:
            continue  # not even with the best distance factor of its cell (left unmarked: see _meet)
        if not _first_meeting(s.seen, slot):
            continue  # holds a query skill (every term was walked), or met in a better-bridged list
        if (slots.flags[slot] & s.query.need) != s.query.need:
            continue
        df = _distance_factor(slots.geo, slot, s.place)
        if df < 0.0:
            continue
        b = _best_bridge(slot, s.ix.occupations, s.walk.bridge)
        scored += 1
        has_must = slots.has_must[slot] != 0 if s.walk.own_must else s.walk.has_must
        sc = _final(0.0, 0.0, b, df, has_must, s.query.require_must, s.model, 1.0)
        if sc > 0.0:
            size = _push(s.heap.score, s.heap.key, s.heap.slot, size, np.float32(sc), slots.key[slot], slot)
    return size, scored, in_reach


@njit(cache=True)
def _sorted(heap, size):
    """The heap's ``size`` entries best first, ties by key (insertion sort of at most k entries)."""
    hs, hk, hslot = heap
    for i in range(1, size):
        s0, k0, l0 = hs[i], hk[i], hslot[i]
        j = i - 1
        while j >= 0 and _worse(hs[j], hk[j], s0, k0):
            hs[j + 1], hk[j + 1], hslot[j + 1] = hs[j], hk[j], hslot[j]
            j -= 1
        hs[j + 1], hk[j + 1], hslot[j + 1] = s0, k0, l0
    return hs[:size], hk[:size], hslot[:size]


@njit(cache=True, nogil=True)
def _topk(query, model, index, qrank, seen):
    """Exact top-k by pruned term-at-a-time search (the steps: the module docstring and docs/pool.md).

    ``query``: a :class:`Query`; ``model``: a :class:`Model`; ``index``: :func:`_index_arrays` of the
    candidates' index (plain tuples, named here); ``qrank`` (n_skills,) int32 all -1 and ``seen``
    (one bit per slot) all 0: the matcher's scratch, left so on return. Returns (scores, keys, slots)
    best first (ties by key), and the work done: candidates scored through a shared skill,
    candidates scored in all, postings walked, postings in reach.

    The terms are walked by decreasing bound (:func:`_walk`). Before term ``r`` (:func:`_unmet_bound`)
    a candidate not yet met holds none of the terms before ``r``: once the k-th best score beats
    what it could reach, no unmet candidate (sharing a skill or only a bridge) can enter and the
    walk stops. A term's postings (:func:`_walk_term`) are skipped from the posting alone when their
    cell is out of reach; a candidate is met once (``seen``, :func:`_meet`) and scored exactly from
    its own lists (:func:`_score_kept`). When every term was walked, bridged occupations are walked
    for candidates sharing no skill (:func:`_walk_bridged`), best bridge first, while ``beta *
    bridge`` can still win.
    """
    query, model, ix = Query(*query), Model(*model), _named(index)
    walk = _walk(query, ix)
    reach = Reach(*_cells(ix.cells.corner, ix.cells.radius, query.lat, query.lon, query.radius, model.dist_decay,
                          ix.cells.size))
    place = Place(query.lat, query.lon, math.cos(math.radians(query.lat)), query.radius, model.dist_decay)
    k = query.k
    heap = Heap(np.empty(k, dtype=np.float32), np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int32))
    chunk = Chunk(np.empty(CHUNK, dtype=np.int64), np.empty(CHUNK, dtype=np.int64), np.empty(CHUNK, dtype=np.int64),
                  np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK))  # float64
    s = Search(ix, query, model, walk, place, reach, heap, chunk, qrank, seen)
    n_terms = walk.terms.shape[0]
    for r in range(n_terms):
        qrank[walk.terms[r]] = r
    size = scored = n_post = n_reach = 0
    complete = True
    for r in range(n_terms):
        bound, mf = _unmet_bound(s, r)
        if mf == 0.0 or _bar(s, size) > bound + 1e-5:
            complete = False
            break
        n_post += ix.skill_postings.length[walk.terms[r]]
        size, n, reached = _walk_term(s, r, bound, mf, size)
        scored, n_reach = scored + n, n_reach + reached
    by_skill = scored
    if complete and not (query.require_must and walk.has_must):
        # candidates sharing no skill, through the bridged occupations, best bridge first
        mf = 1.0 - model.must_penalty if walk.has_must else 1.0
        bridged = np.nonzero(walk.bridge >= model.min_bridge)[0]
        for a in bridged[np.argsort(-walk.bridge[bridged], kind="mergesort")]:
            if _bar(s, size) > model.beta * walk.bridge[a] * mf + 1e-5:
                break
            n_post += ix.occupation_postings.length[a]
            size, n, reached = _walk_bridged(s, a, mf, size)
            scored, n_reach = scored + n, n_reach + reached
    for r in range(n_terms):
        qrank[walk.terms[r]] = -1
    seen[:] = 0
    hs, hk, hslot = _sorted(heap, size)
    return hs, hk, hslot, by_skill, scored, n_post, n_reach


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
        with self.lock:
            if len(self._qrank) < index.n_skills:
                self._qrank = np.full(index.n_skills, -1, dtype=np.int32)
            n_bytes = (index.n_slots + 7) // 8
            if len(self._seen) < n_bytes:
                self._seen = np.zeros(n_bytes + n_bytes // 4 + 8, dtype=np.uint8)
            query = (_as(q_skills, np.int32), _as(q_weight, np.float32), _as(q_must, np.float32), _as(q_occ, np.int32),
                     bridge_rows, float(q_lat), float(q_lon), float(q_radius), np.uint8(need), bool(require_must),
                     int(k), cand_is_seeker)  # a Query
            model = (self.alpha, self.beta, self.must_penalty, self.dist_decay, float(self.min_bridge),
                     float(self.breadth_allowance), float(self.breadth_power))  # a Model
            hs, hk, hslot, n1, nt, npost, nreach = _topk(query, model, _index_arrays(index, cand_is_seeker),
                                                         self._qrank, self._seen[:n_bytes])
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


def _index_arrays(index: ProfileIndex, cand_is_seeker: bool) -> tuple:
    """``index``'s arrays as the kernel reads them: plain tuples in the order of :class:`Index` (named
    inside the kernel, see the note above :class:`Forward`); an offers index's own fields
    (``cov``, ``must``, posting ``occ``, ``has_must``) are empty for seekers."""
    fw, postings = index.skills, index.skill_postings
    weighted = index.weighted
    return ((fw.columns[0], fw.columns[1] if weighted else _EMPTY_F32, fw.columns[2] if weighted else _EMPTY_F32,
             fw.start, fw.length),
            (index.occupations.columns[0], index.occupations.start, index.occupations.length),
            (postings.columns[0], postings.columns[1] if weighted else _EMPTY_F32,
             postings.columns[3] if weighted else _EMPTY_I32, postings.columns[-1], postings.start, postings.length),
            (index.occupation_postings.columns[0], index.occupation_postings.start, index.occupation_postings.length),
            (index.keys, index.flags, index.geo, index.cell, _EMPTY_U8 if cand_is_seeker else _offer_has_must(index)),
            (index.cell_corner, index.cell_radius, float(index.cell_size)),
            index.skill_max)


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
