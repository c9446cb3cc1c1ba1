"""Evaluation of a bridge ranking against held-out official mobilities.

For each source occupation ``a`` with at least one official mobility, every other occupation is
ranked by ``scores[a]`` (descending, ties by row = code order, the product's own order) and:

- ``recall@k``  = |mobilities of a in the top k| / |mobilities of a|, averaged over sources
                  (macro; ``micro_recall@k`` pools all mobilities instead);
- ``MRR``       = mean over sources of 1 / rank of the first official mobility;
- ``cross_sector_recall@k``: for the mobilities that leave every activity sector of the source,
  ranking only the occupations that leave every sector of the source (the product's
  ``cross_sector_only`` query), the same recall.

The mobility table is only read here, never by the model being evaluated (unless it is learned:
then :func:`source_folds` gives the 5 folds, split by source occupation, and each source must be
scored by a model fitted without its fold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .bridges import BridgeModel
from .relation import precision_recall
from .space import idf, l2_normalise

KS: tuple[int, ...] = (5, 10, 20)


@dataclass(frozen=True)
class Evaluation:
    """Figures of one ranking. ``per_source_rank``: (n_pairs,) 1-based rank of each mobility."""

    sources: int
    pairs: int
    recall: dict[int, float]
    micro_recall: dict[int, float]
    mrr: float
    cross_sector_pairs: int
    cross_sector_recall: dict[int, float]

    def to_dict(self) -> dict:
        out = {"sources": self.sources, "pairs": self.pairs, "mrr": round(self.mrr, 4)}
        out.update({f"recall@{k}": round(v, 4) for k, v in self.recall.items()})
        out.update({f"micro_recall@{k}": round(v, 4) for k, v in self.micro_recall.items()})
        out["cross_sector_pairs"] = self.cross_sector_pairs
        out.update({f"cross_sector_recall@{k}": round(v, 4) for k, v in self.cross_sector_recall.items()})
        return out


def ranks_of(scores: np.ndarray, a: int, targets: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """1-based ranks of ``targets`` in the ranking of row ``a`` (self excluded; ties by row).

    ``allowed``: (n,) bool of the occupations ranked at all (default all but ``a``)."""
    row = np.asarray(scores[a], dtype=np.float32)
    n = len(row)
    if allowed is None:
        allowed = np.ones(n, dtype=bool)
    allowed = allowed.copy()
    allowed[a] = False
    t = np.asarray(targets, dtype=np.int64)
    s = row[t][:, None]
    cand = np.flatnonzero(allowed)
    cs = row[cand][None, :]
    better = (cs > s) | ((cs == s) & (cand[None, :] < t[:, None]))
    return better.sum(axis=1) + 1


def evaluate(scores: np.ndarray, sources: np.ndarray, targets: np.ndarray,
             membership: np.ndarray | None = None, ks: tuple[int, ...] = KS) -> Evaluation:
    """Recall@k, MRR and cross-sector recall of the mobility pairs ``sources[i] -> targets[i]``.

    Args:
        scores: (n, n) float32 (or any object whose ``[a]`` is the (n,) row of scores from ``a``)
        sources, targets: (n_pairs,) int row indices of the official mobilities
        membership: (n, n_sectors) bool sector membership, for the cross-sector figures (or None)
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    recalls = {k: [] for k in ks}
    hits = {k: 0 for k in ks}
    rr = []
    cross_hits = {k: 0 for k in ks}
    cross_recalls = {k: [] for k in ks}
    cross_pairs = 0
    for a in np.unique(sources):
        t = targets[sources == a]
        r = ranks_of(scores, int(a), t)
        for k in ks:
            recalls[k].append(float((r <= k).mean()))
            hits[k] += int((r <= k).sum())
        rr.append(1.0 / float(r.min()))
        if membership is not None and membership[a].any():
            other = membership.any(axis=1) & ~membership[:, membership[a]].any(axis=1)
            tc = t[other[t]]
            if len(tc):
                rc = ranks_of(scores, int(a), tc, allowed=other)
                cross_pairs += len(tc)
                for k in ks:
                    cross_hits[k] += int((rc <= k).sum())
                    cross_recalls[k].append(float((rc <= k).mean()))
    n_src = len(rr)
    return Evaluation(
        sources=n_src, pairs=int(len(sources)),
        recall={k: float(np.mean(v)) if v else 0.0 for k, v in recalls.items()},
        micro_recall={k: hits[k] / max(len(sources), 1) for k in ks},
        mrr=float(np.mean(rr)) if rr else 0.0,
        cross_sector_pairs=cross_pairs,
        cross_sector_recall={k: cross_hits[k] / max(cross_pairs, 1) for k in ks},
    )


def source_folds(sources: np.ndarray, n_folds: int = 5, seed: int = 0) -> dict[int, int]:
    """Fold id in [0, n_folds) of each distinct *source occupation* row (seeded, balanced)."""
    uniq = np.unique(np.asarray(sources, dtype=np.int64))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(uniq))
    fold = np.empty(len(uniq), dtype=np.int64)
    fold[perm] = np.arange(len(uniq)) % n_folds
    return dict(zip(uniq.tolist(), fold.tolist()))


def tfidf_cosine(links: sp.sparray) -> np.ndarray:
    """(n, n) float32 plain TF-IDF cosine of an occupation x skill link matrix (the reference)."""
    m = sp.csr_array(links, dtype=np.float32)
    v = l2_normalise(sp.csr_array(m * idf(m)[None, :]))
    return np.clip((v @ v.T).toarray(), 0.0, 1.0).astype(np.float32)


def cross_validated_matrix(model, sources: np.ndarray, targets: np.ndarray, n_folds: int = 5,
                           seed: int = 0) -> np.ndarray:
    """(n, n) float32 scores where each source's row comes from ``model.with_mobilities`` fitted on
    the mobilities of the *other* folds only (folds split by source occupation)."""
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    folds = source_folds(sources, n_folds, seed)
    fold_of_pair = np.array([folds[a] for a in sources.tolist()], dtype=np.int64)
    out = np.array(model.matrix, dtype=np.float32, copy=True)
    for f in range(n_folds):
        train = fold_of_pair != f
        held_out = np.array(sorted({a for a, g in folds.items() if g == f}), dtype=np.int64)
        fitted = model.with_mobilities(sources[train], targets[train])
        out[held_out] = fitted.matrix[held_out]
    return out


def evaluate_bridges(space, links: sp.sparray, sources: np.ndarray, targets: np.ndarray,
                     membership: np.ndarray | None = None, n_folds: int = 5, seed: int = 0,
                     weights=None) -> dict[str, Evaluation]:
    """The reference TF-IDF cosine, the skill-space cosine, the content bridge score (mobilities
    hidden) and the learned bridge score (``n_folds``-fold cross-validation split by source)."""
    model = BridgeModel.fit(space, weights=weights)
    out = {"tfidf_cosine": evaluate(tfidf_cosine(links), sources, targets, membership),
           "skill_cosine": evaluate(model.similarity_matrix, sources, targets, membership),
           "bridge_content": evaluate(model.matrix, sources, targets, membership)}
    if len(sources):
        cv = cross_validated_matrix(model, sources, targets, n_folds, seed)
        out["bridge_learned_cv"] = evaluate(cv, sources, targets, membership)
    return out


# ---- which score to serve (issue 19, item 5) -----------------------------------------------------

def learned_beats_content(content: Evaluation, learned_cv: Evaluation, k: int = 10) -> bool:
    """True when the score learned from official mobilities, cross-validated by source, beats the
    content score on both recall@k and MRR (on a referential kept from the engine the learned
    score once lost to plain cosine on MRR, 0.60 against 0.66: then the content score is served)."""
    return learned_cv.recall[k] > content.recall[k] and learned_cv.mrr > content.mrr


def served_choice(model, sources: np.ndarray, targets: np.ndarray, membership: np.ndarray | None = None,
                  n_folds: int = 5, seed: int = 0) -> dict:
    """Which bridge score to serve on a referential: ``{"served": "learned" | "content", "content":
    {...}, "learned_cv": {...} | None, "rule": "..."}``.

    ``model``: a content-only ``BridgeModel`` (its ``with_mobilities`` learns). Without mobilities,
    or with too few sources to cross-validate, the content score is served."""
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    rule = "learned only where its cross-validation beats the content score on recall@10 and MRR"
    content = evaluate(model.matrix, sources, targets, membership)
    if len(np.unique(sources)) < n_folds:
        return {"served": "content", "content": content.to_dict(), "learned_cv": None, "rule": rule}
    learned = evaluate(cross_validated_matrix(model, sources, targets, n_folds, seed), sources, targets, membership)
    return {"served": "learned" if learned_beats_content(content, learned) else "content",
            "content": content.to_dict(), "learned_cv": learned.to_dict(), "rule": rule}


# ---- the held claims of explanations (issue 19, item 3) -------------------------------------------

def evaluate_held_claims(relation, targets: np.ndarray, sources: np.ndarray, labels: np.ndarray,
                         strata: np.ndarray | None = None) -> dict:
    """Precision and recall of the skill relation's *held* on hand-labelled (target <- source) pairs.

    ``targets``, ``sources``: (p,) int skill columns; ``labels``: (p,) 0/1 (1: a person holding the
    source would be said to hold the target); ``strata``: optional (p,) names to break the figures
    down by. ``before`` is the explanations before issue 19, where every such related pair was
    shown as shared (held)."""
    labels = np.asarray(labels, dtype=bool)
    held = relation.holds(np.asarray(targets, dtype=np.int64), np.asarray(sources, dtype=np.int64))
    out = {"after": precision_recall(held, labels), "before": precision_recall(np.ones(len(labels), bool), labels)}
    if strata is not None:
        strata = np.asarray(strata, dtype=object)
        out["by_stratum"] = {str(s): precision_recall(held[strata == s], labels[strata == s])
                             for s in sorted(set(strata.tolist()))}
    return out
