"""Skill gaps, training plans (weighted set cover) and a basin's training needs.

    support = support_matrix(bridges.related, n_skills)           # once: which skill supports which
    gap = skill_gap(*occupation_need(space, b), held=cols_of_a, support=support)
    index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())  # once per catalogue
    plan = index.plan(gap.missing, gap.missing_weight, lat=49.43, lon=2.08, radius_km=50,
                      earliest=date(2026, 1, 1), latest=date(2026, 6, 30))
    needs = basin_needs(seeker_skills, seeker_targets, space.raw, space.core, support, teaches, eligible)

**Gap.** A target (an occupation's row of the skill space, or an offer's skills) needs skills
with weights (the target's vector: IDF x kind x core x link). A held skill *supports* a needed one
when it is the same skill, or when the bridge model's skill-to-skill kernel relates them at or
above ``RELATED_MIN`` (the same rule as the passerelles' explanations, so the gap of a bridge is
its list of missing skills). The gap is the unsupported needed skills, core first, then weight
descending, then column (= code order).

**Plan.** Trainings teach sets of skills; each has a duration in hours. ``plan`` chooses, among
the eligible trainings (place within the radius or at a distance, a start date in the window or
permanent entry, at most ``max_hours`` each), a set that covers every *coverable* gap skill (one
that at least one eligible training teaches) — a weighted set cover solved greedily: take the
training with the largest newly covered gap weight per hour (ties: larger weight, fewer hours,
lower row), repeat until nothing coverable is left; then drop every chosen training whose skills
the others already cover (last chosen first). Guarantee (Chvátal 1979, with element weights):
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

from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse as sp

from referentiels.territories import haversine_km
from .bridges import GROUP_RELATED, RELATED_MIN

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
    via (m,) int64: -1 held exactly, a held column when supported through a related skill,
    -2 missing. ``missing`` / ``missing_weight`` / ``missing_core``: the gap, core first, weight
    descending, then column.
    """

    need: np.ndarray
    weight: np.ndarray
    core: np.ndarray
    via: np.ndarray

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
    def total_weight(self) -> float:
        return float(self.weight.sum(dtype=np.float64))

    @property
    def gap_weight(self) -> float:
        return float(self.weight[self.via == -2].sum(dtype=np.float64))

    @property
    def coverage(self) -> float:
        """Share of the target's weight already held (exactly or through a related skill), in [0, 1]."""
        total = self.total_weight
        return 1.0 if total == 0 else float(min(max(1.0 - self.gap_weight / total, 0.0), 1.0))


def skill_gap(need: np.ndarray, weight: np.ndarray, core: np.ndarray, held: np.ndarray,
              support: sp.csr_array | None = None) -> Gap:
    """The gap of a target (``need``, ``weight``, ``core``, each (m,)) for held skill columns ``held`` (h,).

    ``support``: ``support_matrix(...)`` or None for exact matches only. For a skill supported
    only through related skills, ``via`` is the lowest held column that supports it.
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
    return Gap(need=need, weight=np.asarray(weight, dtype=np.float32), core=np.asarray(core, dtype=bool), via=via)


# ---- training plans ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A training plan for a gap.

    trainings (p,) int64 catalogue rows in plan order; covers: tuple of p int64 arrays, the gap
    columns each training newly covers (together they are ``covered``, disjoint); hours, cost
    (NaN when a chosen training's cost is unknown); covered / residual (int64 gap columns, in
    gap order) and their weights; ``eligible``: number of eligible trainings that teach a gap
    skill (the candidates).
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


def _empty_plan(gap_cols: np.ndarray, gap_w: np.ndarray, eligible: int = 0) -> Plan:
    return Plan(trainings=np.zeros(0, np.int64), covers=(), hours=0.0, cost=0.0, covered=np.zeros(0, np.int64),
                residual=gap_cols.copy(), covered_weight=0.0, residual_weight=float(gap_w.sum(dtype=np.float64)),
                eligible=eligible)


def greedy_cover(a: np.ndarray, w: np.ndarray, hours: np.ndarray, prune: bool = True) -> list[int]:
    """Greedy weighted set cover on a dense (c, g) bool matrix ``a`` (candidate x gap skill).

    ``w`` (g,) > 0 skill weights, ``hours`` (c,) > 0 costs. Returns candidate indices in the order
    chosen; every column that some candidate covers is covered. Ties: larger gain, fewer hours,
    lower index. ``prune`` drops redundant choices (last chosen first).
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
            tied = tied[np.lexsort((tied, hours[tied], -gain[tied]))]
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
    """

    teaches_csc: sp.csc_array
    hours: np.ndarray
    cost: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    remote: np.ndarray
    start_indptr: np.ndarray
    start_days: np.ndarray

    @classmethod
    def fit(cls, teaches: sp.sparray, *, hours, cost=None, lat=None, lon=None, remote=None, start_indptr=None,
            start_days=None) -> "TrainingIndex":
        n = teaches.shape[0]
        nan = np.full(n, np.nan)
        csc = sp.csc_array(teaches, dtype=bool)
        csc.sort_indices()
        return cls(teaches_csc=csc, hours=np.asarray(hours, dtype=np.float64),
                   cost=nan.copy() if cost is None else np.asarray(cost, dtype=np.float64),
                   lat=nan.copy() if lat is None else np.asarray(lat, dtype=np.float64),
                   lon=nan.copy() if lon is None else np.asarray(lon, dtype=np.float64),
                   remote=np.zeros(n, bool) if remote is None else np.asarray(remote, dtype=bool),
                   start_indptr=np.zeros(n + 1, np.int64) if start_indptr is None else np.asarray(start_indptr),
                   start_days=np.zeros(0, np.int32) if start_days is None else np.asarray(start_days))

    @property
    def n_trainings(self) -> int:
        return self.teaches_csc.shape[0]

    def eligible(self, rows: np.ndarray | None = None, *, lat: float | None = None, lon: float | None = None,
                 radius_km: float | None = None, earliest: date | None = None, latest: date | None = None,
                 max_hours: float | None = None) -> np.ndarray:
        """Bool mask over ``rows`` (default: every training) of the trainings a seeker can follow.

        Place: when ``lat``, ``lon`` and ``radius_km`` are given, remote trainings and those within
        ``radius_km`` (great circle) qualify; trainings with no place are excluded. Dates: a start
        date in [earliest, latest] (either bound optional) or no start date (permanent entry).
        """
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
            ok &= permanent | any_inside
        return ok

    def plan(self, gap_cols: np.ndarray, gap_weight: np.ndarray, *, lat: float | None = None,
             lon: float | None = None, radius_km: float | None = None, earliest: date | None = None,
             latest: date | None = None, max_hours: float | None = None, allowed: np.ndarray | None = None,
             prune: bool = True) -> Plan:
        """Plan for a gap: ``gap_cols`` (g,) int skill columns, ``gap_weight`` (g,) > 0 (see module doc).

        ``allowed``: optional (n_trainings,) bool mask applied on top of the filters.
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
        ok = self.eligible(cand, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest, latest=latest,
                           max_hours=max_hours)
        if allowed is not None:
            ok &= np.asarray(allowed, dtype=bool)[cand]
        keep_pair = ok[inverse]
        remap = np.full(len(cand), -1, dtype=np.int64)
        remap[ok] = np.arange(int(ok.sum()))
        cand = cand[ok]
        if len(cand) == 0:
            return _empty_plan(gap_cols, gap_w)
        a = np.zeros((len(cand), len(gap_cols)), dtype=bool)
        a[remap[inverse[keep_pair]], owner[keep_pair]] = True
        chosen = greedy_cover(a, gap_w, self.hours[cand], prune=prune)
        covered_mask = np.zeros(len(gap_cols), dtype=bool)
        covers = []
        for c in chosen:
            new = a[c] & ~covered_mask
            covers.append(gap_cols[new])
            covered_mask |= new
        rows = cand[np.asarray(chosen, dtype=np.int64)] if chosen else np.zeros(0, np.int64)
        cost = float(self.cost[rows].sum()) if len(rows) else 0.0
        return Plan(trainings=rows.astype(np.int64), covers=tuple(covers), hours=float(self.hours[rows].sum()),
                    cost=cost, covered=gap_cols[covered_mask], residual=gap_cols[~covered_mask],
                    covered_weight=float(gap_w[covered_mask].sum()), residual_weight=float(gap_w[~covered_mask].sum()),
                    eligible=int(len(cand)))


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


__all__ = ["BasinNeeds", "Gap", "Plan", "RELATED_MIN", "TrainingIndex", "basin_needs", "choose_targets",
           "day_number", "greedy_cover", "occupation_need", "skill_gap", "support_for", "support_from_parts", "support_matrix"]
