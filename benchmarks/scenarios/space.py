"""Skill space: weighting and normalising every ROME occupation's skill vector (done once per referential).

Baseline: scikit-learn's ``TfidfTransformer`` (smooth IDF, L2 rows) on the same occupation x skill
matrix — the textbook implementation of the same kind of weighting, without kinds or core boost.

Work counters: ``links_scanned`` (stored entries of the input matrix), ``vectors_nnz`` (stored
entries of the output: a denser space makes every later query slower), plus the harness's
``alloc_peak_bytes``. No quick size: the full referential's fit takes milliseconds.
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
    space = SkillSpace.from_referentiel(referential)
    return {"links_scanned": int(referential.matrix.nnz), "occupations": referential.n_occupations,
            "vectors_nnz": int(space.vectors.nnz) + int(space.raw.nnz) + int(space.core.nnz)}


scenario(name="skill_space_fit", ours=lambda c: SkillSpace.from_referentiel(c["referential"]),
         baseline=lambda c: TfidfTransformer(smooth_idf=True, norm="l2").fit_transform(c["referential"].matrix),
         baseline_name="sklearn TfidfTransformer on the same matrix", target="< 20 ms", repeats=40,
         quick_repeats=15, counters=_links_scanned)(_setup)
