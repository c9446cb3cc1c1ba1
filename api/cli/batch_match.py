"""``passerelles batch-match``: every seeker's top-k offers and every offer's top-k candidates at national
scale, on Dask (docs/batch.md).

Registered on :data:`api.cli.root.app` when :mod:`api.cli.root` imports this module (``COMMAND_MODULES``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import referentiels

from api.cli.common import SourceOption, UsageError, emit_json, fail

app = typer.Typer()


@app.command("batch-match")
def batch_match(
    seekers: Annotated[Path, typer.Option("--seekers", help="Parquet file of seekers (id, skills, occupation, ...).")],
    offers: Annotated[Path, typer.Option("--offers", help="Parquet file of offers (id, occupation, must, desired, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Folder of the result partitions (part-NNNNN.parquet: "
                                                     "seekers' offers; candidates-NNNNN.parquet: offers' candidates).")],
    top: Annotated[int, typer.Option("--top", help="Offers kept per seeker / candidates kept per offer.")] = 20,
    direction: Annotated[str, typer.Option(
        "--direction", help="seekers (every seeker's best offers), offers (every offer's best consenting "
                            "candidates, by pseudonym) or both.")] = "seekers",
    database: Annotated[Optional[Path], typer.Option(
        "--database", help="The store whose secret makes the candidates' pseudonyms (the ones the API shows); "
                           "needed by --direction offers|both. Default: PASSERELLES_DATABASE.")] = None,
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
    partition_rows: Annotated[int, typer.Option(
        "--partition-rows", help="Seekers (offers) per output partition.")] = 100_000,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete partitions of OUT and start again.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    referentiel: SourceOption = None,
) -> None:
    """Top-K offers of every seeker and/or top-K candidates of every offer, written as restartable Parquet
    partitions (already written ones are skipped)."""
    from api.services.batch_jobs import BatchJob, build_matcher, job_matches, run_batch

    if scheduler and local_workers is not None:
        fail("give --scheduler or --local-workers, not both")
    if local_workers is not None and local_workers < 0:
        fail(f"--local-workers must be >= 0, got {local_workers}")
    source = referentiel or os.environ.get("PASSERELLES_REFERENTIEL") or "demo"
    r = referentiels.load(source)
    store = None
    if direction in ("offers", "both"):
        from api.settings import Settings
        from api.storage.store import Store

        path = database or Settings().database
        if not Path(path).exists():
            fail(f"no store at {path}: the offers direction lists candidates by the pseudonyms of a store's secret "
                 "(give --database or set PASSERELLES_DATABASE)")
        store = Store(path)
    pseudonym = store.pseudonym if store is not None else None
    try:
        job = BatchJob.plan(seekers, offers, out, top, r, partition_rows=partition_rows, score=score,
                            direction=direction, pseudonym=pseudonym)
    except ValueError as error:
        if store is not None:
            store.close()
        fail(str(error))
    log = (lambda line: typer.echo(line, err=True)) if progress else (lambda _: None)
    matcher = build_matcher(r)
    stream = sys.stderr if progress else None
    try:
        nothing_to_do = not overwrite and not job.todo() and job_matches(job)
        if local_workers == 0 or nothing_to_do:  # no cluster to start for partitions all written
            summary = run_batch(job, r, matcher=matcher, overwrite=overwrite, progress_stream=stream, log=log,
                                pseudonym=pseudonym)
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
                                    progress_stream=stream, log=log, pseudonym=pseudonym)
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
    finally:
        if store is not None:
            store.close()
    if as_json:
        emit_json(summary)
        return
    typer.echo(f"{summary['pairs_scored']:,} pairs scored in {summary['compute_seconds']:,.1f} s "
               f"({summary['pairs_per_second'] / 1e6:,.1f} M pairs/s, {summary['workers'] or 'no'} Dask workers); "
               f"{summary['partitions_written']} partitions written, {summary['partitions_skipped']} skipped; "
               f"{summary['pairs_listed']:,} rows ({' + '.join(summary['by_direction'])}) in {summary['out']}")
    unknown = summary["unknown_codes"]
    dropped = sum(unknown["offers"].values()) + sum(unknown["seekers"].values())
    if dropped:
        typer.echo(f"note: {dropped:,} codes unknown to the referential were dropped ({unknown})", err=True)
    texts = summary.get("skill_texts")
    if texts and texts["unreadable"]:
        typer.echo(f"note: {texts['unreadable']:,} free-text skills could not be read "
                   f"({texts['unreadable_distinct']:,} distinct of {texts['distinct']:,}) and were left out", err=True)
