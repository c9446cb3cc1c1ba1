"""Seekers and offers on the command line: ``passerelles ingest``, ``passerelles match``, ``passerelles synth``.

    passerelles synth --seekers 100000 --offers 20000 --seed 0 --out data/synth
    passerelles ingest seekers data/synth/seekers.parquet [--mode all|valid] [--database FILE]
    passerelles ingest offers data/synth/offers.parquet
    passerelles match offers S0000001 -k 10 [--radius 30]      # the offers that suit a seeker
    passerelles match offers S0000001 --toward-tension         # ... offers in tension in their basin first
    passerelles match candidates O0000001 -k 20                # consenting seekers for an offer
    passerelles match candidates REF-001 --employer E42        # ... offer ids are per employer

``ingest`` reads CSV (lists as ``a|b|c``), Parquet, JSON Lines or a JSON array; with
``--mode all`` (default) nothing is written when a row is rejected; every rejected line is
printed with its reason and the exit status is 2. The database is ``--database`` or
``PASSERELLES_DATABASE`` (default ``passerelles.sqlite3``). A running server picks up what this
command writes at its next request (the index follows the store's change sequence).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import polars as pl
import typer

import referentiels
from referentiels.ids import canonical_id

from api.cli.common import SourceOption, UsageError, emit_json

app = typer.Typer()

match_app = typer.Typer(help="Match seekers and offers both ways (explained).", no_args_is_help=True)
app.add_typer(match_app, name="match")

DatabaseOption = Annotated[Optional[Path], typer.Option("--database", "-d", envvar="PASSERELLES_DATABASE",
                                                        help="SQLite file (default passerelles.sqlite3).")]


def _state(referentiel: str | None, database: Path | None):
    from api.settings import Settings
    from api.services.state import AppState

    kwargs = {}
    if referentiel:
        kwargs["referentiel"] = referentiel
    if database:
        kwargs["database"] = database
    return AppState.from_settings(Settings(**kwargs))


@app.command()
def ingest(
    kind: Annotated[Literal["seekers", "offers"], typer.Argument(help="seekers or offers")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet, JSON Lines (.jsonl) or JSON array (.json)")],
    mode: Annotated[Literal["all", "valid"], typer.Option(
        help="all: nothing written if a row is rejected; valid: write valid rows")] = "all",
    referentiel: SourceOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Bulk ingest seekers or offers from a file, validated, in one transaction."""
    from api.services.pool_service import IngestError, read_records

    started = time.perf_counter()
    try:
        frame, first_line = read_records(file)
        state = _state(referentiel, database)
        report = state.pool.ingest(kind, frame, mode=mode, first_line=first_line, source=str(file))
    except IngestError as error:
        raise UsageError(f"{file}: {error}") from None
    elapsed = time.perf_counter() - started
    if as_json:
        emit_json({**report.to_dict(), "seconds": round(elapsed, 3)})
    else:
        for r in report.rejected[:50]:
            typer.echo(f"{file}, line {r['line']} (id {r['id']}): {r['reason']}", err=True)
        if len(report.rejected) > 50:
            typer.echo(f"... and {len(report.rejected) - 50} more rejected rows", err=True)
        verdict = "written" if report.written else "NOTHING written"
        typer.echo(f"{kind}: {report.rows:,} rows, {report.taken:,} taken, {len(report.rejected):,} rejected; "
                   f"{verdict} ({elapsed:.1f} s)")
    if report.rejected and not report.written:
        raise UsageError(f"{file}: {len(report.rejected):,} rejected rows; nothing was written (--mode valid "
                         "writes the valid rows)")


def _print_hits(hits: list[dict], side: str) -> None:
    for i, h in enumerate(hits, 1):
        who = h["offer"]["id"] + " " + h["offer"]["occupation"] if side == "offer" else h["candidate"]["pseudonym"]
        b = h["bridge"]
        bridge = (f"{b['from']['code']} -> {b['to']['code']} {b['score']:.2f}" if b["from"] else "no occupation")
        distance = "?" if h["distance_km"] is None else f"{h['distance_km']:.0f} km"
        tension = f"combined {h['combined']:.3f} (tension {h['tension']:.2f})  " if "combined" in h else ""
        typer.echo(f"{i:>3}. {who:<24} {tension}score {h['score']:.3f}  coverage {h['coverage']:.2f}  bridge {bridge}  "
                   f"{distance}  matched {len(h['matched'])} missing {len(h['missing'])}")


@match_app.command("offers")
def match_offers(
    seeker: Annotated[str, typer.Argument(help="Seeker id")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100)] = 10,
    radius: Annotated[Optional[float], typer.Option(help="km (default: the seeker's radius)")] = None,
    require_must: Annotated[bool, typer.Option(help="Drop offers whose must-haves the seeker lacks.")] = False,
    toward_tension: Annotated[bool, typer.Option(
        "--toward-tension", help="Rank by match score and the tension of the offer's occupation in its job basin.")] = False,
    tension_weight: Annotated[float, typer.Option(min=0.0, max=1.0, help="Weight of tension (0 = score only).")] = 0.5,
    referentiel: SourceOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The top-k offers for a seeker, explained (--toward-tension: offers in tension first)."""
    from api.services.training_service import offers_for_seeker

    seeker = canonical_id(seeker, "seeker id")  # the id rule: NFC as stored; a bad id is exit 2, named

    body = offers_for_seeker(_state(referentiel, database), seeker, k=k, radius_km=radius, require_must=require_must,
                             toward_tension=toward_tension, weight=tension_weight)
    if body is None:
        raise UsageError(f"no seeker has the id {seeker!r}")
    emit_json(body["offers"]) if as_json else _print_hits(body["offers"], "offer")


@match_app.command("candidates")
def match_candidates(
    offer: Annotated[str, typer.Argument(help="Offer id")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100)] = 20,
    radius: Annotated[Optional[float], typer.Option(help="km (default: each seeker's radius)")] = None,
    require_must: Annotated[bool, typer.Option(help="Drop seekers lacking a must-have.")] = False,
    employer: Annotated[Optional[str], typer.Option(
        "--employer", help="The offer's employer: offer ids are per employer (needed when several employers have "
                           "this id; '' for the offer without employer).")] = None,
    referentiel: SourceOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The top-k consenting seekers for an offer (pseudonymous ids), explained."""
    from api.storage.store import ANY_EMPLOYER, Ambiguous

    offer = canonical_id(offer, "offer id")
    scope = ANY_EMPLOYER if employer is None else (canonical_id(employer, "employer id") if employer else None)
    try:
        hits = _state(referentiel, database).pool.candidates_for_offer(offer, k=k, radius_km=radius,
                                                                      require_must=require_must, employer=scope)
    except Ambiguous as error:
        raise UsageError(f"{len(error.employers)} employers have an offer {offer!r} "
                         f"({', '.join(repr(e or '') for e in error.employers)}): name one with --employer") from None
    if hits is None:
        raise UsageError(f"no offer has the id {offer!r}" + ("" if employer is None else f" for employer {employer!r}"))
    emit_json(hits) if as_json else _print_hits(hits, "candidate")


def resolve_basins(spec: str | None) -> pl.DataFrame:
    """Basins for synth: a CSV file (id, name, lat, lon), or ids among ``referentiels.territories``' basins."""
    from api.services.pool_service import load_basins

    if spec and Path(spec).is_file():
        frame = pl.read_csv(spec, infer_schema=False)
        missing = {"id", "lat", "lon"} - set(frame.columns)
        if missing:
            raise UsageError(f"{spec}: basins need columns id, lat, lon (missing {', '.join(sorted(missing))})")
        return frame.with_columns(pl.col("lat").cast(pl.Float64), pl.col("lon").cast(pl.Float64))
    basins = load_basins()
    if basins is None:
        raise UsageError("no job basins: referentiels.territories is not available; pass --basins FILE.csv "
                         "(id, name, lat, lon)")
    if spec and spec != "all":
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        unknown = sorted(set(wanted) - set(basins["id"].to_list()))
        if unknown:
            raise UsageError(f"unknown basin(s) {', '.join(unknown)}")
        basins = basins.filter(pl.col("id").is_in(wanted))
    return basins


@app.command()
def synth(
    seekers: Annotated[int, typer.Option("--seekers", min=0, help="Number of seekers.")] = 10_000,
    offers: Annotated[int, typer.Option("--offers", min=0, help="Number of offers.")] = 2_000,
    basins: Annotated[Optional[str], typer.Option(help="all (default), comma-separated basin ids, or a CSV file")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for seekers.parquet and offers.parquet.")] = Path("synth"),
    drop: Annotated[float, typer.Option(help="Share of an occupation's skills a seeker lacks.")] = 0.3,
    noise: Annotated[float, typer.Option(help="Share of noise skills from neighbouring occupations.")] = 0.1,
    trainings: Annotated[int, typer.Option("--trainings", min=0, help="Also write trainings.csv with N synthetic trainings (issue 6).")] = 0,
    referentiel: SourceOption = None,
) -> None:
    """Write a deterministic synthetic population of seekers and offers (Parquet)."""
    from referentiels.synthetic import synthesize

    r = referentiels.load(referentiel or "demo")
    started = time.perf_counter()
    try:
        population = synthesize(r, seekers, offers, resolve_basins(basins), seed=seed, drop=drop, noise=noise)
    except ValueError as error:
        raise UsageError(str(error)) from None
    paths = population.write(out)
    if trainings:  # the training catalogue's generator (api/cli/trainings.py, issue 6)
        from api.cli.trainings import write_synthetic_catalogue

        paths["trainings"] = write_synthetic_catalogue(r, trainings, Path(out) / "trainings.csv", seed=seed,
                                                       basins=resolve_basins(basins))
    typer.echo(json.dumps({"seekers": str(paths["seekers"]), "offers": str(paths["offers"]),
                           "n_seekers": seekers, "n_offers": offers, "seed": seed,
                           "seconds": round(time.perf_counter() - started, 2)}))
