"""Calibrated bridge labels: ``highly viable``, ``viable``, ``stretch`` — thresholds read off the referential.

No magic numbers on the score: the thresholds are found where the bridge score separates pairs of
occupations of one professional domain (moves professionals do make) from random pairs.

For a score threshold ``t``::

    TPR(t) = share of same-domain pairs (a != b, same ``domain``) with bridge(a -> b) >= t
    FPR(t) = share of random pairs (a != b, any)                  with bridge(a -> b) >= t
    LR(t)  = TPR(t) / FPR(t)      the tail likelihood ratio: how many times likelier a pair
                                  reaching t is to be a same-domain pair than a random one

``viable`` is the smallest ``t`` with ``LR(t) >= 10`` and ``highly viable`` the smallest with
``LR(t) >= 30`` (Jeffreys' "strong" and "very strong" evidence). Below ``viable``: ``stretch``.
When a referential cannot reach a ratio (LR is bounded by 1 / the share of same-domain pairs), the
level used is the geometric mean of the level below (1 for ``viable``) and the highest ratio
reached, and the calibration says so (``capped``).

**Core support.** ``core_support(a -> b)`` is the share of the target's weighted *core* skills that
the source supports. Since issue 19 the explanations split the target's skills into *held* (the
same skill, or one that contains it: ``matching.relation``), *close* (related only: same skill
group — the macro-competence in ROME — or label words alike) and missing; the core support counts
a held core skill in full and a close one for ``CLOSE_WEIGHT`` (one half: possibly quick to
acquire, not held). Without the relation (``held`` None) every related skill counts in full, as
before. A bridge is never ``viable`` (nor better) when its core support is 0 — none of the
target's core skills is held or close — or below ``min_core_support``: the 10th percentile of core
support among same-domain pairs that the score alone would call viable (a viable bridge supports
at least as much of its target's core as 90% of viable moves within a domain do). On ROME v460,
counting held core skills only would leave 40% of the official mobilities with no support at all
(against 6%), and label 52% of them viable instead of 64%: a close skill is evidence of reach.

Pure: numpy / scipy only; the random pairs are all ordered pairs when there are at most
``max_pairs`` of them (exact, no randomness), else a sample drawn with a fixed seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from .bridges import GROUP_RELATED, RELATED_MIN  # the bridge model's kernel: one macro-competence at 0.6; "related" from 0.5
from .gaps import held_support_for
from .relation import SkillRelation

LABELS: tuple[str, ...] = ("stretch", "viable", "highly viable")
"""Labels from the weakest to the strongest; ``LABELS.index(label)`` orders them."""
LIKELIHOOD_RATIOS: tuple[float, float] = (10.0, 30.0)
CORE_QUANTILE: float = 0.10
CLOSE_WEIGHT: float = 0.5
"""Share of a close (related, not held) core skill's weight that counts as core support."""
MAX_PAIRS: int = 4_000_000


def label_rank(label: str) -> int:
    """0 for stretch, 1 for viable, 2 for highly viable; ``ValueError`` naming the labels otherwise."""
    try:
        return LABELS.index(label)
    except ValueError:
        raise ValueError(f"unknown bridge label {label!r}; expected one of {', '.join(LABELS)}") from None


# ---- core support -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CoreSupport:
    """Share of each target's weighted core skills that each source supports (held or related).

    Attributes:
        matrix: (n_occupations, n_occupations) float32 in [0, 1], [a, b] = core_support(a -> b);
                1.0 when b has no core skill (nothing to support).
        unsupported: (n, n) int32, [a, b] = number of b's core skills a supports in no way.
    """

    matrix: np.ndarray
    unsupported: np.ndarray

    @classmethod
    def fit(cls, space, groups: np.ndarray | None = None, kernel: sp.sparray | None = None,
            threshold: float = 0.0, words: sp.sparray | None = None, related_min: float = RELATED_MIN,
            held: sp.sparray | None = None, close_weight: float = CLOSE_WEIGHT) -> "CoreSupport":
        """Build from a :class:`~matching.space.SkillSpace` (``raw`` weights, ``core`` flags).

        A skill ``s`` of the source supports a target skill ``t`` when ``s == t`` or they are *related*:
            groups: (n_skills,) int group id (negative: no group) — same group;
            words:  (n_skills, n_words) L2-normalised rows — cosine of the two rows >= ``related_min``
                    (the bridge model's soft kernel, ``space.context.skill_words``);
            kernel: (n_skills, n_skills) sparse similarity — ``kernel[t, s] > threshold``.
        ``held``: (n_skills, n_skills) bool, ``[s, t]`` when s makes t held (``SkillRelation.
        held_support``); then a related skill that is not held counts ``close_weight`` of its weight.
        Only the target skills that are core somewhere are expanded (a tenth of ROME's skills).
        """
        raw = sp.csr_array(space.raw, dtype=np.float32)
        has = raw.copy()
        has.data = np.ones_like(has.data)
        core = sp.csr_array(space.core, dtype=np.float32)
        core_w = sp.csr_array(core.multiply(raw))  # weight of each core link
        core_w.eliminate_zeros()
        cols = np.unique(core_w.indices)
        n_skills = raw.shape[1]
        core_w = sp.csr_array(core_w[:, cols])
        core_b = core_w.copy()
        core_b.data = np.ones_like(core_b.data)
        total_w = np.asarray(core_w.sum(axis=1)).ravel()
        total_n = np.asarray(core_b.sum(axis=1)).ravel()

        # reach[t, s] = 1 when held skill s supports core skill cols[t]
        reach = sp.csr_array((np.ones(len(cols), dtype=np.float32), (np.arange(len(cols)), cols)),
                             shape=(len(cols), n_skills))
        if groups is not None:
            g = _group_incidence(np.asarray(groups))
            reach = reach + sp.csr_array(g[cols] @ g.T)
        if words is not None:
            w = sp.csr_array(words, dtype=np.float32)
            near = sp.csr_array(w[cols] @ w.T)
            near.data = (near.data >= related_min - 1e-6).astype(np.float32)
            reach = reach + near
        if kernel is not None:
            k = sp.csr_array(kernel, dtype=np.float32)[cols]
            k.data = (k.data > threshold).astype(np.float32)
            reach = reach + k
        exact = sp.csr_array((np.ones(len(cols), dtype=np.float32), (np.arange(len(cols)), cols)),
                             shape=(len(cols), n_skills))
        strong = None
        if held is not None:  # reach_held[t, s] = 1 when s makes core column cols[t] held
            strong = sp.csr_array(sp.csr_array(sp.csc_array(held, dtype=np.float32)[:, cols]).T) + exact
            reach = reach + strong
        reach = sp.csr_array(reach)
        reach.data = (reach.data > 0).astype(np.float32)
        reach.eliminate_zeros()

        def supported_by(r: sp.csr_array) -> sp.csr_array:
            out = sp.csr_array(has @ r.T)  # (n, n_core_cols): a supports core column t
            out.data = (out.data > 0).astype(np.float32)
            return out

        supported = supported_by(reach)
        sup_w = _dense(supported @ core_w.T)
        sup_n = _dense(supported @ core_b.T)
        if strong is not None:
            strong.data = (strong.data > 0).astype(np.float32)
            sup_w = close_weight * sup_w + (1.0 - close_weight) * _dense(supported_by(strong) @ core_w.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total_w[None, :] > 0, sup_w / np.where(total_w > 0, total_w, 1.0)[None, :], 1.0)
        share = np.clip(share, 0.0, 1.0).astype(np.float32)
        unsupported = np.maximum(total_n[None, :] - np.rint(sup_n), 0).astype(np.int32)
        return cls(matrix=share, unsupported=unsupported)

    def from_(self, a: int) -> np.ndarray:
        """(n,) float32 core_support(a -> every b)."""
        return self.matrix[a]


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float64)


def _group_incidence(groups: np.ndarray) -> sp.csr_array:
    """(n_skills, n_groups) one-hot of each skill's group; a negative id is a group of its own."""
    groups = np.asarray(groups).ravel()
    if not np.issubdtype(groups.dtype, np.integer):
        _, groups = np.unique(groups.astype(str), return_inverse=True)
    groups = groups.astype(np.int64)
    alone = groups < 0
    top = int(groups.max()) + 1 if len(groups) and groups.max() >= 0 else 0
    groups = groups.copy()
    groups[alone] = top + np.arange(int(alone.sum()))
    _, ids = np.unique(groups, return_inverse=True)
    return sp.csr_array((np.ones(len(ids), dtype=np.float32), (np.arange(len(ids)), ids.ravel())),
                        shape=(len(ids), int(ids.max()) + 1 if len(ids) else 0))


# ---- the calibration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Score thresholds and the core-support floor, with the figures they were read from."""

    viable: float
    highly_viable: float
    min_core_support: float
    likelihood_ratios: tuple[float, float] = LIKELIHOOD_RATIOS
    reference: dict = field(default_factory=dict)

    def labels(self, scores: np.ndarray, core_support: np.ndarray) -> np.ndarray:
        """(…) int8 label ranks (0 stretch, 1 viable, 2 highly viable) of arrays of the same shape."""
        scores = np.asarray(scores)
        support = np.asarray(core_support)
        ok = (support > 0) & (support >= self.min_core_support)
        rank = np.where(scores >= self.viable, 1, 0) + np.where(scores >= self.highly_viable, 1, 0)
        return np.where(ok, rank, 0).astype(np.int8)

    def label(self, score: float, core_support: float) -> str:
        return LABELS[int(self.labels(np.array([score]), np.array([core_support]))[0])]

    def to_dict(self) -> dict:
        return asdict(self)


def _pairs(mask_fn, n: int, max_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if n * (n - 1) <= max_pairs:
        a, b = np.nonzero(mask_fn())
        return a, b
    a = rng.integers(0, n, size=max_pairs)
    b = rng.integers(0, n - 1, size=max_pairs)
    b = b + (b >= a)  # never a == b
    return a, b


def calibrate(scores: np.ndarray, domains: np.ndarray, core_support: np.ndarray, *,
              likelihood_ratios: tuple[float, float] = LIKELIHOOD_RATIOS, core_quantile: float = CORE_QUANTILE,
              max_pairs: int = MAX_PAIRS, seed: int = 0) -> Calibration:
    """Thresholds from the bridge score matrix of a referential.

    Args:
        scores: (n, n) float32 bridge(a -> b), e.g. ``BridgeModel.matrix``.
        domains: (n,) professional domain of each occupation (any hashable values; None = unknown).
        core_support: (n, n) float32, ``CoreSupport.matrix``.
    """
    scores = np.asarray(scores, dtype=np.float32)
    n = scores.shape[0]
    if scores.shape != (n, n) or np.shape(core_support) != (n, n) or len(domains) != n:
        raise ValueError(f"expected scores and core_support of shape (n, n) and domains of length n; "
                         f"found {scores.shape}, {np.shape(core_support)}, {len(domains)}")
    if n < 3:
        raise ValueError(f"expected at least 3 occupations to calibrate on, found {n}")
    rng = np.random.default_rng(seed)
    dom = np.asarray([("" if d is None else str(d)) for d in domains], dtype=object)
    _, dom_id = np.unique(dom, return_inverse=True)
    known = dom != ""
    ra, rb = _pairs(lambda: ~np.eye(n, dtype=bool), n, max_pairs, rng)
    same_mask = lambda: (dom_id[:, None] == dom_id[None, :]) & known[:, None] & ~np.eye(n, dtype=bool)  # noqa: E731
    sa, sb = np.nonzero(same_mask())
    if len(sa) > max_pairs:
        pick = rng.choice(len(sa), size=max_pairs, replace=False)
        sa, sb = sa[pick], sb[pick]
    if len(sa) == 0:
        raise ValueError("expected occupations sharing a professional domain; found none (no domain column?)")
    random_scores = np.sort(scores[ra, rb])
    same_scores = np.sort(scores[sa, sb])

    # candidate thresholds: the random pairs' quantiles from the median up
    levels = np.linspace(0.5, 1.0, 4001)[:-1]
    # "lower": every candidate is a score that occurs, so a monotone transform of the score
    # moves the thresholds with it and leaves every label unchanged
    grid = np.unique(np.quantile(random_scores, levels, method="lower").astype(np.float32))
    grid = grid[grid > 0]
    tpr = 1.0 - np.searchsorted(same_scores, grid, side="left") / len(same_scores)
    fpr = 1.0 - np.searchsorted(random_scores, grid, side="left") / len(random_scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.where(fpr > 0, tpr / fpr, 0.0)
    max_lr = float(lr.max()) if len(lr) else 0.0
    thresholds, used, capped = [], [], False
    previous = 1.0
    for target in likelihood_ratios:
        level = target
        if max_lr < target:  # out of reach: halfway (geometrically) from the level below to the best
            level, capped = float(np.sqrt(previous * max_lr)), True
        previous = level
        hits = np.nonzero(lr >= level)[0]
        t = float(grid[hits[0]]) if len(hits) else float(random_scores[-1])
        thresholds.append(t)
        used.append(round(level, 3))
    viable, high = thresholds[0], max(thresholds[1], thresholds[0])

    support_same = np.asarray(core_support)[sa, sb]
    viable_same = support_same[scores[sa, sb] >= viable]
    floor = float(np.quantile(viable_same, core_quantile, method="lower")) if len(viable_same) else 0.0

    def at(t: float) -> dict:
        return {"same_domain_pairs_at_or_above": round(float(1 - np.searchsorted(same_scores, t) / len(same_scores)), 4),
                "random_pairs_at_or_above": round(float(1 - np.searchsorted(random_scores, t) / len(random_scores)), 5)}

    reference = {
        "method": "tail likelihood ratio of same-domain vs random pairs of occupations",
        "random_pairs": int(len(random_scores)),
        "random_pairs_exhaustive": bool(n * (n - 1) <= max_pairs),
        "same_domain_pairs": int(len(same_scores)),
        "same_domain_share": round(len(same_scores) / max(n * (n - 1), 1), 5),
        "max_likelihood_ratio": round(max_lr, 2),
        "likelihood_ratio_levels_used": used,
        "capped": capped,
        "viable": at(viable),
        "highly_viable": at(high),
        "core_quantile": core_quantile,
        "seed": seed,
    }
    # thresholds are scores that occur, kept exact (not rounded): a pair at a threshold reaches it
    return Calibration(viable=viable, highly_viable=high, min_core_support=floor,
                       likelihood_ratios=tuple(likelihood_ratios), reference=reference)


@dataclass(frozen=True, eq=False)
class BridgeLabeller:
    """A bridge model, its core support and its calibration: label any bridge ``a -> b``.

    ``BridgeLabeller.fit(model, space, domains, groups=..., kernel=...)`` once per referential;
    ``labels_from(a)`` gives the (n,) int8 label ranks of every bridge from ``a``.
    """

    calibration: Calibration
    support: CoreSupport
    scores: np.ndarray

    @classmethod
    def fit(cls, model, space, domains: np.ndarray, groups: np.ndarray | None = None,
            kernel: sp.sparray | None = None, words: sp.sparray | None = None, held: sp.sparray | None = None,
            **options) -> "BridgeLabeller":
        scores = np.asarray(model.matrix, dtype=np.float32)
        support = CoreSupport.fit(space, groups=groups, kernel=kernel, words=words, held=held)
        return cls(calibration=calibrate(scores, domains, support.matrix, **options), support=support, scores=scores)

    @classmethod
    def from_referentiel(cls, referentiel, model, space, relation=None, **options) -> "BridgeLabeller":
        """Convenience (duck-typed): domains from ``occupations.domain``; skills related as in the
        bridge model's soft kernel and passerelles' explanations — one macro-competence (know-how and
        soft skills; knowledge items' groups such as "Certifications et habilitations" are far too
        broad) or label words at cosine >= ``RELATED_MIN`` (``space.context.skill_words``); held as
        the skill relation says (``relation``: a ``matching.relation.SkillRelation``, built from the
        referential when None and the referential has skills)."""
        domains = np.asarray(referentiel.occupations["domain"].to_list(), dtype=object)
        context = getattr(space, "context", None)
        words = context.skill_words if context is not None else None
        groups = skill_groups(referentiel) if GROUP_RELATED >= RELATED_MIN else None
        held = None
        if context is not None and getattr(model, "related", None) is not None:
            relation = relation if relation is not None else SkillRelation.from_referentiel(referentiel, space)
            held = held_support_for(model, relation, space.raw.shape[1])
        return cls.fit(model, space, domains, groups=groups, words=words, held=held, **options)

    def labels_from(self, a: int) -> np.ndarray:
        return self.calibration.labels(self.scores[a], self.support.matrix[a])

    def label(self, a: int, b: int) -> str:
        return self.calibration.label(float(self.scores[a, b]), float(self.support.matrix[a, b]))

    def figures(self, pairs_a: np.ndarray, pairs_b: np.ndarray) -> dict:
        """Shares of the given pairs (e.g. official mobilities) labelled viable or better, highly viable."""
        ranks = self.calibration.labels(self.scores[pairs_a, pairs_b], self.support.matrix[pairs_a, pairs_b])
        return {"pairs": int(len(ranks)), "viable_or_better": round(float((ranks >= 1).mean()), 4) if len(ranks) else 0.0,
                "highly_viable": round(float((ranks >= 2).mean()), 4) if len(ranks) else 0.0}


def skill_groups(referentiel) -> np.ndarray:
    """(n_skills,) int group ids: the skill's group for savoir-faire / savoir-être, -1 for savoirs."""
    groups = referentiel.skills["group"].to_list()
    kinds = referentiel.skills["kind"].to_list()
    ids: dict[str, int] = {}
    out = np.full(len(groups), -1, dtype=np.int64)
    for i, (g, k) in enumerate(zip(groups, kinds)):
        if g and k != "savoir":
            out[i] = ids.setdefault(g, len(ids))
    return out
