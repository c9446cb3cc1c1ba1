"""``passerelles batch-match``: every seeker's top-k offers and every offer's top-k candidates at national
scale, on Dask (docs/batch.md).

Joined to :data:`api.cli.root.app` with ``add_typer``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

import referentiels

from api.cli.common import SourceOption, UsageError, emit_json, fail

if TYPE_CHECKING:
    from api.services.batch_jobs import ProgressCallback

app = typer.Typer()


class PairsPerSecond(ProgressColumn):
    """Pairs scored per second so far (the task's ``pairs`` field over its elapsed time)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.fields.get("pairs", 0) / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate / 1e6:,.1f} M pairs/s")


@contextmanager
def progress_bar(shown: bool) -> Iterator[ProgressCallback | None]:
    """A ``rich`` progress bar on stderr (partitions done, pairs/s, time left), or nothing; yields the
    ``progress(done, total, pairs)`` callback :func:`run_batch` takes."""
    if not shown:
        yield None
        return
    columns = (TextColumn("partitions"), BarColumn(), MofNCompleteColumn(), PairsPerSecond(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("batch", total=None, pairs=0)
        yield lambda done, total, pairs: bar.update(task, completed=done, total=total, pairs=pairs)


@contextmanager
def dask_client(scheduler: str | None, local_workers: int | None, threads: bool, memory_limit: str) -> Iterator:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or of a ``LocalCluster`` of
    ``local_workers`` workers (one per core when None) started here; both closed on the way out."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            fail(f"cannot reach the Dask scheduler at {scheduler}: {error}")
        with client:
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            yield client
        return
    n = local_workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=not threads, memory_limit=memory_limit,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        yield client


@app.command("batch-match")
def batch_match(
    seekers: Annotated[Path, typer.Option("--seekers", help="Parquet file of seekers (id, skills, occupation, ...).")],
    offers: Annotated[Path, typer.Option("--offers", help="Parquet file of offers (id, occupation, must, desired, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Folder of the result partitions (part-NNNNN.parquet: "
                                                     "seekers' offers; candidates-NNNNN.parquet: offers' candidates).")],
    top: Annotated[int, typer.Option("--top", help="Offers kept per seeker / candidates kept per offer.")] = 20,
    direction: Annotated[Literal["seekers", "offers", "both"], typer.Option(
        "--direction", help="seekers (every seeker's best offers), offers (every offer's best consenting "
                            "candidates, by pseudonym) or both.")] = "seekers",
    database: Annotated[Optional[Path], typer.Option(
        "--database", help="The store whose secret makes the candidates' pseudonyms (the ones the API shows); "
                           "needed by --direction offers|both. Default: PASSERELLES_DATABASE.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786); default: a LocalCluster.")] = None,
    local_workers: Annotated[Optional[int], typer.Option(
        "--local-workers", min=0, help="Workers of the LocalCluster (default: one per core); 0 runs in this process, "
                                "without Dask.")] = None,
    threads: Annotated[bool, typer.Option(
        "--threads/--processes", help="LocalCluster workers as threads of this process, or processes.")] = False,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", help="Memory limit of each LocalCluster worker (Dask syntax: 4GiB, auto).")] = "auto",
    score: Annotated[Literal["interactive", "cosine"], typer.Option(
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
    try:
        with progress_bar(progress) as on_progress:
            nothing_to_do = not overwrite and not job.todo() and job_matches(job)
            if local_workers == 0 or nothing_to_do:  # no cluster to start for partitions all written
                summary = run_batch(job, r, matcher=matcher, overwrite=overwrite, progress=on_progress, log=log,
                                    pseudonym=pseudonym)
            else:
                with dask_client(scheduler, local_workers, threads, memory_limit) as client:
                    log(f"Dask: {len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
                    summary = run_batch(job, r, matcher=matcher, client=client, overwrite=overwrite,
                                        progress=on_progress, log=log, pseudonym=pseudonym)
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
