"""Top-k of a score vector under a mask: the one ranking rule of the core.

    rows, values = top_k(scores, mask, k)      # (k',) int64 rows, (k',) scores; score desc, row asc

Rows are in code order, so breaking ties by row breaks them by code: the same input always gives
the same output, whatever the partition algorithm does. Used by the passerelles (bridge ranking,
sector-pair maps), the toward-tension ranking and the graph.

Pure numpy; no I/O.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the ``k`` highest ``scores`` where ``mask``: score desc, then row asc.

    ``scores``: (n,) float; ``mask``: (n,) bool. Returns ((k',) int64 rows, (k',) scores of the
    same dtype), ``k' = min(k, mask.sum())``. Ties at the k-th score are resolved by row (= code
    order), so the result never depends on the partition algorithm."""
    rows = np.flatnonzero(mask)
    if k <= 0 or len(rows) == 0:
        return rows[:0], scores[:0]
    vals = scores[rows]
    if len(rows) > k:
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        keep = vals >= kth
        rows, vals = rows[keep], vals[keep]
    order = np.lexsort((rows, -vals))[:k]
    return rows[order], vals[order]


__all__ = ["top_k"]
