"""The skill space: every occupation as an L2-normalised float32 sparse vector over skills.

Weight of skill ``s`` for occupation ``o``::

    w(o, s) = link_weight(o, s) * (CORE_BOOST if core(o, s) else 1) * KIND_WEIGHTS[kind(s)] * idf(s)
    idf(s)  = log((1 + n_occupations) / (1 + n_occupations_with(s))) + 1      (smooth IDF, sklearn's)

then each row is divided by its L2 norm. Rare skills weigh more than skills that every occupation
lists ("Respecter les règles de sécurité"), core skills more than peripheral ones, and know-how
more than soft skills (savoir-être are few in ROME and shared by thousands of occupations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

KIND_WEIGHTS: dict[str, float] = {"savoir-faire": 1.0, "savoir": 0.8, "savoir-être": 0.4}
CORE_BOOST: float = 2.0


def idf(matrix: sp.csr_array) -> np.ndarray:
    """(n_skills,) float32 smooth inverse document frequency of each skill over occupations."""
    n_rows = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    return (np.log((1.0 + n_rows) / (1.0 + df)) + 1.0).astype(np.float32)


def l2_normalise(matrix: sp.csr_array) -> sp.csr_array:
    """Rows divided by their L2 norm (empty rows stay empty). float32 CSR."""
    m = sp.csr_array(matrix, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    m.data /= np.repeat(norms, np.diff(m.indptr)).astype(np.float32)
    return m


@dataclass(frozen=True, eq=False)
class SkillSpace:
    """Weighted skill vectors of a referential's occupations. Build once with :meth:`fit`.

    Attributes:
        raw:           (n_occupations, n_skills) float32 CSR, un-normalised weights w(o, s)
        vectors:       same, rows L2-normalised (the occupation vectors)
        skill_weight:  (n_skills,) float32, idf(s) * KIND_WEIGHTS[kind(s)]: the weight a skill
                       carries in any profile (seeker, offer, training) before core/link factors
        core:          (n_occupations, n_skills) float32 CSR, 1.0 on core links
    """

    raw: sp.csr_array
    vectors: sp.csr_array
    skill_weight: np.ndarray
    core: sp.csr_array

    @classmethod
    def fit(
        cls,
        links: sp.csr_array,
        core: sp.csr_array,
        skill_kinds: np.ndarray,
        kind_weights: tuple[float, float, float] = tuple(KIND_WEIGHTS.values()),
        core_boost: float = CORE_BOOST,
    ) -> "SkillSpace":
        """Build from a referential's link matrix (weights), core matrix, and (n_skills,) kind ids."""
        links = sp.csr_array(links, dtype=np.float32)
        core = sp.csr_array(core, dtype=np.float32)
        skill_weight = idf(links) * np.asarray(kind_weights, dtype=np.float32)[skill_kinds]
        raw = links.copy()
        raw.data = raw.data * (1.0 + (core_boost - 1.0) * core.data) * skill_weight[raw.indices]
        raw.data = raw.data.astype(np.float32)
        return cls(raw=raw, vectors=l2_normalise(raw), skill_weight=skill_weight.astype(np.float32), core=core)

    @classmethod
    def from_referentiel(cls, referentiel) -> "SkillSpace":
        """Convenience: ``fit`` on a ``referentiels.Referentiel`` (duck-typed, no import)."""
        return cls.fit(referentiel.matrix, referentiel.core_matrix, referentiel.skill_kinds)

    @property
    def shape(self) -> tuple[int, int]:
        return self.vectors.shape

    def similarity(self, a: int, b: int) -> float:
        """Cosine of occupations ``a`` and ``b`` (row indices), in [0, 1], symmetric."""
        value = float(self.vectors[[a]].multiply(self.vectors[[b]]).sum())
        return min(max(value, 0.0), 1.0)

    def coverage(self, a: int, b: int) -> float:
        """Share of ``b``'s weighted skills that ``a`` holds, in [0, 1]; coverage(a, a) = 1."""
        target = self.raw[[b]]
        total = float(target.sum())
        if total == 0.0:
            return 0.0
        held = (self.raw[[a]] != 0).astype(np.float32)
        return float(target.multiply(held).sum()) / total
