"""``passerelles batch-match``: every seeker's top-k offers at national scale, on Dask (docs/batch.md).

Registered on :data:`api.cli.app` when :mod:`api.cli` imports this module (``COMMAND_MODULES``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import referentiels

from .cli import SourceOption, UsageError, app, emit_json, fail


@app.command("batch-match")
def batch_match(
    seekers: Annotated[Path, typer.Option("--seekers", help="Parquet file of seekers (id, skills, occupation, ...).")],
    offers: Annotated[Path, typer.Option("--offers", help="Parquet file of offers (id, occupation, must, desired, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Folder of the result partitions (part-NNNNN.parquet).")],
    top: Annotated[int, typer.Option("--top", help="Offers kept per seeker.")] = 20,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786); default: a LocalCluster.")] = None,
    local_workers: Annotated[Optional[int], typer.Option(
        "--local-workers", help="Workers of the LocalCluster (default: one per core); 0 runs in this process, "
                                "without Dask.")] = None,
    threads: Annotated[bool, typer.Option(
        "--threads/--processes", help="LocalCluster workers as threads of this process, or processes.")] = False,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", help="Memory limit of each LocalCluster worker (Dask syntax: 4GiB, auto).")] = "auto",
    score: Annotated[str, typer.Option(
        "--score", help="interactive (the matching score of GET /seekers/{id}/offers) or cosine "
                        "(skill-space cosine, no bridge nor distance).")] = "interactive",
    partition_rows: Annotated[int, typer.Option("--partition-rows", help="Seekers per output partition.")] = 100_000,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete partitions of OUT and start again.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    referentiel: SourceOption = None,
) -> None:
    """Top-K offers of every seeker, written as restartable Parquet partitions (already written ones are skipped)."""
    from .batch import BatchJob, build_matcher, job_matches, run_batch

    if scheduler and local_workers is not None:
        fail("give --scheduler or --local-workers, not both")
    if local_workers is not None and local_workers < 0:
        fail(f"--local-workers must be >= 0, got {local_workers}")
    source = referentiel or os.environ.get("PASSERELLES_REFERENTIEL") or "demo"
    r = referentiels.load(source)
    try:
        job = BatchJob.plan(seekers, offers, out, top, r, partition_rows=partition_rows, score=score)
    except ValueError as error:
        fail(str(error))
    log = (lambda line: typer.echo(line, err=True)) if progress else (lambda _: None)
    matcher = build_matcher(r)
    stream = sys.stderr if progress else None
    try:
        nothing_to_do = not overwrite and len(job.done()) == len(job.partitions) and job_matches(job)
        if local_workers == 0 or nothing_to_do:  # no cluster to start for partitions all written
            summary = run_batch(job, r, matcher=matcher, overwrite=overwrite, progress_stream=stream, log=log)
        else:
            from distributed import Client, LocalCluster

            if scheduler:
                try:
                    client = Client(scheduler, timeout="10s")
                except (OSError, TimeoutError) as error:
                    fail(f"cannot reach the Dask scheduler at {scheduler}: {error}")
                cluster = None
            else:
                n = local_workers or os.cpu_count() or 1
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=not threads,
                                       memory_limit=memory_limit, dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)
                client = Client(cluster)
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            try:
                log(f"Dask: {len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
                summary = run_batch(job, r, matcher=matcher, client=client, overwrite=overwrite,
                                    progress_stream=stream, log=log)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    except UsageError:
        raise
    except ValueError as error:
        fail(str(error))
    except Exception as error:  # noqa: BLE001 - a worker's failure: one line, and how to resume
        fail(f"batch stopped: {type(error).__name__}: {error}; the partitions written are kept, "
             "run the same command again to resume")
    if as_json:
        emit_json(summary)
        return
    typer.echo(f"{summary['pairs_scored']:,} pairs scored in {summary['compute_seconds']:,.1f} s "
               f"({summary['pairs_per_second'] / 1e6:,.1f} M pairs/s, {summary['workers'] or 'no'} Dask workers); "
               f"{summary['partitions_written']} partitions written, {summary['partitions_skipped']} skipped; "
               f"{summary['pairs_listed']:,} (seeker, offer) rows in {summary['out']}")
    unknown = summary["unknown_codes"]
    dropped = sum(unknown["offers"].values()) + sum(unknown["seekers"].values())
    if dropped:
        typer.echo(f"note: {dropped:,} codes unknown to the referential were dropped ({unknown})", err=True)
