"""National batch matching (issue 10): all-pairs top-k throughput, single process and on a Dask LocalCluster.

Inputs: full ROME v460 and issue 5's deterministic synthetic population
(``referentiels.synthetic.synthesize``, seed 0, the real job basins), written to Parquet once.
Throughput = seekers x offers / median seconds (pairs/s): divide the ``pairs`` counter by the
median. Sizes: 20,000 offers and 4,000 seekers (quick: 5,000 offers, 1,000 seekers).

- ``batch_cosine_kernel``: the numba sparse top-k (``matching.batch.topk_sparse``, k=20) of the
  skill-space cosine of every seeker against every offer, one thread. Baseline: the plain way,
  a scipy sparse product of the same vectors by chunks of 1,000 seekers, densified, then
  ``np.argpartition`` + sort of the k best per row (same result, checked in setup).
- ``batch_interactive_single``: ``api.services.batch_jobs.run_batch`` in this process with the interactive
  score (every seeker's top 20 offers as ``GET /seekers/{id}/offers`` ranks them: coverage,
  bridge, must-haves, mobility radius), Parquet in and partitions out. Baseline: the scipy
  product + argpartition of the cosine, as above (what a naive batch would run).
- ``batch_interactive_local_cluster``: the same job on a ``LocalCluster`` of 2 worker processes
  (1 thread each), started once in setup. Baseline: the same job in this process — the ratio is
  the Dask speed-up's inverse (0.5 would be perfect scaling on 2 cores).
- ``batch_candidates_single``: the other direction in this process, every offer's top 20
  consenting candidates by pseudonym (``direction="offers"``: the seekers index built once per job,
  then ``PoolMatcher.top_candidates`` per offer), the same pairs. Baseline: the seekers direction of
  the same job (``batch_interactive_single``'s ours): the ratio is what the second direction costs
  against the first.

The synthetic seekers carry free-text skills (``skills_text``): every interactive run normalises
their distinct texts once per job, as ``batch-match`` does (the ``SkillNormaliser`` is fitted once
in setup, like a long-lived process would).
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..data import rome_dir
from ..harness import scenario

K = 20


def _population(quick: bool) -> dict:
    import referentiels
    from api.services.batch_jobs import BatchJob, build_matcher
    from api.services.pool_service import load_basins
    from referentiels.synthetic import synthesize

    r = referentiels.load(f"rome:{rome_dir()}")
    n_seekers, n_offers = (1_000, 5_000) if quick else (4_000, 20_000)
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    population = synthesize(r, n_seekers, n_offers, basins=load_basins(), seed=0)
    paths = population.write(folder)
    matcher = build_matcher(r)
    job = BatchJob.plan(paths["seekers"], paths["offers"], folder / "out", K, r, partition_rows=max(n_seekers // 8, 1))
    from matching.normalise import SkillNormaliser

    return {"referentiel": r, "matcher": matcher, "job": job, "folder": folder, "seekers": population.seekers,
            "n_seekers": n_seekers, "n_offers": n_offers, "normaliser": SkillNormaliser.fit(r)}


def bench_pseudonym(seeker_id: str) -> str:
    """A pseudonym as the store makes them (HMAC-SHA256 of the id), under a fixed benchmark key."""
    return "c-" + hmac.new(b"passerelles-bench", seeker_id.encode(), hashlib.sha256).hexdigest()[:16]


def _cosine_vectors(ctx: dict) -> None:
    from api.services.batch_jobs import Codebook, build_payload, seekers_from_frame
    from matching.batch import weighted_profiles

    codebook = Codebook.of(ctx["referentiel"])
    payload = build_payload(ctx["job"].offers, codebook, ctx["matcher"], "cosine")
    seekers, _ = seekers_from_frame(ctx["seekers"], codebook)
    ctx["a"] = weighted_profiles(seekers.skills, payload.skill_weight)
    ctx["postings"] = payload.postings
    p = payload.postings
    ctx["b_t"] = sp.csc_array((p.values, p.rows, p.indptr), shape=(p.n_rows, p.n_features)).T.tocsr()


def scipy_argpartition_topk(a: sp.csr_array, b_t: sp.csr_array, k: int, chunk: int = 1_000) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: (a @ b.T) by row chunks, densified, argpartition then sort of the k best per row."""
    out_i, out_s = [], []
    for start in range(0, a.shape[0], chunk):
        dense = (a[start:start + chunk] @ b_t).toarray()
        kk = min(k, dense.shape[1])
        part = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(dense, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        out_i.append(np.take_along_axis(part, order, axis=1))
        out_s.append(np.take_along_axis(vals, order, axis=1))
    return np.concatenate(out_i), np.concatenate(out_s)


def _pairs(ctx: dict) -> dict[str, float]:
    return {"pairs": float(ctx["n_seekers"] * ctx["n_offers"])}


def _setup_kernel(quick: bool) -> dict:
    from matching.batch import topk_sparse

    ctx = _population(quick)
    _cosine_vectors(ctx)
    ours = topk_sparse(ctx["a"], ctx["postings"], K)
    idx, scores = scipy_argpartition_topk(ctx["a"], ctx["b_t"], K)
    full = ours.scores > 0
    np.testing.assert_allclose(ours.scores[full], scores[full], rtol=1e-5)  # same top-k scores
    return ctx


def _kernel_counters(ctx: dict) -> dict[str, float]:
    from matching.batch import topk_sparse

    return {**_pairs(ctx), "postings_visited": float(topk_sparse(ctx["a"], ctx["postings"], K).work)}


scenario(name="batch_cosine_kernel", ours=lambda c: __import__("matching.batch", fromlist=["topk_sparse"]).topk_sparse(
    c["a"], c["postings"], K),
         baseline=lambda c: scipy_argpartition_topk(c["a"], c["b_t"], K),
         baseline_name="scipy sparse product (chunks of 1,000 rows) + np.argpartition + sort, same vectors",
         target="pairs/s: ours >> baseline", repeats=5, quick_repeats=3, counters=_kernel_counters,
         alloc=False)(_setup_kernel)


def _run_single(ctx: dict) -> dict:
    from api.services.batch_jobs import run_batch

    return run_batch(ctx["job"], ctx["referentiel"], matcher=ctx["matcher"], overwrite=True,
                     normaliser=ctx["normaliser"])


def _setup_single(quick: bool) -> dict:
    ctx = _population(quick)
    _cosine_vectors(ctx)
    return ctx


scenario(name="batch_interactive_single", ours=_run_single,
         baseline=lambda c: scipy_argpartition_topk(c["a"], c["b_t"], K),
         baseline_name="scipy sparse product + np.argpartition of the skill cosine (no radius, no bridge)",
         target="pairs/s of the exact interactive score, Parquet to Parquet", repeats=3, quick_repeats=3,
         counters=_pairs, alloc=False, threshold=2.0)(_setup_single)


def _setup_cluster(quick: bool) -> dict:
    from distributed import Client, LocalCluster

    ctx = _population(quick)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    ctx["cluster"], ctx["client"] = cluster, Client(cluster)
    return ctx


def _run_cluster(ctx: dict) -> dict:
    from api.services.batch_jobs import run_batch

    return run_batch(ctx["job"], ctx["referentiel"], matcher=ctx["matcher"], client=ctx["client"], overwrite=True,
                     normaliser=ctx["normaliser"])


scenario(name="batch_interactive_local_cluster", ours=_run_cluster, baseline=_run_single,
         baseline_name="the same job in this process (no Dask)",
         target="ratio -> 0.5 on 2 cores (Dask overhead small)", repeats=3, quick_repeats=3, counters=_pairs,
         alloc=False, threshold=2.0)(_setup_cluster)


def _setup_candidates(quick: bool) -> dict:
    from api.services.batch_jobs import BatchJob

    ctx = _population(quick)
    job = ctx["job"]
    ctx["candidates_job"] = BatchJob.plan(job.seekers, job.offers, Path(job.out).with_name("candidates"), K,
                                          ctx["referentiel"], partition_rows=job.partition_rows, direction="offers",
                                          pseudonym=bench_pseudonym)
    return ctx


def _run_candidates(ctx: dict) -> dict:
    from api.services.batch_jobs import run_batch

    return run_batch(ctx["candidates_job"], ctx["referentiel"], matcher=ctx["matcher"], overwrite=True,
                     normaliser=ctx["normaliser"], pseudonym=bench_pseudonym)


scenario(name="batch_candidates_single", ours=_run_candidates, baseline=_run_single,
         baseline_name="the seekers direction of the same job in this process (every seeker's top offers)",
         target="pairs/s of every offer's exact top candidates, Parquet to Parquet", repeats=3, quick_repeats=3,
         counters=_pairs, alloc=False, threshold=2.0)(_setup_candidates)


def cleanup(ctx: dict) -> None:
    """Close the cluster and remove the temporary folder. Called by the harness and the gate's worker
    when they move on to another setup (``measure.release_context``): a cluster left running
    allocates in its threads during every later scenario's ``alloc_peak_bytes`` pass."""
    if "client" in ctx:
        ctx["client"].close()
        ctx["cluster"].close()
    shutil.rmtree(ctx["folder"], ignore_errors=True)
