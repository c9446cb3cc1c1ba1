"""Occupations in tension per job basin, and bridges ranked toward tension.

    table = tension_table(offers, seekers)            # polars: basin, occupation, offers, seekers, ...
    t = tension_vector(table, "beauvais", occupation_codes)        # (n_occ,) float64 in (0, 1)
    combined = toward_tension(bridges.scores_from(a), t, weight=0.5)

**Tension** of an occupation in a basin (documented in docs/trainings-format.md): with ``o`` open
offers and ``s`` seekers whose (current or sought) occupation it is, in the basin,

    tension = (o + 1) / (o + s + 2)

the share of offers among offers + seekers with one pseudo-offer and one pseudo-seeker (Laplace
smoothing), in (0, 1): 0.5 is balance (and what an occupation with no data gets), above 0.5 more
offers than seekers. ``offers_per_seeker = o / max(s, 1)`` is reported beside it. An occupation is
**in tension** when ``tension >= TENSION_MIN`` (0.6, i.e. about 1.5 offers per seeker) and it has at
least ``MIN_OFFERS`` (3) offers, so one offer alone never makes a tension.

**Toward tension.** The "safe and desirable" move ranks a bridge by
``score^(1 - weight) x (2 x tension)^weight`` clipped to [0, 1]: a geometric blend where a balanced
target (tension 0.5) keeps its bridge score, a target in tension gains, a saturated one loses; the
bridge score stays the first condition (a zero score stays zero).

Pure polars / numpy over frames with columns ``basin`` and ``occupation`` (one row per seeker or
offer), so it runs the same on the store's frames and on synthetic ones.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .ranking import top_k

TENSION_MIN: float = 0.6
MIN_OFFERS: int = 3

TABLE_SCHEMA = {"basin": pl.String, "occupation": pl.String, "offers": pl.Int64, "seekers": pl.Int64,
                "offers_per_seeker": pl.Float64, "tension": pl.Float64, "in_tension": pl.Boolean}


def tension_of(offers: np.ndarray, seekers: np.ndarray) -> np.ndarray:
    """Elementwise tension ``(o + 1) / (o + s + 2)`` of count arrays (float64, in (0, 1))."""
    o = np.asarray(offers, dtype=np.float64)
    s = np.asarray(seekers, dtype=np.float64)
    return (o + 1.0) / (o + s + 2.0)


def tension_table(offers: pl.DataFrame, seekers: pl.DataFrame, *, basins: list[str] | None = None,
                  occupations: list[str] | None = None) -> pl.DataFrame:
    """Counts and tension per (basin, occupation) present in ``offers`` or ``seekers``.

    ``offers`` / ``seekers``: frames with String columns ``basin`` and ``occupation`` (rows with a
    null basin or occupation are not counted). ``basins`` / ``occupations`` restrict the output
    (and add rows with zero counts for pairs not seen). Sorted by basin, tension desc, occupation.
    """
    def count(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return (frame.select(pl.col("basin").cast(pl.String), pl.col("occupation").cast(pl.String))
                .drop_nulls().group_by("basin", "occupation").len().rename({"len": name})
                .with_columns(pl.col(name).cast(pl.Int64)))

    o, s = count(offers, "offers"), count(seekers, "seekers")
    table = o.join(s, on=["basin", "occupation"], how="full", coalesce=True)
    if basins is not None:
        table = table.filter(pl.col("basin").is_in(basins))
    if occupations is not None:
        table = table.filter(pl.col("occupation").is_in(occupations))
        grid = pl.DataFrame({"basin": [b for b in (basins or table["basin"].unique().to_list()) for _ in occupations],
                             "occupation": [c for _ in (basins or table["basin"].unique().to_list()) for c in occupations]},
                            schema={"basin": pl.String, "occupation": pl.String})
        table = grid.join(table, on=["basin", "occupation"], how="left")
    table = table.with_columns(pl.col("offers").fill_null(0), pl.col("seekers").fill_null(0))
    return (table.with_columns(
        (pl.col("offers") / pl.max_horizontal(pl.col("seekers"), pl.lit(1))).alias("offers_per_seeker"),
        ((pl.col("offers") + 1) / (pl.col("offers") + pl.col("seekers") + 2)).alias("tension"),
    ).with_columns(
        ((pl.col("tension") >= TENSION_MIN) & (pl.col("offers") >= MIN_OFFERS)).alias("in_tension"),
    ).select(list(TABLE_SCHEMA)).cast(TABLE_SCHEMA)
        .sort(["basin", "tension", "occupation"], descending=[False, True, False]))


def tension_vector(table: pl.DataFrame, basin: str, occupation_codes) -> np.ndarray:
    """(n_occ,) float64 tension of each occupation (in ``occupation_codes`` order) in ``basin``;
    0.5 (balance) where the table has no row."""
    codes = pl.DataFrame({"occupation": list(occupation_codes)}, schema={"occupation": pl.String})
    rows = table.filter(pl.col("basin") == basin).select("occupation", "tension")
    return codes.join(rows, on="occupation", how="left", maintain_order="left")["tension"].fill_null(0.5).to_numpy()


def in_tension_rows(table: pl.DataFrame, basin: str, occupation_index: dict[str, int]) -> np.ndarray:
    """Sorted int64 occupation rows in tension in ``basin`` (codes unknown to the index are skipped)."""
    codes = table.filter((pl.col("basin") == basin) & pl.col("in_tension"))["occupation"].to_list()
    return np.asarray(sorted(occupation_index[c] for c in codes if c in occupation_index), dtype=np.int64)


def tension_targets(table: pl.DataFrame, basin: str, occupation_index: dict[str, int], fallback: int = 10
                    ) -> tuple[np.ndarray, str]:
    """Target occupation rows for a basin's training needs, and the rule that chose them.

    The occupations in tension; when there are none, the ``fallback`` most tense among those with
    at least ``MIN_OFFERS`` offers (rule ``"most-tense"``); else nothing (rule ``"none"``).
    """
    rows = in_tension_rows(table, basin, occupation_index)
    if len(rows):
        return rows, "in-tension"
    top = (table.filter((pl.col("basin") == basin) & (pl.col("offers") >= MIN_OFFERS))
           .sort(["tension", "occupation"], descending=[True, False]).head(fallback)["occupation"].to_list())
    rows = np.asarray(sorted(occupation_index[c] for c in top if c in occupation_index), dtype=np.int64)
    return rows, ("most-tense" if len(rows) else "none")


def toward_tension(scores: np.ndarray, tension: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """``score^(1-weight) * (2*tension)^weight`` clipped to [0, 1]; float32 like the scores.

    ``weight`` in [0, 1]: 0 gives the bridge scores unchanged. Monotone in both arguments.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    t = np.clip(np.asarray(tension, dtype=np.float64), 0.0, 1.0)
    return np.clip(s ** (1.0 - weight) * (2.0 * t) ** weight, 0.0, 1.0).astype(np.float32)


def rank_toward_tension(scores: np.ndarray, tension: np.ndarray, k: int, *, mask: np.ndarray | None = None,
                        weight: float = 0.5, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows by ``toward_tension`` among ``mask`` (and bridge score >= ``min_score``).

    Returns (rows (k',) int64, combined (k',) float32), sorted by combined desc, then row (code
    order): the same top-k (``matching.ranking.top_k``) as the plain bridge ranking, on the
    blended value — ``PasserelleIndex.top(..., tension=)`` is this with the index's filters.
    """
    scores = np.asarray(scores, dtype=np.float32)
    combined = toward_tension(scores, tension, weight)
    ok = np.ones(len(combined), dtype=bool) if mask is None else np.asarray(mask, dtype=bool).copy()
    ok &= scores >= np.float32(min_score)
    rows, values = top_k(combined, ok, k)
    return rows.astype(np.int64), values


def rerank_toward_tension(fetch, tension_of, k: int, *, weight: float = 0.5, max_tension: float = 1.0,
                          first: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact top ``k`` by ``toward_tension(score, tension)`` over a ranking only served by score.

    ``fetch(n)`` -> (scores (n',) float, keys (n',) int64): the ``n`` best by score (score desc,
    key asc; ``n' < n`` when there are no more). ``tension_of(keys)`` -> (n',) tension of each.
    ``max_tension``: an upper bound of any tension (the basin table's maximum). Fetches ``first``
    (default ``4k``, at least 32), then four times more while an unfetched item (score at most the
    last fetched one, tension at most ``max_tension``) could still beat the k-th combined value.

    Returns (keys, scores, tension, combined) of the top ``k``, combined desc then key asc.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = max(first or 4 * k, k, 32)
    while True:
        scores, keys = fetch(n)
        scores = np.asarray(scores, dtype=np.float32)
        keys = np.asarray(keys, dtype=np.int64)
        tension = np.asarray(tension_of(keys), dtype=np.float64)
        combined = toward_tension(scores, tension, weight)
        order = np.lexsort((keys, -combined))[:k]
        done = len(scores) < n
        if not done and len(order) == k:
            bound = toward_tension(scores[-1:], np.asarray([max_tension]), weight)[0]
            done = combined[order[-1]] > bound
        if done:
            return keys[order], scores[order], tension[order], combined[order]
        n *= 4


__all__ = ["MIN_OFFERS", "TABLE_SCHEMA", "TENSION_MIN", "in_tension_rows", "rank_toward_tension",
           "rerank_toward_tension", "tension_of", "tension_table", "tension_targets", "tension_vector", "toward_tension"]
