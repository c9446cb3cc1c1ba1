"""Career bridges on the full ROME: one passerelles query, and the all-pairs similarity.

- ``passerelles_query``: the 10 best bridges of one occupation (cycling over every source), from
  the bridge matrix built once (``PasserelleIndex.top``). Baseline: what a plain scipy service
  would do per request — the cosine of the source's vector with every occupation
  (``V[[a]] @ V.T``) and a full ``argsort``. Target: <= 0.1 ms p50.
- ``passerelles_query_explained``: the same with each bridge explained (shared skills, related
  skills through the kernel, missing skills, calibrated label). Baseline: the plain ranking plus
  Python set intersections of skill codes.
- ``all_pairs_similarity``: the (n, n) cosine of every pair of ROME occupations
  (``matching.bridges.cosine_matrix``, scikit-learn's sparse x sparse -> dense kernel). Baseline:
  plain scipy ``(V @ V.T).toarray()`` (the first version of bridges.py). Target: <= 5 ms.
- ``all_pairs_similarity_vs_sklearn``: the same against scikit-learn ``cosine_similarity`` on the
  same vectors (which normalises again, then uses the same kernel): parity expected.

``--quick``: the embedded demo referential (106 occupations) instead of ROME.
"""

from __future__ import annotations

import itertools

import numpy as np

import referentiels
from matching.bridges import BridgeModel, cosine_matrix
from matching.calibration import BridgeLabeller
from matching.passerelles import PasserelleIndex
from matching.space import SkillSpace

from ..data import rome_dir
from ..harness import scenario


def _referential(quick: bool):
    return referentiels.load("demo" if quick else f"rome:{rome_dir()}")


def _setup_query(quick: bool) -> dict:
    r = _referential(quick)
    space = SkillSpace.from_referentiel(r)
    model = BridgeModel.from_referentiel(r, space)
    labeller = BridgeLabeller.from_referentiel(r, model, space)
    index = PasserelleIndex.fit(r, space, model, labeller=labeller)
    model.matrix, model.similarity_matrix, model.coverage_matrix  # built once, outside the timing
    skills = [set(r.skill_codes[space.raw.indices[space.raw.indptr[i]:space.raw.indptr[i + 1]]].tolist())
              for i in range(r.n_occupations)]
    return {"index": index, "vectors": space.vectors, "n": r.n_occupations, "skills": skills,
            "ours_sources": itertools.cycle(range(r.n_occupations)),
            "base_sources": itertools.cycle(range(r.n_occupations))}


def _ours_query(ctx: dict):
    return ctx["index"].top(next(ctx["ours_sources"]), 10)


def _baseline_query(ctx: dict):
    a = next(ctx["base_sources"])
    row = (ctx["vectors"][[a]] @ ctx["vectors"].T).toarray().ravel()
    row[a] = -1.0
    return np.argsort(-row, kind="stable")[:10]


def _ours_explained(ctx: dict):
    return ctx["index"].query(next(ctx["ours_sources"]), 10)


def _baseline_explained(ctx: dict):
    a = next(ctx["base_sources"])
    row = (ctx["vectors"][[a]] @ ctx["vectors"].T).toarray().ravel()
    row[a] = -1.0
    held = ctx["skills"][a]
    return [(b, sorted(held & ctx["skills"][b]), sorted(ctx["skills"][b] - held))
            for b in np.argsort(-row, kind="stable")[:10]]


def _query_counters(ctx: dict) -> dict[str, float]:
    return {"occupations_ranked": ctx["n"]}


scenario(name="passerelles_query", ours=_ours_query, baseline=_baseline_query,
         baseline_name="per-request scipy cosine row + argsort", target="<= 0.1 ms p50", repeats=2000,
         quick_repeats=200, counters=_query_counters)(_setup_query)

scenario(name="passerelles_query_explained", ours=_ours_explained, baseline=_baseline_explained,
         baseline_name="per-request scipy cosine row + argsort + set intersections (exact skills only)",
         target="a few ms", repeats=200, quick_repeats=40, counters=_query_counters)(_setup_query)


def _setup_all_pairs(quick: bool) -> dict:
    r = _referential(quick)
    space = SkillSpace.from_referentiel(r)
    return {"space": space, "vectors": space.vectors}


def _baseline_all_pairs(ctx: dict):
    from sklearn.metrics.pairwise import cosine_similarity

    return cosine_similarity(ctx["vectors"])


def _pairs_counters(ctx: dict) -> dict[str, float]:
    v = ctx["vectors"]
    df = np.bincount(v.indices, minlength=v.shape[1]).astype(np.int64)
    return {"pair_products": int((df * df).sum()), "occupations": v.shape[0]}


def _scipy_all_pairs(ctx: dict):
    v = ctx["vectors"]
    return (v @ v.T).toarray()


scenario(name="all_pairs_similarity", ours=lambda c: cosine_matrix(c["space"]), baseline=_scipy_all_pairs,
         baseline_name="plain scipy (V @ V.T).toarray()", target="<= 5 ms", repeats=40,
         quick_repeats=15, counters=_pairs_counters)(_setup_all_pairs)

scenario(name="all_pairs_similarity_vs_sklearn", ours=lambda c: cosine_matrix(c["space"]),
         baseline=_baseline_all_pairs, baseline_name="sklearn cosine_similarity on the same vectors",
         target="parity", repeats=40, quick_repeats=15, counters=_pairs_counters)(_setup_all_pairs)
