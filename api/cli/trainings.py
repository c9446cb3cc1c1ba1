"""Gaps, trainings and job basins on the command line (issue 6).

    passerelles gaps H2102 H2913 [--basin beauvais --radius 50 --from 2026-01-01 --to 2026-06-30]
    passerelles gaps S0000001 H2913 --seeker [--database FILE]      # a stored seeker's gap and plan
    passerelles trainings validate catalogue.csv                     # exit 2 with line/column on a bad row
    passerelles trainings validate flux.xml [--json] [--records all] # LHEO: counts, ROME codes, problems
    passerelles trainings import flux.xml [--records valid] [--replace] [--database FILE]
    passerelles trainings export --format lheo [--out FILE] [--lheo-version 2.3]
    passerelles trainings list [--skill DS0190] [--basin beauvais] [--catalogue FILE]
    passerelles trainings synth 50000 --out trainings.csv [--seed 0]
    passerelles access-routes H2913 --basin beauvais [-k 10 --radius 50]   # the routes into an occupation
    passerelles basins list
    passerelles basins tension beauvais [--in-tension]
    passerelles basins passerelles beauvais H2102 [-k 10 --weight 0.5 --cross-sector-only --sector S]
    passerelles basins needs beauvais [--radius 50 --top 20]

``--catalogue FILE`` (or ``PASSERELLES_TRAININGS``) chooses the training catalogue; default: the
demo catalogue on the demo referential. Basin commands read the seekers and offers of the store
(``--database`` / ``PASSERELLES_DATABASE``). ``--json`` prints the full JSON answer.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer

import referentiels

from api.cli.common import SourceOption, UsageError, emit_json
from api.storage import exports

app = typer.Typer()

trainings_app = typer.Typer(help="Training catalogues: validate, list, synthesise.", no_args_is_help=True)
basins_app = typer.Typer(help="Job basins: list, tension, passerelles toward tension, training needs.",
                         no_args_is_help=True)
app.add_typer(trainings_app, name="trainings")
app.add_typer(basins_app, name="basins")

DatabaseOption = Annotated[Optional[Path], typer.Option("--database", "-d", envvar="PASSERELLES_DATABASE",
                                                        help="SQLite file (default passerelles.sqlite3).")]
CatalogueOption = Annotated[Optional[Path], typer.Option("--catalogue", "-c", envvar="PASSERELLES_TRAININGS",
                                                         help="Training catalogue (CSV or JSON).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the full JSON answer.")]


def _service(referentiel: str | None, database: Path | None = None, catalogue: Path | None = None):
    from api.settings import Settings
    from api.services.state import AppState
    from api.services.training_service import TrainingService

    kwargs = {}
    if referentiel:
        kwargs["referentiel"] = referentiel
    if database:
        kwargs["database"] = database
    state = AppState.from_settings(Settings(**kwargs))
    service = TrainingService.of(state)
    if catalogue is not None:
        service.use_catalogue(catalogue)
    return state, service


def _check_occupation(state, code: str) -> None:
    if code not in state.referentiel.occupation_index:
        close = state.occupation_suggester.suggest(code)
        hint = f" (did you mean {', '.join(s['code'] for s in close[:3])}?)" if close else ""
        raise UsageError(f"unknown occupation {code!r}{hint}")


def _basin_call(fn, *args, **kwargs):
    from api.services.training_service import UnknownBasin

    try:
        return fn(*args, **kwargs)
    except UnknownBasin as error:
        raise UsageError(f"unknown job basin {error.basin!r} (passerelles basins list)") from None


def _print_gap(body: dict) -> None:
    src = body["source"]
    name = src.get("code") or f"seeker {src.get('seeker')}"
    typer.echo(f"{name} -> {body['target']['code']} {body['target']['label']}: holds {body['coverage']:.0%} "
               f"of the target's weight; {len(body['missing'])} skills missing")
    for s in body["missing"]:
        typer.echo(f"  {'*' if s['core'] else ' '} {s['code']} {s['weight']:6.2f}  {s['label']}")
    plan = body.get("plan")
    if plan is None:
        return
    cost = "unknown cost" if plan["cost"] is None else f"{plan['cost']:.0f} EUR"
    typer.echo(f"plan: {len(plan['trainings'])} trainings, {plan['hours']:.0f} h, {cost} "
               f"(catalogue {plan['catalogue']}, {plan['eligible_trainings']} eligible)")
    for t in plan["trainings"]:
        where = "à distance" if t["remote"] else (t["basin"] or "")
        when = "entrée permanente" if t["permanent_entry"] else (t["next_start"] or "")
        typer.echo(f"  {t['step']}. {t['id']} {t['title']} — {t['organisation']} ({t['hours']:.0f} h, {where}, {when})")
        typer.echo("       covers " + ", ".join(s["code"] for s in t["covers"]))
    if plan["residual"]:
        typer.echo("residual (no eligible training): " + ", ".join(s["code"] for s in plan["residual"]))


@app.command()
def gaps(
    source: Annotated[str, typer.Argument(help="Occupation code (or a seeker id with --seeker).")],
    target: Annotated[str, typer.Argument(help="Target occupation code.")],
    seeker: Annotated[bool, typer.Option("--seeker", help="SOURCE is a stored seeker's id.")] = False,
    basin: Annotated[Optional[str], typer.Option(help="Job basin id: where the plan's trainings are.")] = None,
    radius: Annotated[Optional[float], typer.Option(help="km around the basin (default 50; a seeker's own).")] = None,
    start_from: Annotated[Optional[str], typer.Option("--from", help="Earliest start date YYYY-MM-DD.")] = None,
    start_to: Annotated[Optional[str], typer.Option("--to", help="Latest start date YYYY-MM-DD.")] = None,
    max_hours: Annotated[Optional[float], typer.Option(help="Longest training accepted.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Only identical skills count as held.")] = False,
    no_plan: Annotated[bool, typer.Option("--no-plan", help="The gap only.")] = False,
    catalogue: CatalogueOption = None,
    referentiel: SourceOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The missing skills of a move (core first, by weight) and a training plan that covers them."""
    from api.services.training_service import UnknownSeeker

    try:
        earliest = date.fromisoformat(start_from) if start_from else None
        latest = date.fromisoformat(start_to) if start_to else None
    except ValueError as error:
        raise UsageError(f"--from/--to: {error}") from None
    state, service = _service(referentiel, database, catalogue)
    _check_occupation(state, target)
    if seeker:
        try:
            body = _basin_call(service.seeker_gap, source, target, related=not exact, plan=not no_plan,
                               radius_km=radius, earliest=earliest, latest=latest, max_hours=max_hours)
        except UnknownSeeker:
            raise UsageError(f"no seeker has the id {source!r}") from None
    else:
        _check_occupation(state, source)
        body = _basin_call(service.occupation_gap, source, target, related=not exact, plan=not no_plan,
                           basin=basin, radius_km=radius, earliest=earliest, latest=latest, max_hours=max_hours)
    emit_json(body) if as_json else _print_gap(body)


RecordsOption = Annotated[str, typer.Option(
    "--records", help="LHEO: 'all' refuses the file at its first bad record; 'valid' leaves bad records out "
                      "and lists them.")]


def _is_lheo(file: Path) -> bool:
    from referentiels.lheo import looks_like_lheo

    if file.suffix.lower() == ".xml":
        return True
    try:
        with file.open("rb") as handle:
            return looks_like_lheo(handle.read(64))
    except OSError:
        return False


def _check_records(records: str) -> None:
    if records not in ("all", "valid"):
        raise UsageError(f"--records: expected 'all' or 'valid', found {records!r}")


def _validate_lheo(file: Path, records: str, as_json: bool) -> None:
    from referentiels.lheo import iter_lheo

    trainings = sessions = 0
    rome: set[str] = set()
    for offer in iter_lheo(file, mode=records):  # batch by batch: memory of one batch, whatever the file
        trainings += offer.trainings.height
        sessions += offer.sessions.height
        rome.update(offer.trainings["occupations"].explode().drop_nulls().unique().to_list())
    summary = offer.summary() | {"trainings": trainings, "sessions": sessions, "rome": sorted(rome)}
    summary["left_out"] = [p.as_dict() for p in offer.problems]
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"{file}: LHEO {offer.version}, {summary['formations']} formations, {summary['trainings']} "
                   f"actions (trainings), {summary['sessions']} sessions, ROME {', '.join(summary['rome']) or '-'}")
        for p in offer.problems:
            typer.echo(f"  left out: {p.error(str(file))}")
        if not offer.problems:
            typer.echo("valid")
    if offer.problems:
        raise UsageError(f"{file}: {len(offer.problems)} record(s) left out (listed above)")


@app.command("access-routes")
def access_routes(code: Annotated[str, typer.Argument(help="Target occupation code.")],
                  basin: Annotated[str, typer.Option(help="Job basin id (passerelles basins list).")],
                  k: Annotated[int, typer.Option("-k", min=1, max=50, help="Routes to show.")] = 10,
                  radius: Annotated[float, typer.Option(min=0, max=500, help="km around the basin.")] = 50.0,
                  min_score: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest bridge score.")] = 0.0,
                  catalogue: CatalogueOption = None, referentiel: SourceOption = None,
                  database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """The occupations that lead to CODE (inbound passerelles), each with its gap and the trainings and
    sessions near BASIN that close it."""
    state, service = _service(referentiel, database, catalogue)
    _check_occupation(state, code)
    body = _basin_call(service.access_routes, code, basin, k=k, radius_km=radius, min_score=min_score)
    if as_json:
        emit_json(body)
        return
    typer.echo(f"Routes into {code} {body['target']['label']} around {body['basin']['name']} ({radius:g} km):")
    for route in body["routes"]:
        src = route["source"]
        typer.echo(f"  {src['code']} {src['label']}: bridge {route['score']:.3f}, holds {route['coverage']:.0%}, "
                   f"{route['missing']} skills missing ({route['missing_core']} core)")
        for t in route["trainings"]:
            s = t["session"]
            when = (f"session {s['id']} from {s['start'] or 'date unknown'}, {s['places'] if s['places'] is not None else '?'}"
                    f" places, {s['city'] or 'à distance'}") if s else ("entrée permanente" if t["permanent_entry"]
                                                                         else t["next_start"] or "")
            typer.echo(f"      {t['id']} {t['title']} — {when}")
        if route["residual"]:
            typer.echo(f"      no training nearby for: {', '.join(route['residual'])}")
    if body["sessions"]:
        typer.echo("sessions near the basin, soonest first:")
        for s in body["sessions"]:
            typer.echo(f"  {s['start'] or '?'}\t{s['id']}\t{s['places'] if s['places'] is not None else '?'} places"
                       f"\t{s['title']}\t(routes: {', '.join(s['routes'])})")


@trainings_app.command("validate")
def trainings_validate(file: Annotated[Path, typer.Argument(help="Catalogue CSV or JSON, or an LHEO XML file.")],
                       referentiel: SourceOption = None, as_json: JsonOption = False,
                       records: RecordsOption = "valid") -> None:
    """Check a catalogue; exit 2 with file, line, column, expected and found on the first bad row.

    LHEO (.xml): the counts (actions are the trainings), the distinct ROME codes and every record
    left out with its element path and line (``--records all``: stop at the first); exit 2 when any."""
    from referentiels.trainings import load_trainings

    _check_records(records)
    if _is_lheo(file):
        _validate_lheo(file, records, as_json)
        return

    r = referentiels.load(referentiel or "demo")
    resolver = None
    try:
        from matching.normalise import SkillNormaliser

        normaliser = SkillNormaliser.fit(r)
        resolver = lambda texts: [m.best.code if m.best else None for m in normaliser.batch(texts, k=1)]  # noqa: E731
    except Exception:  # the normaliser is optional for catalogues written with codes only
        resolver = None
    c = load_trainings(file, r, skill_resolver=resolver)
    if as_json:
        emit_json({"format": "json" if file.suffix.lower() in (".json", ".jsonl", ".ndjson") else "csv",
                   "trainings": len(c), "sessions": 0, "taught_skills": int(c.teaches.nnz),
                   "rome": sorted(set(c.frame["occupations"].explode().drop_nulls().to_list()))})
        return
    typer.echo(f"{file}: {len(c)} trainings, {c.teaches.nnz} taught skills, "
               f"{int(c.frame['remote'].sum())} remote — valid")


@trainings_app.command("import")
def trainings_import(file: Annotated[Path, typer.Argument(help="LHEO XML file, or a CSV / JSON catalogue.")],
                     records: RecordsOption = "all",
                     replace: Annotated[bool, typer.Option("--replace", help="The stored trainings become these "
                                                                              "(the default catalogue is no longer served).")] = False,
                     referentiel: SourceOption = None, database: DatabaseOption = None,
                     as_json: JsonOption = False) -> None:
    """Add a catalogue to the store (one transaction): each LHEO action a training with its sessions and
    what it teaches (with evidence); served by ``passerelles serve`` and the other commands."""
    _check_records(records)
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    _, service = _service(referentiel, database)
    body = service.ingest(file, fmt="lheo" if _is_lheo(file) else None, replace=replace, name=str(file),
                          records=records, serve=False)  # stored only: this process serves nothing
    if as_json:
        emit_json(body)
        return
    extra = f", {body['sessions']} sessions" if "sessions" in body else ""
    typer.echo(f"{file}: {body['received']} trainings{extra} imported ({body['trainings']} served, "
               f"{'replacing' if replace else 'added to'} the catalogue)")
    for p in body.get("left_out", []):
        typer.echo(f"  left out: {p['path']} (line {p['line']}): {p['message']}")
    if body.get("without_skills"):
        typer.echo(f"  {body['without_skills']} trainings teach no skill the referential knows "
                   "(no known ROME code, no matching phrase)")


@trainings_app.command("export")
def trainings_export(fmt: Annotated[str, typer.Option("--format", help="lheo (XML).")] = "lheo",
                     out: Annotated[Optional[Path], typer.Option("--out", "-o", help="File to write (default: "
                                                                                     "standard output).")] = None,
                     version: Annotated[str, typer.Option("--lheo-version", help="2.2 or 2.3.")] = "2.3",
                     catalogue: CatalogueOption = None, referentiel: SourceOption = None,
                     database: DatabaseOption = None) -> None:
    """Write the served catalogue (default + stored trainings) as LHEO XML: the trainings imported from
    LHEO as they were read (sessions as they are now), the others described from their columns."""
    import sys

    if fmt != "lheo":
        raise UsageError(f"--format: expected 'lheo', found {fmt!r}")
    if version not in ("2.2", "2.3"):
        raise UsageError(f"--lheo-version: expected 2.2 or 2.3, found {version!r}")
    _, service = _service(referentiel, database, catalogue)
    if out is None:
        service.export_lheo(sys.stdout.buffer, version=version)
        sys.stdout.buffer.flush()
        return
    formations = service.export_lheo(out, version=version)
    typer.echo(f"wrote {len(service.catalogue)} trainings in {formations} formations to {out} (LHEO {version})")


@trainings_app.command("list")
def trainings_list(skill: Annotated[Optional[str], typer.Option(help="Only trainings teaching this skill.")] = None,
                   basin: Annotated[Optional[str], typer.Option(help="Only trainings in this basin.")] = None,
                   catalogue: CatalogueOption = None, referentiel: SourceOption = None, as_json: JsonOption = False
                   ) -> None:
    """The catalogue's trainings (id, hours, place, title)."""
    import polars as pl

    _, service = _service(referentiel, None, catalogue)
    f = service.catalogue.frame
    if skill:
        f = f.filter(pl.col("skills").list.contains(skill))
    if basin:
        f = f.filter(pl.col("basin") == basin)
    if as_json:  # what each training teaches comes with its evidence (ROME codes, phrases of its texts)
        from api.services.training_service import training_dict

        emit_json([training_dict(row, service.referentiel) for row in service.training_rows(f)])
        return
    for row in f.iter_rows(named=True):
        where = ("remote" if row["remote"] else row["basin"] or (
            f"{row['lat']:.2f},{row['lon']:.2f}" if row["lat"] is not None else row.get("city") or "no place"))
        typer.echo(f"{row['id']}\t{row['hours']:.0f} h\t{where}\t{row['title']} — {row['organisation']}")


@trainings_app.command("synth")
def trainings_synth(n: Annotated[int, typer.Argument(min=1, help="Number of trainings.")],
                    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")] = Path("trainings.csv"),
                    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = 0,
                    referentiel: SourceOption = None) -> None:
    """Write a plausible synthetic catalogue in the documented CSV format."""
    write_synthetic_catalogue(referentiels.load(referentiel or "demo"), n, out, seed=seed)
    typer.echo(f"wrote {n} trainings to {out}")


def write_synthetic_catalogue(referentiel, n: int, out: Path, seed: int = 0, basins=None) -> Path:
    """The synthetic catalogue as CSV (used by ``trainings synth`` and ``passerelles synth --trainings N``)."""
    from referentiels.trainings import synthesize_trainings

    return write_catalogue_csv(synthesize_trainings(referentiel, n, basins=basins, seed=seed), out)


def write_catalogue_csv(frame, out: Path) -> Path:
    """A typed catalogue frame as the documented CSV, for people: a text cell that starts with
    ``=``, ``+``, ``-``, ``@``, tab or CR gets a ``'`` in front (``api.storage.exports``), so a
    title or an organisation is never a formula in a spreadsheet; numbers stay numbers."""
    from referentiels.trainings import csv_frame

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    exports.write_csv(csv_frame(frame), out)
    return out


@basins_app.command("list")
def basins_list(as_json: JsonOption = False) -> None:
    """The embedded job basins."""
    from referentiels.territories import default_basins

    b = default_basins()
    if as_json:
        emit_json(b.to_dicts())
        return
    for row in b.iter_rows(named=True):
        typer.echo(f"{row['id']}\t{row['name']}\t{row['region']}\t{row['lat']:.4f},{row['lon']:.4f}")


@basins_app.command("tension")
def basins_tension(basin: str, in_tension: Annotated[bool, typer.Option("--in-tension")] = False,
                   referentiel: SourceOption = None, database: DatabaseOption = None, as_json: JsonOption = False
                   ) -> None:
    """Offers, seekers and tension of each occupation of a basin (from the store)."""
    _, service = _service(referentiel, database)
    body = _basin_call(service.tension, basin, only_in_tension=in_tension)
    if as_json:
        emit_json(body)
        return
    typer.echo(f"{body['basin']['name']}: {body['definition']}")
    for o in body["occupations"]:
        flag = "TENSION" if o["in_tension"] else ""
        typer.echo(f"  {o['occupation']}\t{o['offers']:5d} offers\t{o['seekers']:5d} seekers\t{o['tension']:.3f}"
                   f"\t{flag}\t{o['label']}")


@basins_app.command("passerelles")
def basins_passerelles(basin: str, code: str, k: Annotated[int, typer.Option("-k", min=1, max=100)] = 10,
                       weight: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
                       sector: Annotated[Optional[list[str]], typer.Option(
                           help="Keep targets in this sector (repeatable).")] = None,
                       cross_sector_only: Annotated[bool, typer.Option("--cross-sector-only")] = False,
                       min_score: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest bridge score.")] = 0.0,
                       referentiel: SourceOption = None, database: DatabaseOption = None,
                       as_json: JsonOption = False) -> None:
    """Bridges from CODE ranked by bridge score and the target's tension in BASIN (filters as for `bridges`)."""
    from matching.passerelles import UnknownSector

    state, service = _service(referentiel, database)
    _check_occupation(state, code)
    try:
        body = _basin_call(service.passerelles_toward_tension, code, basin, k=k, weight=weight,
                           min_score=min_score, cross_sector_only=cross_sector_only, sectors=sector or None)
    except UnknownSector as error:
        raise UsageError(f"--sector: unknown sector {error.sector!r}; `passerelles bridges --list-sectors` lists them") from None
    if as_json:
        emit_json(body)
        return
    for p in body["passerelles"]:
        typer.echo(f"  {p['code']}\tcombined {p['combined']:.3f}\tscore {p['score']:.3f}\ttension {p['tension']:.3f}"
                   f"\t{p['label']}")


@basins_app.command("needs")
def basins_needs(basin: str, radius: Annotated[float, typer.Option(min=0)] = 50.0,
                 top: Annotated[int, typer.Option(min=1)] = 20,
                 targets: Annotated[Optional[str], typer.Option(help="Comma-separated targets (default: in tension).")] = None,
                 catalogue: CatalogueOption = None, referentiel: SourceOption = None, database: DatabaseOption = None,
                 as_json: JsonOption = False) -> None:
    """The skills a basin's seekers most miss toward its occupations in tension, and the trainings that close them."""
    state, service = _service(referentiel, database, catalogue)
    codes = [c.strip() for c in targets.split(",")] if targets else None
    for c in codes or []:
        _check_occupation(state, c)
    body = _basin_call(service.training_needs, basin, radius_km=radius, top=top, targets=codes)
    if as_json:
        emit_json(body)
        return
    typer.echo(f"{body['basin']['name']}: {body['seekers_with_target']} seekers toward "
               f"{', '.join(t['code'] for t in body['targets']) or 'no occupation in tension'}; "
               f"gap {body['total_gap_weight']:.1f}, closable nearby {body['closable_share'] or 0:.0%}")
    typer.echo("most missing skills:")
    for s in body["skills"]:
        typer.echo(f"  {s['code']}\t{s['missing_weight']:9.1f}\t{s['seekers']:5d} seekers\t"
                   f"{s['trainings_nearby']:3d} trainings\t{s['label']}")
    typer.echo("trainings closing the most gap:")
    for t in body["trainings"]:
        typer.echo(f"  {t['id']}\t{t['closable_weight']:9.1f}\t{t['seekers_helped']:5d} seekers\t{t['title']}")
    if body["missing_trainings"]:
        typer.echo("no training nearby for: " + "; ".join(f"{g['group']} ({g['missing_weight']:.0f})"
                                                        for g in body["missing_trainings"]))
