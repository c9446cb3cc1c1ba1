"""Skill gaps, training plans (weighted set cover) and a basin's training needs.

    related = support_for(bridges, n_skills)                       # once: which skill relates to which
    support = held_support_for(bridges, relation, n_skills)       # once: which skill makes which held
    gap = skill_gap(*occupation_need(space, b), held=cols_of_a, support=support, near=related)
    index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())  # once per catalogue
    plan = index.plan(gap.missing, gap.missing_weight, lat=49.43, lon=2.08, radius_km=50,
                      earliest=date(2026, 1, 1), latest=date(2026, 6, 30))
    needs = basin_needs(seeker_skills, seeker_targets, space.raw, space.core, support, teaches, eligible)

**Gap.** A target (an occupation's row of the skill space, or an offer's skills) needs skills
with weights (the target's vector: IDF x kind x core x link). A skill the person has *supports*
a needed one when it is the same skill, or one that contains it (``support``: the skill
relation's ``held_support``, matching/relation.py — the same rule as the passerelles'
explanations, so the gap of a bridge is its close and missing skills). The gap is the
unsupported needed skills, core first, then weight descending, then column (= code order). A
gap skill that a held skill is merely *related* to (``near``: the soft kernel's ``support_for``)
is marked close (``Gap.close``): it stays in the gap and in the plan, possibly quick to acquire.

**Plan.** Trainings teach sets of skills; each has a duration in hours. ``plan`` chooses, among
the eligible trainings (place within the radius or at a distance, a start date in the window or
permanent entry, at most ``max_hours`` each), a set that covers every *coverable* gap skill (one
that at least one eligible training teaches) — a weighted set cover solved greedily: take the
training with the largest newly covered gap weight per hour (ties: larger weight, fewer hours,
lower row), repeat until nothing coverable is left; then drop every chosen training whose skills
the others already cover (last chosen first); among trainings as good per hour the nearer to the
person wins. A training with sessions (a regional offer's) is eligible through its sessions and
comes with the one chosen (``TrainingIndex.choose_sessions``: recruiting, places left, not past,
soonest). Guarantee (Chvátal 1979, with element weights):
total hours <= (1 + ln(W / w_min)) x the fewest hours of any full cover, where W is the largest
gap weight one eligible training covers and w_min the smallest gap-skill weight; the pruning only
lowers the hours. Properties (tested): no claimed skill is untaught by its training; covered and
residual partition the gap; adding a training never lowers the covered weight (covered = every
coverable skill).

**Basin needs.** For each seeker of a basin and the target chosen for them (e.g. the bridge with
the best score among the basin's occupations in tension): the gap, summed per skill over the
seekers, and per training the gap weight it would close — the table a regional council needs.

Pure numpy / scipy; no I/O. Skills are int columns, occupations and trainings int rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

from referentiels.territories import haversine_km
from .bridges import GROUP_RELATED, RELATED_MIN

UNKNOWN_START: int = -(2 ** 31)
"""Session start day meaning "unknown" (LHEO 00000000), as ``referentiels.trainings.UNKNOWN_START``."""
UNKNOWN_END: int = 2 ** 31 - 1
"""Session end day meaning "unknown" (LHEO 99999999)."""

_EPOCH = date(1970, 1, 1).toordinal()


def day_number(d: date | None) -> int | None:
    """Days since 1970-01-01 (polars' Date physical value), None for None."""
    return None if d is None else d.toordinal() - _EPOCH


# ---- support and gap ---------------------------------------------------------------------------

def support_matrix(related, n_skills: int, threshold: float = RELATED_MIN, block: int = 1024) -> sp.csr_array:
    """(n_skills, n_skills) bool CSR: ``[h, t]`` True when held skill h supports needed skill t.

    ``related(need, held)`` is the bridge model's kernel ((len(need), len(held)) float in [0, 1]);
    None gives the identity (exact matches only). Built by blocks of ``block`` rows so memory
    stays O(block x n_skills). The diagonal is always True.
    """
    if related is None:
        return sp.csr_array(sp.identity(n_skills, dtype=bool, format="csr"))
    all_cols = np.arange(n_skills, dtype=np.int64)
    parts = []
    for start in range(0, n_skills, block):
        rows = all_cols[start:start + block]
        k = np.asarray(related(rows, all_cols)) >= threshold  # (len(rows), n_skills), symmetric kernel
        k[np.arange(len(rows)), rows] = True
        parts.append(sp.csr_array(k))
    return sp.csr_array(sp.vstack(parts, format="csr"), dtype=bool)


def support_from_parts(skill_words: sp.sparray, skill_groups: np.ndarray, group_related: float,
                       threshold: float = RELATED_MIN, block: int = 4096) -> sp.csr_array:
    """The same matrix as ``support_matrix`` for the bridge model's kernel, built sparsely.

    The kernel is max(word cosine of the labels, ``group_related`` within one macro-competence),
    1 on the diagonal (``matching.bridges.BridgeModel.related``). ``skill_words``: (n_skills,
    n_words) L2-normalised rows; ``skill_groups``: (n_skills,) int group id, -1 for none. Word
    cosines come from a sparse product by row blocks (never a dense n x n), so the 33,671 ROME
    skills take seconds instead of minutes.
    """
    w = sp.csr_array(skill_words, dtype=np.float32)
    n = w.shape[0]
    wt = sp.csc_array(w.T)
    parts = []
    for start in range(0, n, block):
        prod = sp.csr_array(w[start:start + block] @ wt)
        prod.data = (prod.data >= threshold).astype(bool)
        prod.eliminate_zeros()
        parts.append(prod)
    k = sp.csr_array(sp.vstack(parts, format="csr"), dtype=bool) if parts else sp.csr_array((0, 0), dtype=bool)
    k = k + sp.identity(n, dtype=bool, format="csr")
    groups = np.asarray(skill_groups, dtype=np.int64)
    if group_related >= threshold and (groups >= 0).any():
        has = np.flatnonzero(groups >= 0)
        g = sp.csr_array((np.ones(len(has), dtype=np.float32), (has, groups[has])), shape=(n, int(groups.max()) + 1))
        k = k + sp.csr_array(g @ g.T, dtype=bool)
    k = sp.csr_array(k, dtype=bool)
    k.sort_indices()
    return k


def held_support_for(bridges, relation, n_skills: int, threshold: float = RELATED_MIN) -> sp.csr_array:
    """(n_skills, n_skills) bool CSR, ``[h, t]``: skill h makes t *held* — the skill relation
    (``matching.relation.SkillRelation``) on the pairs the soft kernel relates (``support_for``).
    ``relation`` None: exact matches only (the identity)."""
    if relation is None:
        return support_matrix(None, n_skills)
    return relation.held_support(support_for(bridges, n_skills, threshold))


def support_for(bridges, n_skills: int, threshold: float = RELATED_MIN) -> sp.csr_array:
    """``support_matrix`` of a bridge model: the sparse path when it exposes its kernel's parts
    (``space.context.skill_words`` / ``skill_groups`` and ``matching.bridges.GROUP_RELATED``),
    else the block-wise evaluation of ``bridges.related``; identity without a kernel."""
    related = getattr(bridges, "related", None)
    context = getattr(getattr(bridges, "space", None), "context", None)
    if related is not None and context is not None:
        return support_from_parts(context.skill_words, context.skill_groups, GROUP_RELATED, threshold)
    return support_matrix(related, n_skills, threshold)


def occupation_need(raw: sp.csr_array, core: sp.csr_array, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupation row ``b``'s needed skills: (cols (m,) int64, weights (m,) float32, core (m,) bool)."""
    lo, hi = raw.indptr[b], raw.indptr[b + 1]
    core_row = np.zeros(hi - lo, dtype=bool)
    clo, chi = core.indptr[b], core.indptr[b + 1]
    if chi > clo:
        core_cols = core.indices[clo:chi][core.data[clo:chi] > 0]
        core_row = np.isin(raw.indices[lo:hi], core_cols)
    return raw.indices[lo:hi].astype(np.int64), raw.data[lo:hi].astype(np.float32), core_row


@dataclass(frozen=True)
class Gap:
    """The needed skills of a target against held skills (all arrays aligned on ``need``).

    need (m,) int64 skill columns; weight (m,) float32 > 0; core (m,) bool;
    via (m,) int64: -1 held exactly, a held column when held through a skill that contains it,
    -2 in the gap. close (m,) int64: for a gap skill related to a held one (close: possibly quick
    to acquire), that held column; else -1. ``missing`` / ``missing_weight`` / ``missing_core`` /
    ``missing_close``: the gap (close skills included), core first, weight descending, then column.
    """

    need: np.ndarray
    weight: np.ndarray
    core: np.ndarray
    via: np.ndarray
    close: np.ndarray | None = None

    @property
    def _order(self) -> np.ndarray:
        m = np.flatnonzero(self.via == -2)
        return m[np.lexsort((self.need[m], -self.weight[m], ~self.core[m]))]

    @property
    def missing(self) -> np.ndarray:
        return self.need[self._order]

    @property
    def missing_weight(self) -> np.ndarray:
        return self.weight[self._order]

    @property
    def missing_core(self) -> np.ndarray:
        return self.core[self._order]

    @property
    def missing_close(self) -> np.ndarray:
        """(g,) int64 aligned on ``missing``: the held column a gap skill is close to, or -1."""
        if self.close is None:
            return np.full(len(self._order), -1, dtype=np.int64)
        return self.close[self._order]

    @property
    def total_weight(self) -> float:
        return float(self.weight.sum(dtype=np.float64))

    @property
    def gap_weight(self) -> float:
        return float(self.weight[self.via == -2].sum(dtype=np.float64))

    @property
    def coverage(self) -> float:
        """Share of the target's weight already held (exactly or through a skill that contains it), in [0, 1]."""
        total = self.total_weight
        return 1.0 if total == 0 else float(min(max(1.0 - self.gap_weight / total, 0.0), 1.0))


def skill_gap(need: np.ndarray, weight: np.ndarray, core: np.ndarray, held: np.ndarray,
              support: sp.csr_array | None = None, near: sp.csr_array | None = None) -> Gap:
    """The gap of a target (``need``, ``weight``, ``core``, each (m,)) for held skill columns ``held`` (h,).

    ``support``: which skill makes which held (``held_support_for(...)``), or None for exact
    matches only. For a skill held only through another, ``via`` is the lowest held column that
    supports it. ``near``: which skill relates to which (``support_for(...)``), to mark the gap
    skills that are close (``Gap.close``: the lowest related held column); None marks none.
    """
    need = np.asarray(need, dtype=np.int64)
    held = np.unique(np.asarray(held, dtype=np.int64))
    via = np.full(len(need), -2, dtype=np.int64)
    exact = np.isin(need, held, assume_unique=False)
    via[exact] = -1
    rest = np.flatnonzero(~exact)
    if support is not None and len(rest) and len(held):
        sub = sp.csc_array(support[held][:, need[rest]])  # (h, r) bool
        sub.sort_indices()
        ok = np.diff(sub.indptr) > 0
        first = sub.indices[sub.indptr[:-1][ok]]  # the lowest held column supporting each skill
        via[rest[ok]] = held[first]
    close = np.full(len(need), -1, dtype=np.int64)
    gap = np.flatnonzero(via == -2)
    if near is not None and len(gap) and len(held):
        sub = sp.csc_array(near[held][:, need[gap]])
        sub.sort_indices()
        ok = np.diff(sub.indptr) > 0
        close[gap[ok]] = held[sub.indices[sub.indptr[:-1][ok]]]
    return Gap(need=need, weight=np.asarray(weight, dtype=np.float32), core=np.asarray(core, dtype=bool), via=via,
               close=close)


# ---- training plans ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A training plan for a gap.

    trainings (p,) int64 catalogue rows in plan order; covers: tuple of p int64 arrays, the gap
    columns each training newly covers (together they are ``covered``, disjoint); hours, cost
    (NaN when a chosen training's cost is unknown); covered / residual (int64 gap columns, in
    gap order) and their weights; ``eligible``: number of eligible trainings that teach a gap
    skill (the candidates); ``sessions`` (p,) int64: the session row chosen for each training (in
    the index's session order), -1 for a training without sessions (a CSV catalogue's).
    """

    trainings: np.ndarray
    covers: tuple[np.ndarray, ...]
    hours: float
    cost: float
    covered: np.ndarray
    residual: np.ndarray
    covered_weight: float
    residual_weight: float
    eligible: int = 0
    sessions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _empty_plan(gap_cols: np.ndarray, gap_w: np.ndarray, eligible: int = 0) -> Plan:
    return Plan(trainings=np.zeros(0, np.int64), covers=(), hours=0.0, cost=0.0, covered=np.zeros(0, np.int64),
                residual=gap_cols.copy(), covered_weight=0.0, residual_weight=float(gap_w.sum(dtype=np.float64)),
                eligible=eligible, sessions=np.zeros(0, np.int64))


def greedy_cover(a: np.ndarray, w: np.ndarray, hours: np.ndarray, prune: bool = True,
                 distance: np.ndarray | None = None) -> list[int]:
    """Greedy weighted set cover on a dense (c, g) bool matrix ``a`` (candidate x gap skill).

    ``w`` (g,) > 0 skill weights, ``hours`` (c,) > 0 costs. Returns candidate indices in the order
    chosen; every column that some candidate covers is covered. Ties: larger gain, fewer hours,
    nearer (``distance`` (c,) km, NaN last; optional), lower index. ``prune`` drops redundant
    choices (last chosen first).
    """
    c, g = a.shape
    af = a.astype(np.float64)
    remaining = np.zeros(g, dtype=np.float64)
    coverable = a.any(axis=0)
    remaining[coverable] = w[coverable]
    chosen: list[int] = []
    alive = np.ones(c, dtype=bool)
    while remaining.any():
        gain = af @ remaining
        gain[~alive] = 0.0
        ratio = gain / hours
        best = ratio.max()
        if best <= 0:
            break
        tied = np.flatnonzero(ratio >= best * (1 - 1e-12))
        if len(tied) > 1:
            near = np.zeros(len(tied)) if distance is None else np.nan_to_num(distance[tied], nan=np.inf)
            tied = tied[np.lexsort((tied, near, hours[tied], -gain[tied]))]
        pick = int(tied[0])
        chosen.append(pick)
        alive[pick] = False
        remaining[a[pick]] = 0.0
    if prune and len(chosen) > 1:
        count = a[chosen].sum(axis=0).astype(np.int64)
        keep = list(chosen)
        for pick in reversed(chosen):
            cols = a[pick]
            if np.all(count[cols] >= 2):
                count[cols] -= 1
                keep.remove(pick)
        chosen = keep
    return chosen


@dataclass(frozen=True, eq=False)
class TrainingIndex:
    """A catalogue ready for plans: skill -> trainings postings and per-training arrays.

    teaches_csc: (n_trainings, n_skills) bool CSC; hours (n,) float64 > 0; cost (n,) float64 (NaN
    unknown); lat, lon (n,) float64 degrees (NaN: no place); remote (n,) bool; start_indptr (n+1,)
    and start_days (total,) int32 days since 1970 (a training without start date is permanent entry).

    Sessions (a regional offer's trainings have them; a CSV catalogue's do not): session_indptr
    (n+1,) groups them by training; session_start / session_end (s,) int32 days
    (``UNKNOWN_START`` / ``UNKNOWN_END`` when unknown); session_open (s,) bool (recruiting: not
    fermé or suspendu); session_places (s,) float64 places (NaN unknown); permanent (n,) bool
    (permanent entry: a session can be joined while it runs).
    """

    teaches_csc: sp.csc_array
    hours: np.ndarray
    cost: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    remote: np.ndarray
    start_indptr: np.ndarray
    start_days: np.ndarray
    permanent: np.ndarray | None = None
    session_indptr: np.ndarray | None = None
    session_start: np.ndarray | None = None
    session_end: np.ndarray | None = None
    session_open: np.ndarray | None = None
    session_places: np.ndarray | None = None

    @classmethod
    def fit(cls, teaches: sp.sparray, *, hours, cost=None, lat=None, lon=None, remote=None, start_indptr=None,
            start_days=None, permanent=None, session_indptr=None, session_start=None, session_end=None,
            session_open=None, session_places=None) -> "TrainingIndex":
        n = teaches.shape[0]
        nan = np.full(n, np.nan)
        csc = sp.csc_array(teaches, dtype=bool)
        csc.sort_indices()
        start_indptr = np.zeros(n + 1, np.int64) if start_indptr is None else np.asarray(start_indptr)
        s_indptr = np.zeros(n + 1, np.int64) if session_indptr is None else np.asarray(session_indptr, np.int64)
        s = int(s_indptr[-1])
        return cls(teaches_csc=csc, hours=np.asarray(hours, dtype=np.float64),
                   cost=nan.copy() if cost is None else np.asarray(cost, dtype=np.float64),
                   lat=nan.copy() if lat is None else np.asarray(lat, dtype=np.float64),
                   lon=nan.copy() if lon is None else np.asarray(lon, dtype=np.float64),
                   remote=np.zeros(n, bool) if remote is None else np.asarray(remote, dtype=bool),
                   start_indptr=start_indptr,
                   start_days=np.zeros(0, np.int32) if start_days is None else np.asarray(start_days),
                   permanent=(np.diff(start_indptr) == 0) & (np.diff(s_indptr) == 0) if permanent is None
                   else np.asarray(permanent, dtype=bool),
                   session_indptr=s_indptr,
                   session_start=np.full(s, UNKNOWN_START, np.int32) if session_start is None
                   else np.asarray(session_start, np.int32),
                   session_end=np.full(s, UNKNOWN_END, np.int32) if session_end is None
                   else np.asarray(session_end, np.int32),
                   session_open=np.ones(s, bool) if session_open is None else np.asarray(session_open, bool),
                   session_places=np.full(s, np.nan) if session_places is None
                   else np.asarray(session_places, np.float64))

    @property
    def n_sessions(self) -> int:
        return int(self.session_indptr[-1])

    def choose_sessions(self, rows: np.ndarray, *, today: date | None = None, earliest: date | None = None,
                        latest: date | None = None, places_left: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """For each training of ``rows``: (has_sessions (r,) bool, best session (r,) int64, -1 none fits).

        A session fits when it recruits (not fermé / suspendu), has places left (``places_left``
        (s,) float64 overrides the capacity; NaN unknown counts as some left) and its dates are
        not past: with ``lo = max(today, earliest)`` and ``hi = latest``, a fixed-date session
        starts in [lo, hi]; a session of a permanent-entry training is running or to come (ends
        at or after lo, starts by hi); a session with an unknown start fits when its end is not
        before lo, after every dated one. The best is the soonest (a running permanent-entry session
        counts from lo), ties by session row.
        """
        rows = np.asarray(rows, dtype=np.int64)
        ip = self.session_indptr
        first, last = ip[rows], ip[rows + 1]
        counts = last - first
        best = np.full(len(rows), -1, dtype=np.int64)
        total = int(counts.sum())
        if total == 0:
            return counts > 0, best
        owner = np.repeat(np.arange(len(rows)), counts)
        srow = first[owner] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
        lo = max([day_number(d) for d in (today, earliest) if d is not None], default=UNKNOWN_START)
        hi = UNKNOWN_END if latest is None else day_number(latest)
        s0 = self.session_start[srow].astype(np.int64)
        s1 = self.session_end[srow].astype(np.int64)
        known = s0 != UNKNOWN_START
        perm = self.permanent[rows][owner]
        fixed_ok = np.where(known, (s0 >= lo) & (s0 <= hi), s1 >= lo)
        perm_ok = (s1 >= lo) & (s0 <= hi)
        ok = np.where(perm, perm_ok, fixed_ok) & self.session_open[srow]
        places = (self.session_places if places_left is None else np.asarray(places_left, np.float64))[srow]
        ok &= np.isnan(places) | (places > 0)
        when = np.where(perm, np.maximum(s0, lo), s0)
        when[~known] = UNKNOWN_END
        order = np.lexsort((srow, when, owner))
        chosen = order[ok[order]]
        if len(chosen):
            owners, at = np.unique(owner[chosen], return_index=True)
            best[owners] = srow[chosen[at]]
        return counts > 0, best

    @property
    def n_trainings(self) -> int:
        return self.teaches_csc.shape[0]

    def eligible(self, rows: np.ndarray | None = None, *, lat: float | None = None, lon: float | None = None,
                 radius_km: float | None = None, earliest: date | None = None, latest: date | None = None,
                 max_hours: float | None = None, today: date | None = None,
                 places_left: np.ndarray | None = None) -> np.ndarray:
        """Bool mask over ``rows`` (default: every training) of the trainings a seeker can follow.

        Place: when ``lat``, ``lon`` and ``radius_km`` are given, remote trainings and those within
        ``radius_km`` (great circle) qualify; trainings with no place are excluded. Dates: a training
        with sessions needs one that fits (:meth:`choose_sessions`: recruiting, places left, not
        past at ``today``, in the window); one without sessions needs a start date in [earliest,
        latest] (either bound optional) or no start date (permanent entry).
        """
        return self._eligible(rows, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest, latest=latest,
                              max_hours=max_hours, today=today, places_left=places_left)[0]

    def _eligible(self, rows, *, lat, lon, radius_km, earliest, latest, max_hours, today, places_left
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(eligible mask, chosen session per row (-1: none or no sessions))."""
        rows = np.arange(self.n_trainings) if rows is None else np.asarray(rows, dtype=np.int64)
        ok = np.ones(len(rows), dtype=bool)
        if max_hours is not None:
            ok &= self.hours[rows] <= max_hours
        if lat is not None and lon is not None and radius_km is not None and np.isfinite(radius_km):
            d = haversine_km(lat, lon, self.lat[rows], self.lon[rows])
            ok &= self.remote[rows] | (np.nan_to_num(d, nan=np.inf) <= radius_km)
        if earliest is not None or latest is not None:
            lo = -(2 ** 31) if earliest is None else day_number(earliest)
            hi = 2 ** 31 - 1 if latest is None else day_number(latest)
            starts, ends = self.start_indptr[rows], self.start_indptr[rows + 1]
            permanent = ends == starts
            counts = ends - starts
            total = int(counts.sum())
            if total:
                owner = np.repeat(np.arange(len(rows)), counts)
                pos = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                days = self.start_days[starts[owner] + pos]
                inside = (days >= lo) & (days <= hi)
                any_inside = np.bincount(owner[inside], minlength=len(rows)) > 0
            else:
                any_inside = np.zeros(len(rows), dtype=bool)
            dated = permanent | any_inside
        else:
            dated = np.ones(len(rows), dtype=bool)
        has, session = self.choose_sessions(rows, today=today, earliest=earliest, latest=latest,
                                            places_left=places_left)
        ok &= np.where(has, session >= 0, dated)
        return ok, np.where(ok, session, -1)

    def plan(self, gap_cols: np.ndarray, gap_weight: np.ndarray, *, lat: float | None = None,
             lon: float | None = None, radius_km: float | None = None, earliest: date | None = None,
             latest: date | None = None, max_hours: float | None = None, allowed: np.ndarray | None = None,
             prune: bool = True, today: date | None = None, places_left: np.ndarray | None = None) -> Plan:
        """Plan for a gap: ``gap_cols`` (g,) int skill columns, ``gap_weight`` (g,) > 0 (see module doc).

        ``allowed``: optional (n_trainings,) bool mask applied on top of the filters. Each chosen
        training comes with its session (``Plan.sessions``: :meth:`choose_sessions` at ``today``
        with ``places_left``); among trainings as good per hour, the nearer to ``lat``/``lon`` wins.
        """
        gap_cols = np.asarray(gap_cols, dtype=np.int64)
        gap_w = np.asarray(gap_weight, dtype=np.float64)
        if len(gap_cols) == 0:
            return _empty_plan(gap_cols, gap_w)
        csc = self.teaches_csc
        starts, ends = csc.indptr[gap_cols], csc.indptr[gap_cols + 1]
        counts = ends - starts
        total = int(counts.sum())
        if total == 0:
            return _empty_plan(gap_cols, gap_w)
        owner = np.repeat(np.arange(len(gap_cols)), counts)
        pos = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        trows = csc.indices[starts[owner] + pos].astype(np.int64)
        cand, inverse = np.unique(trows, return_inverse=True)
        ok, session_of = self._eligible(cand, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest,
                                        latest=latest, max_hours=max_hours, today=today, places_left=places_left)
        if allowed is not None:
            ok &= np.asarray(allowed, dtype=bool)[cand]
        keep_pair = ok[inverse]
        remap = np.full(len(cand), -1, dtype=np.int64)
        remap[ok] = np.arange(int(ok.sum()))
        cand, session_of = cand[ok], session_of[ok]
        if len(cand) == 0:
            return _empty_plan(gap_cols, gap_w)
        a = np.zeros((len(cand), len(gap_cols)), dtype=bool)
        a[remap[inverse[keep_pair]], owner[keep_pair]] = True
        distance = None
        if lat is not None and lon is not None:
            distance = np.where(self.remote[cand], 0.0, haversine_km(lat, lon, self.lat[cand], self.lon[cand]))
        chosen = greedy_cover(a, gap_w, self.hours[cand], prune=prune, distance=distance)
        covered_mask = np.zeros(len(gap_cols), dtype=bool)
        covers = []
        for c in chosen:
            new = a[c] & ~covered_mask
            covers.append(gap_cols[new])
            covered_mask |= new
        picks = np.asarray(chosen, dtype=np.int64)
        rows = cand[picks] if chosen else np.zeros(0, np.int64)
        cost = float(self.cost[rows].sum()) if len(rows) else 0.0
        return Plan(trainings=rows.astype(np.int64), covers=tuple(covers), hours=float(self.hours[rows].sum()),
                    cost=cost, covered=gap_cols[covered_mask], residual=gap_cols[~covered_mask],
                    covered_weight=float(gap_w[covered_mask].sum()), residual_weight=float(gap_w[~covered_mask].sum()),
                    eligible=int(len(cand)),
                    sessions=session_of[picks].astype(np.int64) if chosen else np.zeros(0, np.int64))


# ---- a basin's training needs ------------------------------------------------------------------

def choose_targets(seeker_occupations: np.ndarray, candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """For each seeker, the candidate occupation row with the best bridge score from their occupation.

    seeker_occupations (n,) int (-1: unknown, gives -1); candidates (k,) int occupation rows;
    scores (n_occ, n_occ) bridge scores (a seeker's own occupation scores as its row's diagonal).
    Ties: the lower candidate row. Returns (n,) int64.
    """
    occ = np.asarray(seeker_occupations, dtype=np.int64)
    cand = np.sort(np.asarray(candidates, dtype=np.int64))
    out = np.full(len(occ), -1, dtype=np.int64)
    if len(cand) == 0:
        return out
    known = occ >= 0
    sub = np.asarray(scores)[np.ix_(np.unique(occ[known]), cand)]  # unique sources only
    src, where = np.unique(occ[known], return_inverse=True)
    best = cand[np.argmax(sub, axis=1)]
    out[known] = best[where]
    return out


@dataclass(frozen=True)
class BasinNeeds:
    """Aggregated gaps of a basin's seekers toward their targets.

    skills: (s,) int64 skill columns with some missing weight, sorted by missing weight desc, col;
    skill_weight (s,) float64 summed missing weight; skill_seekers (s,) int64 seekers missing it;
    skill_core (s,) int64 seekers for whom it is a core skill of the target; skill_trainings (s,)
    int64 eligible trainings teaching it (0: a training to buy).
    trainings (t,) int64 eligible catalogue rows closing some gap, sorted by closable weight desc,
    row; training_weight (t,) float64 gap weight each would close over all seekers;
    training_seekers (t,) int64 seekers it would help. total_weight: the whole gap; seekers: seekers
    with a target; closable_weight: gap weight some eligible training teaches.
    """

    skills: np.ndarray
    skill_weight: np.ndarray
    skill_seekers: np.ndarray
    skill_core: np.ndarray
    skill_trainings: np.ndarray
    trainings: np.ndarray
    training_weight: np.ndarray
    training_seekers: np.ndarray
    total_weight: float
    closable_weight: float
    seekers: int


def basin_needs(seeker_skills: sp.csr_array, targets: np.ndarray, raw: sp.csr_array, core: sp.csr_array,
                teaches: sp.sparray, eligible: np.ndarray | None = None,
                support: sp.csr_array | None = None) -> BasinNeeds:
    """Gaps of ``n`` seekers toward their targets, aggregated per skill and per training.

    seeker_skills: (n, n_skills) CSR, nonzero where a seeker holds a skill; targets: (n,) int
    occupation rows (-1: no target, skipped); raw, core: the skill space's (n_occ, n_skills)
    weights and core flags; teaches: (n_trainings, n_skills) training x skill; eligible:
    (n_trainings,) bool (default all); support: ``support_matrix`` or None (exact). Vectorised by
    target: cost O(nnz(seeker_skills) x skills of a target) per target occupation.
    """
    n_skills = raw.shape[1]
    targets = np.asarray(targets, dtype=np.int64)
    held = sp.csr_array(seeker_skills, dtype=np.float32)
    held.data[:] = 1.0
    teaches = sp.csc_array(teaches, dtype=np.float32)
    n_tr = teaches.shape[0]
    eligible = np.ones(n_tr, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    skill_w = np.zeros(n_skills, dtype=np.float64)
    skill_n = np.zeros(n_skills, dtype=np.int64)
    skill_c = np.zeros(n_skills, dtype=np.int64)
    tr_seekers = np.zeros(n_tr, dtype=np.int64)
    elig_f = eligible.astype(np.float32)
    elig_rows = np.flatnonzero(eligible)
    teaches_elig = sp.csc_array(sp.csr_array(teaches)[elig_rows])
    for b in np.unique(targets[targets >= 0]):
        members = np.flatnonzero(targets == b)
        need, weight, is_core = occupation_need(raw, core, int(b))
        if len(need) == 0:
            continue
        h = held[members]
        if support is not None:
            s = sp.csc_array(support[:, need], dtype=np.float32)
            supported = (h @ s).toarray() > 0  # (n_b, m)
        else:
            supported = h[:, need].toarray() > 0
        missing = ~supported  # (n_b, m)
        per_skill = missing.sum(axis=0)
        skill_w[need] += per_skill * weight.astype(np.float64)
        skill_n[need] += per_skill
        skill_c[need] += np.where(is_core, per_skill, 0)
        # seekers each eligible training would help (one of its skills missing for the seeker),
        # computed once per distinct missing pattern, weighted by how many seekers share it
        if len(elig_rows):
            patterns, count = np.unique(np.packbits(missing, axis=1), axis=0, return_counts=True)
            pattern_missing = np.unpackbits(patterns, axis=1, count=len(need)).astype(np.float32)
            t_sub = sp.csr_array(teaches_elig[:, need])  # (n_elig, m)
            helped = sp.csr_array(pattern_missing) @ t_sub.T  # (n_patterns, n_elig)
            helped = sp.csr_array(helped)
            owner = np.repeat(np.arange(helped.shape[0]), np.diff(helped.indptr))
            tr_seekers[elig_rows] += np.bincount(helped.indices, weights=count[owner],
                                                 minlength=len(elig_rows)).astype(np.int64)
    tr_seekers[~eligible] = 0
    taught_by = (teaches.T @ elig_f)  # (n_skills,) eligible trainings per skill
    tr_weight = teaches @ skill_w  # (n_tr,)
    tr_weight[~eligible] = 0.0
    s_rows = np.flatnonzero(skill_w > 0)
    s_rows = s_rows[np.lexsort((s_rows, -skill_w[s_rows]))]
    t_rows = np.flatnonzero(tr_weight > 0)
    t_rows = t_rows[np.lexsort((t_rows, -tr_weight[t_rows]))]
    closable = float(skill_w[taught_by > 0].sum())
    return BasinNeeds(skills=s_rows.astype(np.int64), skill_weight=skill_w[s_rows], skill_seekers=skill_n[s_rows],
                      skill_core=skill_c[s_rows], skill_trainings=np.rint(taught_by[s_rows]).astype(np.int64),
                      trainings=t_rows.astype(np.int64), training_weight=tr_weight[t_rows],
                      training_seekers=tr_seekers[t_rows], total_weight=float(skill_w.sum()),
                      closable_weight=closable, seekers=int((targets >= 0).sum()))


__all__ = ["BasinNeeds", "Gap", "Plan", "RELATED_MIN", "TrainingIndex", "UNKNOWN_END", "UNKNOWN_START", "basin_needs",
           "choose_targets", "day_number", "greedy_cover", "held_support_for", "occupation_need", "skill_gap",
           "support_for", "support_from_parts", "support_matrix"]
