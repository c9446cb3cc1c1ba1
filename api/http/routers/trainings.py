"""Training catalogue and skill gaps over HTTP (issue 6).

- ``GET /trainings?basin=&skill=&q=&limit=&offset=``: the catalogue, filtered (public like the referential).
- ``GET /trainings/{id}``: one training, what it teaches with its evidence, its sessions (places, dates).
- ``POST /trainings:ingest?mode=append|replace``: a catalogue body (CSV ``text/csv``, a JSON array or
  JSON Lines) in the documented format (docs/trainings-format.md), or the regional offer in LHEO
  (``application/xml``; ``records=all`` refuses the body at its first bad record, ``records=valid``
  loads the others and lists those left out); a bad row answers 422 ``invalid-catalogue`` naming
  line, column (for LHEO the element path), expected and found; nothing is changed then. Parsed off
  the event loop under a heavy-work slot.
- ``GET /occupations/{a}/gaps/{b}``: the skills ``b`` needs that ``a`` does not hold (the same skill,
  or one that contains it: matching/relation.py), core first — a gap skill related to one held is
  marked ``close_to`` / ``possibly_quick_to_acquire`` —, and a training plan (``plan=false`` to skip; ``basin`` or
  ``lat``/``lon`` + ``radius``, ``from``/``to`` dates, ``max_hours``).
- ``GET /occupations/{code}/access-routes?basin=&k=&radius=``: the occupations that lead to ``code``
  (inbound passerelles), each with its gap and the trainings and sessions near the basin that close it.
- ``GET /seekers/{id}/gaps?target=CODE``: the same for a stored seeker; the plan respects the
  seeker's place and radius (counsellors; audited).
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request, Response

from referentiels import ReferentielError

from api.http import security
from api.http.ids import path_id
from api.http.pagination import PageParams, catalogue_page_params, next_url
from api.http.problems import Problem, not_found
from api.http.dependencies import get_state
from api.services.state import AppState
from api.services.training_service import TrainingService, UnknownBasin, UnknownSeeker, training_dict

router = APIRouter(tags=["trainings"])

MAX_CATALOGUE_BYTES = 100_000_000
catalogue_admin = security.require("admin", "federation")

FORMATS = {"text/csv": "csv", "application/csv": "csv", "application/json": "json",
           "application/x-ndjson": "json", "application/jsonl": "json", "application/x-jsonlines": "json",
           "application/xml": "lheo", "text/xml": "lheo", "application/lheo+xml": "lheo"}


def occupation_row(state: AppState, code: str, field: str) -> int:
    if code not in state.referentiel.occupation_index:
        raise not_found("occupation", code, state.occupation_suggester.suggest(code), field=field)
    return state.referentiel.occupation_index[code]


def basin_problem(error: UnknownBasin) -> Problem:
    from rapidfuzz import process

    close = [m[0] for m in process.extract(error.basin, error.known, limit=3)]
    return Problem(404, "unknown-basin", "Unknown job basin",
                   f"No job basin has the id {error.basin!r}. Did you mean {', '.join(close)}? GET /basins lists them.",
                   field="basin", value=error.basin, suggestions=[{"code": c, "label": c} for c in close])


def catalogue_problem(error: ReferentielError) -> Problem:
    return Problem(422, "invalid-catalogue", "Invalid training catalogue", str(error), **{
        k: v for k, v in error.as_dict().items() if k != "message"})


class PlanQuery:
    def __init__(self, basin: Annotated[str | None, Query(description="Job basin id: the plan's place.")] = None,
                 lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
                 lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
                 radius: Annotated[float | None, Query(ge=0, le=2000, description="km around the place (default 50).")] = None,
                 start_from: Annotated[date | None, Query(alias="from", description="Earliest start date.")] = None,
                 start_to: Annotated[date | None, Query(alias="to", description="Latest start date.")] = None,
                 max_hours: Annotated[float | None, Query(gt=0, le=10_000, description="Longest training accepted (hours).")] = None,
                 plan: bool = True, related: Annotated[bool, Query(
                     description="Count a skill as held when one that contains it is held, and mark the close "
                                 "ones (as the passerelles do); false: exact matches only.")] = True):
        if (lat is None) != (lon is None):
            raise Problem(422, "bad-place", "Incomplete place", "Give both lat and lon, or a basin.",
                          field="lat" if lat is None else "lon")
        self.basin, self.lat, self.lon, self.radius = basin, lat, lon, radius
        self.start_from, self.start_to, self.max_hours, self.plan, self.related = (
            start_from, start_to, max_hours, plan, related)


@router.get("/trainings", dependencies=[Depends(security.referential)])
def list_trainings(state: Annotated[AppState, Depends(get_state)], request: Request, response: Response,
                   page: Annotated[PageParams, Depends(catalogue_page_params)],
                   basin: str | None = None, skill: str | None = None,
                   q: Annotated[str | None, Query(max_length=200, description="Words of the title or organisation.")] = None) -> dict:
    """The training catalogue, filtered by basin, taught skill code or words (paginated: ``limit``,
    ``offset``, ``next`` and a ``Link`` header while there is a next page)."""
    service = TrainingService.of(state)
    catalogue = service.catalogue
    f = catalogue.frame
    if basin is not None:
        f = f.filter(pl.col("basin") == basin)
    if skill is not None:
        f = f.filter(pl.col("skills").list.contains(skill))
    if q:
        for word in q.lower().split():
            f = f.filter(pl.col("title").str.to_lowercase().str.contains(word, literal=True)
                         | pl.col("organisation").str.to_lowercase().str.contains(word, literal=True))
    limit, offset = page.limit, page.offset
    rows = f.slice(offset, limit)
    following = next_url(request, page, f.height)
    if following is not None:
        response.headers["Link"] = f'<{following}>; rel="next"'
    r = state.referentiel
    return {"total": f.height, "offset": offset, "limit": limit, "next": following,
            "catalogue": catalogue.source,
            "trainings": [training_dict(row, r) for row in service.training_rows(rows, catalogue)]}


@router.get("/trainings/{id}", dependencies=[Depends(security.referential)],
            responses={404: {"description": "Unknown training"}})
def get_training(id: str, state: Annotated[AppState, Depends(get_state)]) -> dict:
    """One training: what it teaches and why (``evidence``: the core skills of its ROME occupations,
    the phrases of its objective and content matched to skills), and its sessions (period,
    recruiting state, place, capacity)."""
    body = TrainingService.of(state).training(id)
    if body is None:
        raise Problem(404, "unknown-training", "Unknown training", f"No training has the id {id!r}.", field="id",
                      value=id)
    return body


@router.post("/trainings:ingest", dependencies=[Depends(catalogue_admin)],
             responses={422: {"description": "A row of the catalogue is invalid (line, column, expected, found)"}})
async def ingest_trainings(request: Request, state: Annotated[AppState, Depends(get_state)],
                           mode: Literal["append", "replace"] = "append",
                           records: Annotated[Literal["all", "valid"], Query(
                               description="LHEO: 'all' refuses the body at its first bad record; 'valid' loads "
                                           "the others and lists those left out.")] = "all") -> dict:
    """Add trainings to the catalogue (``append``: equal ids are replaced) or replace it; all or nothing
    (LHEO with ``records=valid``: all the valid records or nothing)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_CATALOGUE_BYTES:
        raise Problem(413, "payload-too-large", "Catalogue too large", f"At most {MAX_CATALOGUE_BYTES} bytes.")
    fmt = FORMATS.get(request.headers.get("content-type", "").split(";")[0].strip().lower())
    # an LHEO body (up to the limit, a regional flux) goes to a temporary file as it arrives: the
    # streaming import reads it from there instead of holding it in memory during the import
    spool = tempfile.TemporaryDirectory(prefix="passerelles-ingest-") if fmt == "lheo" else None
    try:
        chunks, size = [], 0
        sink = (Path(spool.name) / "body.xml").open("wb") if spool is not None else None
        try:
            async for chunk in request.stream():  # stop reading past the limit (a body without Content-Length too)
                size += len(chunk)
                if size > MAX_CATALOGUE_BYTES:
                    raise Problem(413, "payload-too-large", "Catalogue too large",
                                  f"At most {MAX_CATALOGUE_BYTES} bytes.")
                if sink is not None:
                    sink.write(chunk)
                else:
                    chunks.append(chunk)
        finally:
            if sink is not None:
                sink.close()
        body = Path(spool.name) / "body.xml" if spool is not None else b"".join(chunks)
        chunks.clear()
        from api.http.security import budget

        def work(_: None) -> dict:
            return TrainingService.of(state).ingest(body, fmt=fmt, replace=mode == "replace", name="body",
                                                    records=records)

        try:  # off the event loop, under one of the app's heavy slots
            return (await budget.run_chunks(request, work, [None]))[0]
        except ReferentielError as error:
            raise catalogue_problem(error) from None
    finally:
        if spool is not None:
            spool.cleanup()


@router.get("/occupations/{a}/gaps/{b}", dependencies=[Depends(security.referential)],
            responses={404: {"description": "Unknown occupation or basin, with suggestions"}})
def occupation_gaps(a: str, b: str, state: Annotated[AppState, Depends(get_state)],
                    query: Annotated[PlanQuery, Depends()]) -> dict:
    """Missing skills of a move ``a -> b`` (weighted by importance to ``b``, core first) and a training plan."""
    occupation_row(state, a, "a")
    occupation_row(state, b, "b")
    try:
        return TrainingService.of(state).occupation_gap(
            a, b, related=query.related, plan=query.plan, basin=query.basin, lat=query.lat, lon=query.lon,
            radius_km=query.radius, earliest=query.start_from, latest=query.start_to, max_hours=query.max_hours)
    except UnknownBasin as error:
        raise basin_problem(error) from None


@router.get("/occupations/{code}/access-routes", dependencies=[Depends(security.referential)],
            responses={404: {"description": "Unknown occupation or basin, with suggestions"}})
def access_routes(code: str, state: Annotated[AppState, Depends(get_state)],
                  basin: Annotated[str, Query(description="Job basin id (GET /basins).")],
                  k: Annotated[int, Query(ge=1, le=50, description="Routes (inbound passerelles) to show.")] = 10,
                  radius: Annotated[float, Query(ge=0, le=500, description="km around the basin's main town.")] = 50.0,
                  min_score: Annotated[float, Query(ge=0, le=1, description="Lowest bridge score.")] = 0.0) -> dict:
    """The routes into an occupation around a basin: the occupations with the best bridge into it, each
    with its gap and the trainings near the basin that close it, each with its next session (places
    left, dates); and the distinct sessions, soonest first, with the routes each serves."""
    occupation_row(state, code, "code")
    try:
        return TrainingService.of(state).access_routes(code, basin, k=k, radius_km=radius, min_score=min_score)
    except UnknownBasin as error:
        raise basin_problem(error) from None


@router.get("/seekers/{id}/gaps", dependencies=[Depends(security.seekers)],
            responses={404: {"description": "Unknown seeker or occupation"}})
def seeker_gaps(id: str, target: Annotated[str, Query(description="Target occupation code.")],
                state: Annotated[AppState, Depends(get_state)], query: Annotated[PlanQuery, Depends()]) -> dict:
    """Missing skills of a stored seeker toward ``target`` and a plan near the seeker (their radius)."""
    occupation_row(state, target, "target")
    id = path_id(id)
    try:
        return TrainingService.of(state).seeker_gap(
            id, target, related=query.related, plan=query.plan, radius_km=query.radius, earliest=query.start_from,
            latest=query.start_to, max_hours=query.max_hours)
    except UnknownSeeker:
        raise Problem(404, "unknown-seeker", "Unknown seeker", f"No seeker has the id {id!r}.",
                      field="id", value=id) from None
    except UnknownBasin as error:
        raise basin_problem(error) from None
