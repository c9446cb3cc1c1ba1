"""National batch on a Dask LocalCluster (2 workers): 100k seekers x 20k offers, equal to the single-process path.

The inputs are synthetic and sparse like ROME is per occupation (10,000 skills, 1,000 occupations of
25 skills each, a few bridges above the matcher's floor per occupation), so the whole file stays
well under a minute on 2 cores while exercising every piece: Parquet in, the offers index shipped
once to each worker, partitions written and renamed, restart skipping them, the summary.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from api.batch import BatchJob, read_results, run_batch, synthetic_population
from matching.match import PoolMatcher

pytestmark = pytest.mark.e2e

N_SEEKERS, N_OFFERS, N_SKILLS, N_OCC, K = 100_000, 20_000, 10_000, 1_000, 10


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rng = np.random.default_rng(7)
    rows = np.repeat(np.arange(N_OCC), 25)
    cols = rng.integers(0, N_SKILLS, len(rows))
    matrix = sp.csr_array((np.ones(len(rows), np.float32), (rows, cols)), shape=(N_OCC, N_SKILLS))
    matrix.sum_duplicates()
    referentiel = SimpleNamespace(matrix=matrix, skill_codes=np.asarray([f"K{i:05d}" for i in range(N_SKILLS)]),
                                  occupation_codes=np.asarray([f"X{i:04d}" for i in range(N_OCC)]),
                                  fingerprint="synthetic-sparse-1")
    bridge = rng.uniform(0.0, 0.04, (N_OCC, N_OCC)).astype(np.float32)
    for a in range(N_OCC):
        bridge[a, rng.integers(0, N_OCC, 4)] = rng.uniform(0.1, 0.7, 4)
    np.fill_diagonal(bridge, 1.0)
    matcher = PoolMatcher(skill_weight=rng.uniform(1.0, 3.0, N_SKILLS).astype(np.float32), bridge=bridge)
    seekers, offers = synthetic_population(referentiel, N_SEEKERS, N_OFFERS, seed=11, zipf=0.0)
    folder = tmp_path_factory.mktemp("national")
    seekers.write_parquet(folder / "seekers.parquet")
    offers.write_parquet(folder / "offers.parquet")
    return SimpleNamespace(referentiel=referentiel, matcher=matcher, folder=folder)


def _job(world, out: str) -> BatchJob:
    return BatchJob.plan(world.folder / "seekers.parquet", world.folder / "offers.parquet", world.folder / out, K,
                         world.referentiel, partition_rows=12_500)


def test_local_cluster_equals_single_process_and_restarts(world):
    from distributed import Client, LocalCluster

    single = run_batch(_job(world, "single"), world.referentiel, matcher=world.matcher)
    assert single["partitions_written"] == 8 and single["pairs_scored"] == N_SEEKERS * N_OFFERS
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        distributed = run_batch(_job(world, "dask"), world.referentiel, matcher=world.matcher, client=client)
        assert distributed["workers"] == 2
        # restart: every partition is there, nothing is recomputed
        again = run_batch(_job(world, "dask"), world.referentiel, matcher=world.matcher, client=client)
    assert again["partitions_written"] == 0 and again["partitions_skipped"] == 8 and again["pairs_scored"] == 0
    one, two = read_results(world.folder / "single"), read_results(world.folder / "dask")
    assert one.height == distributed["pairs_listed"] == single["pairs_listed"] > N_SEEKERS  # most seekers list k
    assert one.equals(two)  # same seekers, ranks, offers, float32 scores: bit for bit
    assert one["seeker_id"].n_unique() > 0.9 * N_SEEKERS
    assert (one.group_by("seeker_id").agg(pl.col("score").diff().max())["score"].fill_null(0) <= 0).all()
    summary = json.loads((world.folder / "dask" / "_summary.json").read_text())
    assert summary["pairs_scored"] == 0 and summary["partitions_skipped"] == 8


def test_a_lost_partition_is_recomputed_identically(world):
    out = world.folder / "single"
    before = pl.read_parquet(out / "part-00003.parquet")
    (out / "part-00003.parquet").unlink()
    summary = run_batch(_job(world, "single"), world.referentiel, matcher=world.matcher)
    assert summary["partitions_written"] == 1 and summary["partitions_skipped"] == 7
    assert summary["pairs_scored"] == 12_500 * N_OFFERS
    assert pl.read_parquet(out / "part-00003.parquet").equals(before)


def test_another_job_in_the_same_folder_is_refused(world):
    job = BatchJob.plan(world.folder / "seekers.parquet", world.folder / "offers.parquet", world.folder / "single",
                        K + 1, world.referentiel, partition_rows=12_500)
    with pytest.raises(ValueError, match="another job.*k"):
        run_batch(job, world.referentiel, matcher=world.matcher)
