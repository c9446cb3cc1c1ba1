"""Bridge scores between occupations: the ranking score of passerelles.

Interface used by the rest of the core (matching of seekers and offers, gaps, kits):

    model = BridgeModel.fit(space)          # once per referential
    model.scores_from(a)  -> (n_occupations,) float32 in [0, 1], bridge(a -> every b)
    model.matrix          -> (n_occupations, n_occupations) float32, bridge(a -> b) at [a, b]
    model.similarity(a, b), model.coverage(a, b), model.related(need, held)

**The formula.** Every signal is in [0, 1]; the bridge score is their weighted mean::

    bridge(a -> b) = sum_i w_i * f_i(a, b) / sum_i w_i         (over the signals available)

    f_skills   cosine of the skill vectors (IDF x kind x core, ``SkillSpace.vectors``)
    f_words    soft skill-to-skill kernel: cosine of the occupations' skills seen through the
               stemmed words of their labels (TF-IDF), so "Contrôler la conformité d'un produit"
               and "Contrôler la conformité d'un équipement" meet though their codes differ
    f_groups   cosine over macro-competences (``code_ogr_macro_comp``): skills of one group relate
    f_titles   cosine of the words of the occupations' labels and job titles (appellations)
    f_domain   1 when both are in the same professional domain (e.g. H29), else 0
    f_family   1 when one is the other's parent, or both have the same parent, else 0
    f_sectors  Jaccard of the sets of activity sectors
    f_mobility (only when official mobilities are given to :meth:`BridgeModel.fit`) a kernel ridge
               regression of the official mobilities on the content score plus the family signal
               (:func:`mobility_signal`, :meth:`BridgeWeights.kernel`): "occupations like yours lead
               there", near-duplicate neighbours counted once

Weights (:class:`BridgeWeights`) were chosen by coordinate ascent on recall@10 of the official
mobilities of ROME v460 with those hidden (`passerelles evaluate`; grids in docs/bridges.md).
Content only (the mobilities hidden from the engine): recall@10 0.290 (plain TF-IDF cosine) ->
0.315, MRR 0.660 -> 0.666, cross-sector recall@10 0.216 -> 0.268. With the mobility signal,
evaluated by 5-fold cross-validation split by source occupation (no source scored by a model that
saw its own mobilities): recall@10 0.444, MRR 0.779, cross-sector recall@10 0.493 (issue 19; the
30-nearest-neighbour share used before gave 0.423, 0.763, 0.474). The mobility signal's ridge,
weight and kernel were picked on those same cross-validated figures (plateaus: 0.433-0.438 for
ridge 0.5-2 and weight 1.5-3 on the content kernel; 0.442-0.444 with the family at 0.15-0.5 in the
kernel; grids in docs/bridges.md). Coverage is reported beside the score, not mixed in.

``f_domain``, ``f_family`` and ``f_sectors`` are computed but weigh 0 by default: they raised
recall@10 by 0.008 only, and the calibrated labels (matching/calibration.py) take same-domain pairs
as the moves professionals make — a score that contains the domain would calibrate on itself
(random pairs labelled viable rose from 5% to 8% with them).

Without a referential context (a space built from matrices alone) only ``f_skills`` is used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from .errors import MatchingError
from .space import SkillSpace, l2_normalise

MODEL_VERSION: str = "4"
"""Bumped whenever the formula changes, so that cached bridge matrices are rebuilt (and the labels
cached under the same key: "3" when the core support learnt held and close skills, issue 19; "4"
when the mobility signal became a kernel ridge regression)."""

GROUP_RELATED: float = 0.6
"""Kernel value of two different skills of one macro-competence (know-how, soft skills)."""
RELATED_MIN: float = 0.5
"""Kernel value (:meth:`BridgeModel.related`) from which a held skill supports a needed one: the one
floor of "related" for the passerelles' explanations, the gaps and the calibrated core support."""


@dataclass(frozen=True)
class BridgeWeights:
    """Weights of the signals of the bridge score (see the module docstring)."""

    skills: float = 1.0
    words: float = 0.35
    groups: float = 0.2
    titles: float = 0.35
    domain: float = 0.0
    family: float = 0.0
    sectors: float = 0.0
    mobility: float = 2.0
    ridge: float = 1.0
    kernel_family: float = 0.3

    def signals(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("ridge", "kernel_family")}

    def kernel(self, signals: dict[str, np.ndarray]) -> np.ndarray:
        """(n, n) float32 kernel of the mobility signal: the content score, with the family signal
        (same parent fiche) at ``kernel_family`` — the mobilities of a's sibling fiches count more in
        a's vote than those of as similar an occupation of another family. Only the vote: the
        content part of the score keeps the family out (docstring above, on the calibration)."""
        return weighted_mean({k: v for k, v in signals.items() if k != "mobility"},
                             {**self.signals(), "family": self.kernel_family})


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float32)


def gram(rows: sp.sparray) -> np.ndarray:
    """(n, n) float32 ``rows @ rows.T`` of a CSR matrix, written straight into a dense array.

    scikit-learn's sparse x sparse -> dense kernel (``safe_sparse_dot(..., dense_output=True)``)
    skips scipy's sparse result, which costs 7x more here (all-pairs of ROME: 7 ms vs 53 ms)."""
    # imported here, not with the module: scikit-learn costs ~60 MB of resident memory at import, and
    # most importers of this module (the gaps, an LHEO import) never build a Gram matrix
    from sklearn.utils.extmath import safe_sparse_dot

    m = sp.csr_array(rows, dtype=np.float32)
    return np.asarray(safe_sparse_dot(m, m.T, dense_output=True), dtype=np.float32)


def cosine_matrix(space: SkillSpace) -> np.ndarray:
    """(n, n) float32 cosine of every pair of occupation vectors."""
    out = gram(space.vectors)
    return np.clip(out, 0.0, 1.0, out=out)


def coverage_matrix(space: SkillSpace) -> np.ndarray:
    """(n, n) float32: [a, b] = share of b's weighted skills that a holds (exact skills)."""
    held = space.raw.copy()
    held.data = np.ones_like(held.data)
    totals = np.asarray(space.raw.sum(axis=1)).ravel().astype(np.float32)
    totals[totals == 0] = 1.0
    covered = _dense(held @ space.raw.T)  # [a, b] = sum_s held(a,s) w(b,s)
    return np.clip(covered / totals[None, :], 0.0, 1.0)


def _cos(rows: sp.csr_array) -> np.ndarray:
    out = gram(l2_normalise(sp.csr_array(rows, dtype=np.float32)))
    return np.clip(out, 0.0, 1.0, out=out)


def content_signals(space: SkillSpace) -> dict[str, np.ndarray]:
    """The (n, n) float32 content signals in [0, 1] (names of :class:`BridgeWeights`)."""
    out = {"skills": cosine_matrix(space)}
    ctx = space.context
    if ctx is None:
        return out
    out["words"] = _cos(space.raw @ ctx.skill_words)
    g = ctx.skill_groups
    has = g >= 0
    if has.any():
        incidence = sp.csr_array((np.ones(int(has.sum()), dtype=np.float32), (np.flatnonzero(has), g[has])),
                                 shape=(len(g), int(g.max()) + 1))
        out["groups"] = _cos(space.raw @ incidence)
    if ctx.titles.shape[1]:
        out["titles"] = np.clip(gram(ctx.titles), 0.0, 1.0)
    dom = np.asarray(["" if d is None else str(d) for d in ctx.domains], dtype=object)
    known = dom != ""
    out["domain"] = ((dom[:, None] == dom[None, :]) & known[:, None]).astype(np.float32)
    out["family"] = (ctx.families[:, None] == ctx.families[None, :]).astype(np.float32)
    if ctx.sectors.shape[1]:
        m = ctx.sectors.astype(np.float32)
        inter = m @ m.T
        size = m.sum(axis=1)
        union = size[:, None] + size[None, :] - inter
        out["sectors"] = np.where(union > 0, inter / np.maximum(union, 1.0), 0.0).astype(np.float32)
    return out


def weighted_mean(signals: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """sum_i w_i f_i / sum_i w_i over the signals present with a positive weight; float32 in [0, 1]."""
    used = [(weights[name], f) for name, f in signals.items() if weights.get(name, 0.0) > 0]
    total = sum(w for w, _ in used)
    out = np.zeros_like(next(iter(signals.values())), dtype=np.float32)
    for w, f in used:
        out += np.float32(w / total) * f
    return np.clip(out, 0.0, 1.0)


def mobility_signal(content: np.ndarray, sources: np.ndarray, targets: np.ndarray, *,
                    ridge: float = 1.0) -> np.ndarray:
    """(n, n) float32 in [0, 1]: [a, b] = kernel ridge regression of "a lists b among its official
    mobilities" on the occupations that carry mobilities, the content score as the kernel.

    With ``R`` the rows of ``sources`` (occupations whose mobilities are known), ``Y`` (|R|, n) their
    0/1 mobility rows and ``K = content[R][:, R]``::

        mobility(a, .) = content[a, R] @ (K + ridge * I)^-1 @ Y

    a vote of the known sources on b, each weighted by its content similarity to a and discounted
    where several near-identical sources would otherwise vote many times (what the plain
    nearest-neighbour share, the signal before, could not do). The content score is a weighted mean
    of cosines, so ``K`` is positive semi-definite and ``K + ridge * I`` invertible for ridge > 0.

    A source is never scored from its own mobilities: a row of ``sources`` gets its exact
    leave-one-out prediction ``(y_hat_a - h_aa y_a) / (1 - h_aa)`` with ``H = K (K + ridge I)^-1``;
    a row left out of ``sources`` (a held-out fold, cross-validation) has none to use anyway."""
    content = np.asarray(content, dtype=np.float32)
    n = content.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    src = np.unique(sources)
    if not len(src) or ridge <= 0:
        return np.zeros((n, n), dtype=np.float32)
    y = sp.csr_array((np.ones(len(sources), dtype=np.float32), (np.searchsorted(src, sources),
                      np.asarray(targets, dtype=np.int64))), shape=(len(src), n))
    y.sum_duplicates()
    y.data = np.minimum(y.data, 1.0)
    kernel = content[np.ix_(src, src)]
    kernel = (kernel + kernel.T) / 2.0 + np.float32(ridge) * np.eye(len(src), dtype=np.float32)
    # one Cholesky factorisation and its inverse (LAPACK potrf + potri, float32: the eigenvalues of
    # K + ridge I are >= ridge, so the inverse is well conditioned), then sparse products only
    factor, info = lapack.spotrf(kernel, lower=1, clean=1)
    if info == 0:
        inverse, info = lapack.spotri(factor, lower=1)
    if info != 0:
        raise MatchingError(f"the mobility kernel (content score + {ridge} I) is not positive definite "
                            f"(LAPACK info {info}); expected a weighted mean of cosines")
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    alpha = np.asarray((y.T @ inverse).T, dtype=np.float32)  # (|R|, n) = (K + ridge I)^-1 Y
    out = np.empty((n, n), dtype=np.float32)
    others = np.setdiff1d(np.arange(n), src)
    if len(others):  # rows without mobilities of their own (a held-out fold)
        out[others] = content[np.ix_(others, src)] @ alpha
    # rows with mobilities: K alpha = (K + ridge I - ridge I) alpha = Y - ridge alpha (no product),
    # then the exact leave-one-out: H = K (K + ridge I)^-1 = I - ridge (K + ridge I)^-1
    fitted = y.toarray() - np.float32(ridge) * alpha
    h = (1.0 - ridge * np.diag(inverse)).astype(np.float32)
    out[src] = (fitted - h[:, None] * y.toarray()) / np.maximum(1.0 - h, 1e-6)[:, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def mobility_rows(referentiel) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) int64 row indices of a referential's official mobilities (duck-typed)."""
    index = referentiel.occupation_index
    mob = referentiel.mobilities
    return (np.asarray([index[c] for c in mob["occupation"].to_list()], dtype=np.int64),
            np.asarray([index[c] for c in mob["target"].to_list()], dtype=np.int64))


@dataclass(frozen=True, eq=False)
class BridgeModel:
    """Bridge scores of every pair of occupations of a :class:`SkillSpace`; ``fit`` once, query many.

    Attributes:
        space:    the skill space
        weights:  the :class:`BridgeWeights`
        signals:  name -> (n, n) float32 signal in [0, 1] (``mobility`` present only when fitted
                  with mobilities)
    """

    space: SkillSpace
    weights: BridgeWeights = field(default_factory=BridgeWeights)
    signals: dict = field(default_factory=dict, repr=False)
    trained_on_mobilities: bool = False

    @classmethod
    def fit(cls, space: SkillSpace, mobilities: tuple[np.ndarray, np.ndarray] | None = None,
            weights: BridgeWeights | None = None) -> "BridgeModel":
        """Build every signal once.

        Args:
            space: a :class:`SkillSpace` (its ``context`` adds the signals beyond skill cosine)
            mobilities: optional (sources, targets) int row arrays of official mobilities, to learn
                the ``mobility`` signal from; None (default) keeps the score content-only
        """
        weights = weights or BridgeWeights()
        signals = content_signals(space)
        if mobilities is not None and len(mobilities[0]):
            signals["mobility"] = mobility_signal(weights.kernel(signals), mobilities[0], mobilities[1],
                                                  ridge=weights.ridge)
        return cls(space=space, weights=weights, signals=signals, trained_on_mobilities="mobility" in signals)

    @classmethod
    def from_arrays(cls, space: SkillSpace, arrays: dict[str, np.ndarray], *, weights: BridgeWeights | None = None,
                    trained_on_mobilities: bool = False) -> "BridgeModel":
        """Rebuild a fitted model from :meth:`arrays` (e.g. read back from a cache keyed by
        :meth:`key`): ``matrix``, ``similarity`` and ``coverage``, each (n, n) float32."""
        n = space.shape[0]
        for name in ("matrix", "similarity", "coverage"):
            if np.shape(arrays.get(name)) != (n, n):
                raise ValueError(f"expected a ({n}, {n}) array {name!r}; found {np.shape(arrays.get(name))}")
        model = cls(space=space, weights=weights or BridgeWeights(),
                    signals={"skills": np.asarray(arrays["similarity"], dtype=np.float32)},
                    trained_on_mobilities=trained_on_mobilities)
        model.__dict__["matrix"] = np.asarray(arrays["matrix"], dtype=np.float32)
        model.__dict__["similarity_matrix"] = model.signals["skills"]
        model.__dict__["coverage_matrix"] = np.asarray(arrays["coverage"], dtype=np.float32)
        return model

    def arrays(self) -> dict[str, np.ndarray]:
        """What :meth:`from_arrays` needs: the score, similarity and coverage matrices."""
        return {"matrix": self.matrix, "similarity": self.similarity_matrix, "coverage": self.coverage_matrix}

    @staticmethod
    def key(weights: BridgeWeights | None = None, trained_on_mobilities: bool = False) -> str:
        """A short stable key of the formula (version, weights, learned or not), for caches."""
        text = repr((MODEL_VERSION, weights or BridgeWeights(), trained_on_mobilities))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def from_referentiel(cls, referentiel, space: SkillSpace | None = None, *, learn_mobilities: bool = True,
                         weights: BridgeWeights | None = None) -> "BridgeModel":
        """``fit`` on a ``referentiels.Referentiel`` (duck-typed): its space (built when not given)
        and, when ``learn_mobilities`` and it has some, its official mobilities."""
        space = space if space is not None else SkillSpace.from_referentiel(referentiel)
        pairs = mobility_rows(referentiel) if learn_mobilities else None
        return cls.fit(space, mobilities=pairs if pairs is not None and len(pairs[0]) else None, weights=weights)

    def with_mobilities(self, sources: np.ndarray, targets: np.ndarray) -> "BridgeModel":
        """The same content signals plus a ``mobility`` signal learned from these pairs only."""
        signals = {k: v for k, v in self.signals.items() if k != "mobility"}
        if set(signals) == {"skills"} and self.space.context is not None:  # rebuilt from arrays
            signals = content_signals(self.space)
        signals["mobility"] = mobility_signal(self.weights.kernel(signals), sources, targets, ridge=self.weights.ridge)
        return BridgeModel(space=self.space, weights=self.weights, signals=signals, trained_on_mobilities=True)

    @property
    def learned(self) -> bool:
        """True when the score uses official mobilities (evaluate it with cross-validation)."""
        return self.trained_on_mobilities

    @cached_property
    def similarity_matrix(self) -> np.ndarray:
        """(n, n) float32 cosine(a, b) of the skill vectors, in [0, 1], symmetric."""
        return self.signals["skills"] if "skills" in self.signals else cosine_matrix(self.space)

    @cached_property
    def coverage_matrix(self) -> np.ndarray:
        """(n, n) float32 coverage(a -> b) in [0, 1]: share of b's weighted skills a holds."""
        return coverage_matrix(self.space)

    @cached_property
    def matrix(self) -> np.ndarray:
        """(n, n) float32 bridge(a -> b) in [0, 1] (the weighted mean of the signals)."""
        return weighted_mean(self.signals, self.weights.signals())

    def scores_from(self, a: int) -> np.ndarray:
        """(n,) float32 bridge(a -> b) for every occupation b."""
        return self.matrix[a]

    def similarity(self, a: int, b: int) -> float:
        return float(self.similarity_matrix[a, b])

    def coverage(self, a: int, b: int) -> float:
        return float(self.coverage_matrix[a, b])

    def related(self, need: np.ndarray, held: np.ndarray) -> np.ndarray:
        """(len(need), len(held)) float32 skill-to-skill kernel in [0, 1] between skill columns.

        kernel(t, s) = max(word cosine of their labels, GROUP_RELATED if one macro-competence);
        1 on identical skills."""
        need = np.asarray(need, dtype=np.int64)
        held = np.asarray(held, dtype=np.int64)
        out = (need[:, None] == held[None, :]).astype(np.float32)
        ctx = self.space.context
        if ctx is None or not len(need) or not len(held):
            return out
        w = ctx.skill_words
        a, words_a = _gather_rows(w, need)
        b, words_b = _gather_rows(w, held)
        common, ia, ib = np.intersect1d(words_a, words_b, assume_unique=True, return_indices=True)
        if len(common):
            out = np.maximum(out, a[:, ia] @ b[:, ib].T)
        g = ctx.skill_groups
        same = (g[need][:, None] == g[held][None, :]) & (g[need][:, None] >= 0)
        out = np.where(same, np.maximum(out, GROUP_RELATED), out)
        return np.clip(out, 0.0, 1.0).astype(np.float32)


def _gather_rows(m: sp.csr_array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a CSR matrix as a small dense (len(rows), n_used) array over the sorted columns used."""
    starts, ends = m.indptr[rows], m.indptr[rows + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros((len(rows), 0), dtype=np.float32), np.zeros(0, dtype=m.indices.dtype)
    owner = np.repeat(np.arange(len(rows)), lengths)
    pos = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    cols, local = np.unique(m.indices[pos], return_inverse=True)
    dense = np.zeros((len(rows), len(cols)), dtype=np.float32)
    dense[owner, local.ravel()] = m.data[pos]
    return dense, cols
