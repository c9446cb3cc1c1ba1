"""Skill space: weighting and normalising every ROME occupation's skill vector (done once per referential).

Baseline: scikit-learn's ``TfidfTransformer`` (smooth IDF, L2 rows) on the same occupation x skill
matrix — the textbook implementation of the same kind of weighting, without kinds or core boost.
"""

from __future__ import annotations

import referentiels
from matching.space import SkillSpace
from sklearn.feature_extraction.text import TfidfTransformer

from ..data import rome_dir
from ..harness import scenario


def _setup(quick: bool) -> dict:
    referential = referentiels.load(f"rome:{rome_dir()}")
    referential.matrix, referential.core_matrix, referential.skill_kinds  # built once, outside the timing
    return {"referential": referential}


def _links_scanned(ctx: dict) -> dict[str, float]:
    referential = ctx["referential"]
    return {"links_scanned": int(referential.matrix.nnz), "occupations": referential.n_occupations}


scenario(name="skill_space_fit", ours=lambda c: SkillSpace.from_referentiel(c["referential"]),
         baseline=lambda c: TfidfTransformer(smooth_idf=True, norm="l2").fit_transform(c["referential"].matrix),
         baseline_name="sklearn TfidfTransformer on the same matrix", target="< 20 ms", repeats=40,
         quick_repeats=15, counters=_links_scanned)(_setup)
