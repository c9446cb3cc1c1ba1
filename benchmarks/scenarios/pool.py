"""Seekers and offers on the full ROME v460: candidate search, offer search, bulk ingest, memory.

Populations come from ``referentiels.synthetic.synthesize`` (seed 0; 5M seekers = five 1M draws
with seeds 0-4 appended to the same index, the incremental bulk path) over the 60 embedded job
basins of ``referentiels.territories``. Every query is a real one: the offer's own location, each
seeker's own radius, consenting seekers only, top-20 by the full score (coverage, bridge,
must-haves, distance). Queries cycle over 500 synthetic offers (seekers for the offer search).

- ``pool_candidates_1m`` / ``pool_candidates_5m``: one offer against 1M / 5M seekers
  (``PoolMatcher.top_candidates``: the numba inverted-index kernel). Targets <= 0.5 ms / <= 10 ms
  p50. How the kernel avoids most of the work (``matching.match._topk``), exactly: the offer's
  skills are walked from the heaviest down; a posting carries its seeker's 1 x 1 degree cell, and
  a cell that cannot hold anyone within reach (lower bound of the distance to the square vs. the
  query's radius or the cell's largest seeker radius) is skipped without touching the seeker; a
  seeker met for the first time is scored exactly from his own skill list; before each skill the
  best score a seeker not yet met could reach (the remaining skills' weight, the best bridge, the
  best must-have factor) is compared with the k-th score, and the walk stops when it cannot win.
  ``tests/unit/test_pool_pruning.py`` checks the top-k against brute force (ties included). Baseline: the plain scipy full scan, (n_seekers x n_skills) binary CSR @ the offer's
  requirement-weight vector, then ``argpartition`` top-20 — coverage only, no distance, no bridge,
  so it does less than ours.
- ``pool_offers_600k``: one seeker against 600k offers (``PoolMatcher.top_offers``), target
  <= 1 ms p50. Baseline: scipy full scan, (n_offers x n_skills) coverage-weight CSR @ the seeker's
  binary skill vector, then ``argpartition``.
- ``pool_ingest_1m``: ``passerelles ingest`` of 1M seekers from Parquet (validation, one SQLite
  transaction, the index fed with the validated rows and their keys, nothing read back), target <= 60 s. Baseline: the bare SQLite part, one
  ``executemany`` of the same rows into a table of the same shape.

Counters (medians over 100 queries; the same on any machine): ``postings_per_query`` in the posting
lists walked, ``in_reach_per_query`` of them whose cell was within reach (the ones that cost a look
at the candidate), ``scored_per_query`` candidates scored, ``bytes_per_seeker`` of the index
(arrays, capacity and query scratch included; the issue's budget is 300 B at 30 skills) and
``skills_per_seeker``. ``--quick``: 20k seekers, 10k offers, 20k ingested, seconds.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

import referentiels
from referentiels.synthetic import synthesize
from referentiels.territories import default_basins

from ..data import rome_dir
from ..harness import scenario

K = 20
N_QUERIES = 500
_MODEL: dict = {}


def _model():
    """ROME, its skill space, bridge model and matcher (built once per process)."""
    if not _MODEL:
        from matching import SkillSpace
        from matching.bridges import BridgeModel
        from matching.match import PoolMatcher

        r = referentiels.load(f"rome:{rome_dir()}")
        space = SkillSpace.from_referentiel(r)
        bridges = BridgeModel.from_referentiel(r, space)
        _MODEL.update(r=r, space=space, bridges=bridges, matcher=PoolMatcher.fit(space, bridges))
    return _MODEL


def _maps(r):
    return (pl.DataFrame({"code": list(r.skill_codes), "col": np.arange(r.n_skills, dtype=np.int32)}),
            pl.DataFrame({"code": list(r.occupation_codes), "col": np.arange(r.n_occupations, dtype=np.int32)}))


def _ptr(rows: np.ndarray, n: int) -> np.ndarray:
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return ptr


def _seeker_arrays(r, frame: pl.DataFrame):
    skill_map, occ_map = _maps(r)
    n = frame.height
    ex = (frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), "skills").explode("skills")
          .join(skill_map, left_on="skills", right_on="code").sort(["row", "col"]))
    oc = (frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
                       pl.concat_list(["occupation", "past_occupations"]).alias("o")).explode("o")
          .with_row_index("i").join(occ_map, left_on="o", right_on="code").sort("i"))
    return (_ptr(ex["row"].to_numpy(), n), ex["col"].to_numpy().astype(np.int64),
            _ptr(oc["row"].to_numpy(), n), oc["col"].to_numpy().astype(np.int64))


def _offer_profiles(r, matcher, offers: pl.DataFrame) -> list:
    out = []
    for o in offers.head(N_QUERIES).iter_rows(named=True):
        out.append(matcher.offer_profile(r.occupation_row(o["occupation"]), [r.skill_column(c) for c in o["must"]],
                                         [r.skill_column(c) for c in o["desired"]], lat=o["lat"], lon=o["lon"]))
    return out


def _setup_candidates(n_seekers: int, chunk: int) -> dict:
    from matching.pool import ProfileIndex

    m = _model()
    r, matcher = m["r"], m["matcher"]
    basins = default_basins()
    index = ProfileIndex(r.n_skills, r.n_occupations)
    blocks = []
    offers = None
    for seed, start in enumerate(range(0, n_seekers, chunk)):
        n = min(chunk, n_seekers - start)
        population = synthesize(r, n, N_QUERIES if offers is None else 0, basins, seed=seed)
        offers = population.offers if offers is None else offers
        s = population.seekers
        skill_ptr, skill_ids, occ_ptr, occ_ids = _seeker_arrays(r, s)
        index.extend(np.arange(start, start + n), skill_ptr, skill_ids, occ_ptr, occ_ids,
                     s["lat"].to_numpy(), s["lon"].to_numpy(), s["radius_km"].to_numpy(), s["consent"].to_numpy())
        blocks.append(sp.csr_array((np.ones(len(skill_ids), dtype=np.float32), skill_ids, skill_ptr),
                                   shape=(n, r.n_skills)))
        del population, s
    matrix = sp.vstack(blocks, format="csr")
    del blocks
    profiles = _offer_profiles(r, matcher, offers)
    queries = []
    for p in profiles:  # the baseline's dense query: the offer's coverage weight per skill
        q = np.zeros(r.n_skills, dtype=np.float32)
        q[p.skills] = p.cov
        queries.append(q)
    return {"matcher": matcher, "index": index, "matrix": matrix, "n": n_seekers,
            "ours_next": itertools.cycle(profiles).__next__, "base_next": itertools.cycle(queries).__next__,
            "profiles": profiles}


def _full_scan(matrix: sp.csr_array, q: np.ndarray) -> np.ndarray:
    scores = matrix @ q
    top = np.argpartition(-scores, K)[:K]
    return top[np.lexsort((top, -scores[top]))]


def _candidate_counters(ctx: dict) -> dict[str, float]:
    matcher, index = ctx["matcher"], ctx["index"]
    postings, scored, reach = [], [], []
    for p in ctx["profiles"][:100]:
        matcher.top_candidates(index, p, k=K)
        postings.append(matcher.last_stats.postings)
        scored.append(matcher.last_stats.scored)
        reach.append(matcher.last_stats.in_reach)
    return {"postings_per_query": float(np.median(postings)), "in_reach_per_query": float(np.median(reach)),
            "scored_per_query": float(np.median(scored)),
            "bytes_per_seeker": round(index.nbytes() / len(index), 1),
            "skills_per_seeker": round(float(index.skills.length[:index.n_slots].mean()), 2)}


def _ours_candidates(ctx: dict):
    return ctx["matcher"].top_candidates(ctx["index"], ctx["ours_next"](), k=K)


def _base_candidates(ctx: dict):
    return _full_scan(ctx["matrix"], ctx["base_next"]())


def _setup_1m(quick: bool) -> dict:
    return _setup_candidates(20_000 if quick else 1_000_000, 1_000_000)


def _setup_5m(quick: bool) -> dict:
    return _setup_candidates(40_000 if quick else 5_000_000, 20_000 if quick else 1_000_000)


scenario(name="pool_candidates_1m", ours=_ours_candidates, baseline=_base_candidates,
         baseline_name="scipy full scan: seekers CSR @ offer weights + argpartition (coverage only)",
         target="<= 0.5 ms p50 (1M seekers, top-20)", repeats=201, quick_repeats=41,
         counters=_candidate_counters, alloc=False)(_setup_1m)
scenario(name="pool_candidates_5m", ours=_ours_candidates, baseline=_base_candidates,
         baseline_name="scipy full scan: seekers CSR @ offer weights + argpartition (coverage only)",
         target="<= 10 ms p50 (5M seekers, top-20)", repeats=101, quick_repeats=21,
         counters=_candidate_counters, alloc=False)(_setup_5m)


# ---- one seeker against 600k offers --------------------------------------------------------------

def _setup_offers(quick: bool) -> dict:
    from matching.pool import ProfileIndex

    m = _model()
    r, matcher = m["r"], m["matcher"]
    n = 10_000 if quick else 600_000
    population = synthesize(r, N_QUERIES, n, default_basins(), seed=7)
    skill_map, occ_map = _maps(r)
    o = population.offers
    both = (o.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
                     pl.concat_list(["must", "desired"]).alias("s"), pl.col("must").list.len().alias("n_must"))
            .with_columns(pl.int_ranges(pl.col("s").list.len()).alias("pos")).explode(["s", "pos"])
            .join(skill_map, left_on="s", right_on="code").with_columns((pl.col("pos") < pl.col("n_must")).alias("m"))
            .sort(["row", "col"]))
    owner = both["row"].to_numpy()
    cols = both["col"].to_numpy().astype(np.int64)
    cov, must = matcher.offer_weights(owner, cols, both["m"].to_numpy(), n)
    occ = o.select(pl.col("occupation")).join(occ_map, left_on="occupation", right_on="code", maintain_order="left")
    index = ProfileIndex(r.n_skills, r.n_occupations, weighted=True)
    index.extend(np.arange(n), _ptr(owner, n), cols, np.arange(n + 1), occ["col"].to_numpy().astype(np.int64),
                 o["lat"].to_numpy(), o["lon"].to_numpy(), np.full(n, np.nan), np.ones(n, dtype=bool), cov=cov, must=must)
    matrix = sp.csr_array((cov, cols, _ptr(owner, n)), shape=(n, r.n_skills))
    s = population.seekers
    skill_ptr, skill_ids, occ_ptr, occ_ids = _seeker_arrays(r, s)
    seekers = []
    vectors = []
    for i in range(s.height):
        skills = skill_ids[skill_ptr[i]:skill_ptr[i + 1]]
        seekers.append(matcher.seeker_profile(skills, occ_ids[occ_ptr[i]:occ_ptr[i + 1]], lat=s["lat"][i],
                                              lon=s["lon"][i], radius_km=s["radius_km"][i]))
        v = np.zeros(r.n_skills, dtype=np.float32)
        v[skills] = 1.0
        vectors.append(v)
    return {"matcher": matcher, "index": index, "matrix": matrix, "seekers": seekers,
            "ours_next": itertools.cycle(seekers).__next__, "base_next": itertools.cycle(vectors).__next__}


def _offer_counters(ctx: dict) -> dict[str, float]:
    matcher, index = ctx["matcher"], ctx["index"]
    postings, scored, reach = [], [], []
    for s in ctx["seekers"][:100]:
        matcher.top_offers(index, s, k=K)
        postings.append(matcher.last_stats.postings)
        scored.append(matcher.last_stats.scored)
        reach.append(matcher.last_stats.in_reach)
    return {"postings_per_query": float(np.median(postings)), "in_reach_per_query": float(np.median(reach)),
            "scored_per_query": float(np.median(scored)),
            "offers": len(index)}


scenario(name="pool_offers_600k", ours=lambda c: c["matcher"].top_offers(c["index"], c["ours_next"](), k=K),
         baseline=lambda c: _full_scan(c["matrix"], c["base_next"]()),
         baseline_name="scipy full scan: offers CSR @ seeker skills + argpartition (coverage only)",
         target="<= 1 ms p50 (600k offers, top-20)", repeats=201, quick_repeats=41,
         counters=_offer_counters, alloc=False)(_setup_offers)


# ---- bulk ingest ---------------------------------------------------------------------------------

def _setup_ingest(quick: bool) -> dict:
    m = _model()
    n = 20_000 if quick else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="passerelles-bench-"))
    paths = synthesize(m["r"], n, 0, default_basins(), seed=11).write(folder)
    return {"folder": folder, "path": paths["seekers"], "n": n, "runs": itertools.count()}


def _ours_ingest(ctx: dict) -> int:
    from api.services.pool_service import Pool, load_basins, read_records
    from api.storage.store import Store
    from matching.normalise import SkillNormaliser

    m = _model()
    db = ctx["folder"] / f"ours-{next(ctx['runs'])}.sqlite3"
    frame, first = read_records(ctx["path"])
    store = Store(db)
    pool = Pool(store, m["r"], m["space"], m["bridges"], skill_normaliser=lambda: _normaliser(SkillNormaliser),
                basins=load_basins(), matcher=m["matcher"])
    report = pool.ingest("seekers", frame, mode="all", first_line=first)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    assert report.written and report.taken == ctx["n"], report.to_dict(3)
    return report.taken


def _normaliser(cls):
    if "normaliser" not in _MODEL:
        _MODEL["normaliser"] = cls.fit(_MODEL["r"])
    return _MODEL["normaliser"]


def _base_ingest(ctx: dict) -> int:
    from api.storage.store import DDL, _as_rows_frame

    db = ctx["folder"] / f"base-{next(ctx['runs'])}.sqlite3"
    frame = pl.read_parquet(ctx["path"])
    rows = _as_rows_frame(frame, "seekers").rows()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    for statement in DDL.split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute("BEGIN")
    con.executemany("INSERT INTO seekers (id, skills, skills_text, occupation, past_occupations, basin, lat, lon, "
                    "radius_km, consent, seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, '')", rows)
    con.execute("COMMIT")
    con.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return len(rows)


scenario(name="pool_ingest_1m", ours=_ours_ingest, baseline=_base_ingest,
         baseline_name="bare SQLite executemany of the same rows (no validation, no index)",
         target="<= 60 s for 1M seekers", repeats=1, quick_repeats=1,
         counters=lambda c: {"rows": c["n"]}, alloc=False)(_setup_ingest)
