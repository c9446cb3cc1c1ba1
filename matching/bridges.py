"""Bridge scores between occupations: the ranking score of passerelles.

Interface used by the rest of the core (matching of seekers and offers, gaps, kits):

    model = BridgeModel.fit(space)          # once per referential
    model.scores_from(a)  -> (n_occupations,) float32 in [0, 1], bridge(a -> every b)
    model.matrix          -> (n_occupations, n_occupations) float32, bridge(a -> b) at [a, b]

First version: bridge(a -> b) = 0.5 * cosine(a, b) + 0.5 * coverage(a -> b) over exact skills.
(Refined by the career-bridges work: soft skill-to-skill kernel, calibrated formula.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .space import SkillSpace


def cosine_matrix(space: SkillSpace) -> np.ndarray:
    """(n, n) float32 cosine of every pair of occupation vectors."""
    return np.clip((space.vectors @ space.vectors.T).toarray().astype(np.float32), 0.0, 1.0)


def coverage_matrix(space: SkillSpace) -> np.ndarray:
    """(n, n) float32: [a, b] = share of b's weighted skills that a holds (exact skills)."""
    held = space.raw.copy()
    held.data = np.ones_like(held.data)
    totals = np.asarray(space.raw.sum(axis=1)).ravel().astype(np.float32)
    totals[totals == 0] = 1.0
    covered = (held @ space.raw.T).toarray().astype(np.float32)  # [a, b] = sum_s held(a,s) w(b,s)
    return np.clip(covered / totals[None, :], 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class BridgeModel:
    space: SkillSpace

    @classmethod
    def fit(cls, space: SkillSpace) -> "BridgeModel":
        return cls(space=space)

    @cached_property
    def similarity_matrix(self) -> np.ndarray:
        """(n, n) float32 cosine(a, b) in [0, 1], symmetric."""
        return cosine_matrix(self.space)

    @cached_property
    def coverage_matrix(self) -> np.ndarray:
        """(n, n) float32 coverage(a -> b) in [0, 1]."""
        return coverage_matrix(self.space)

    @cached_property
    def matrix(self) -> np.ndarray:
        """(n, n) float32 bridge(a -> b) in [0, 1]."""
        return (0.5 * self.similarity_matrix + 0.5 * self.coverage_matrix).astype(np.float32)

    def similarity(self, a: int, b: int) -> float:
        return float(self.similarity_matrix[a, b])

    def coverage(self, a: int, b: int) -> float:
        return float(self.coverage_matrix[a, b])

    def scores_from(self, a: int) -> np.ndarray:
        """(n,) float32 bridge(a -> b) for every occupation b."""
        return self.matrix[a]
