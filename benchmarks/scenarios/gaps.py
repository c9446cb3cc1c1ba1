"""Training gaps on the full ROME: one seeker's gap + plan, and a basin's training needs.

- ``gap_plan_50k``: the gap of one seeker (an occupation's skills, 30 % dropped) toward the best
  bridge of that occupation, and the training plan (greedy weighted set cover, 50 km radius, a
  start in the first half of 2026) against a synthetic catalogue of 50,000 trainings
  (``matching.gaps.skill_gap`` + ``TrainingIndex.plan``; cycles over 300 seekers). Baseline: the
  textbook version — exact gap by ``np.setdiff1d``, eligibility of every training, and a greedy
  whose every step multiplies the whole catalogue's (trainings x gap) matrix. Target: <= 5 ms p50.
- ``basin_needs_50k``: one basin of 50,000 seekers (and 10,000 offers): tension table, each
  seeker's best bridge among the occupations in tension (else the 10 most tense), the gap of every seeker aggregated per
  skill and per training within 50 km (``api.services.training_service.seeker_matrix``,
  ``matching.gaps.choose_targets`` + ``basin_needs``). Baseline: a loop over seekers calling the
  individual ``skill_gap``, then the same aggregation. Target: <= 2 s.

Work counters: trainings scanned (candidates considered by the planner), gap skills, seekers.
``--quick``: the demo referential, 5,000 trainings, 5,000 seekers.
"""

from __future__ import annotations

import itertools
from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl
import scipy.sparse as sp

import referentiels
from matching.bridges import BridgeModel
from matching.gaps import TrainingIndex, basin_needs, choose_targets, occupation_need, skill_gap, support_for
from matching.space import SkillSpace
from matching.tension import tension_table, tension_targets
from referentiels.territories import default_basins, haversine_km
from referentiels.trainings import from_frame, synthesize_trainings

from ..data import rome_dir
from ..harness import scenario

BEAUVAIS = (49.4295, 2.0807)
WINDOW = (date(2026, 1, 1), date(2026, 6, 30))


@lru_cache(maxsize=2)
def _world(quick: bool) -> dict:
    r = referentiels.load("demo" if quick else f"rome:{rome_dir()}")
    space = SkillSpace.from_referentiel(r)
    bridges = BridgeModel.from_referentiel(r, space)
    bridges.matrix
    support = support_for(bridges, r.n_skills)
    n = 5_000 if quick else 50_000
    catalogue = from_frame(synthesize_trainings(r, n, seed=0), r)
    index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())
    return {"r": r, "space": space, "bridges": bridges, "support": support, "catalogue": catalogue, "index": index}


# ---- one seeker ----------------------------------------------------------------------------------

def _setup_plan(quick: bool) -> dict:
    w = _world(quick)
    r, space, bridges = w["r"], w["space"], w["bridges"]
    rng = np.random.default_rng(0)
    has = np.flatnonzero(np.diff(space.raw.indptr) > 0)
    seekers = []
    for a in rng.choice(has, size=300, replace=True):
        held = space.raw.indices[space.raw.indptr[a]:space.raw.indptr[a + 1]]
        held = held[rng.random(len(held)) >= 0.3]
        scores = np.array(bridges.scores_from(int(a)), dtype=np.float32)
        scores[a] = -1
        scores[np.diff(space.raw.indptr) == 0] = -1
        seekers.append((held.astype(np.int64), int(np.argmax(scores))))
    teaches = sp.csr_array(w["catalogue"].teaches)
    return {**w, "seekers": seekers, "ours_i": itertools.cycle(range(300)), "base_i": itertools.cycle(range(300)),
            "teaches_csc": sp.csc_array(teaches)}


def _ours_plan(ctx: dict):
    held, b = ctx["seekers"][next(ctx["ours_i"])]
    space = ctx["space"]
    gap = skill_gap(*occupation_need(space.raw, space.core, b), held=held, support=ctx["support"])
    return ctx["index"].plan(gap.missing, gap.missing_weight, lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50,
                             earliest=WINDOW[0], latest=WINDOW[1])


def _baseline_plan(ctx: dict):
    held, b = ctx["seekers"][next(ctx["base_i"])]
    space, index = ctx["space"], ctx["index"]
    need, weight, _ = occupation_need(space.raw, space.core, b)
    missing = ~np.isin(need, held)
    cols, w = need[missing], weight[missing].astype(np.float64)
    ok = index.eligible(lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50, earliest=WINDOW[0], latest=WINDOW[1])
    a = ctx["teaches_csc"][:, cols].tocsr()  # (n_trainings, g)
    remaining = w.copy()
    remaining[np.asarray(a[ok].sum(axis=0)).ravel() == 0] = 0
    chosen = []
    while remaining.any():
        gain = a @ remaining
        ratio = np.where(ok, gain / index.hours, 0)
        t = int(np.argmax(ratio))
        if ratio[t] <= 0:
            break
        chosen.append(t)
        remaining[a[[t]].indices] = 0
    return chosen


def _plan_counters(ctx: dict) -> dict:
    total_candidates, total_gap = 0, 0
    for held, b in ctx["seekers"][:50]:
        space = ctx["space"]
        gap = skill_gap(*occupation_need(space.raw, space.core, b), held=held, support=ctx["support"])
        csc = ctx["index"].teaches_csc
        total_candidates += int((csc.indptr[gap.missing + 1] - csc.indptr[gap.missing]).sum())
        total_gap += len(gap.missing)
    return {"postings_scanned_per_seeker": total_candidates / 50, "gap_skills_per_seeker": total_gap / 50,
            "catalogue": ctx["index"].n_trainings}


scenario(name="gap_plan_50k", ours=_ours_plan, baseline=_baseline_plan,
         baseline_name="exact setdiff gap + greedy multiplying the whole catalogue every step",
         target="<= 5 ms p50", repeats=200, quick_repeats=30, counters=_plan_counters)(_setup_plan)


# ---- one basin -----------------------------------------------------------------------------------

def _setup_needs(quick: bool) -> dict:
    from referentiels.synthetic import synthesize

    w = _world(quick)
    r = w["r"]
    basin = default_basins().filter(pl.col("id") == "beauvais")
    n = 5_000 if quick else 50_000
    population = synthesize(r, n, n // 5, basin, seed=0, text_share=0.0)
    eligible = w["index"].eligible(lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50)
    return {**w, "seekers": population.seekers, "offers": population.offers, "eligible": eligible}


def _needs(ctx: dict, per_seeker: bool):
    from api.services.training_service import seeker_matrix

    r, space = ctx["r"], ctx["space"]
    table = tension_table(ctx["offers"], ctx["seekers"])
    targets, _ = tension_targets(table, "beauvais", r.occupation_index)
    matrix, occ = seeker_matrix(ctx["seekers"], r)
    chosen = choose_targets(occ, targets, ctx["bridges"].matrix)
    if not per_seeker:
        return basin_needs(matrix, chosen, space.raw, space.core, ctx["catalogue"].teaches, ctx["eligible"],
                           support=ctx["support"])
    skill_w = np.zeros(r.n_skills)
    for i in np.flatnonzero(chosen >= 0):
        held = matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]]
        gap = skill_gap(*occupation_need(space.raw, space.core, int(chosen[i])), held=held, support=ctx["support"])
        np.add.at(skill_w, gap.missing, gap.missing_weight)
    teaches = ctx["catalogue"].teaches
    return (teaches @ skill_w) * ctx["eligible"]


def _needs_counters(ctx: dict) -> dict:
    needs = _needs(ctx, per_seeker=False)
    return {"seekers": ctx["seekers"].height, "seekers_with_target": needs.seekers,
            "skills_missing": len(needs.skills), "trainings_eligible": int(ctx["eligible"].sum())}


scenario(name="basin_needs_50k", ours=lambda c: _needs(c, False), baseline=lambda c: _needs(c, True),
         baseline_name="loop over seekers with the individual skill_gap, same aggregation",
         target="<= 2 s", repeats=3, quick_repeats=3, counters=_needs_counters, alloc=False)(_setup_needs)
