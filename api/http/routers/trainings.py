"""Training catalogue and skill gaps over HTTP (issue 6).

- ``GET /trainings?basin=&skill=&q=&limit=&offset=``: the catalogue, filtered (public like the referential).
- ``POST /trainings:ingest?mode=append|replace``: a catalogue body (CSV ``text/csv``, a JSON array or
  JSON Lines) in the documented format (docs/trainings-format.md); a bad row answers 422
  ``invalid-catalogue`` naming line, column, expected and found; nothing is changed then.
- ``GET /occupations/{a}/gaps/{b}``: the skills ``b`` needs that ``a`` does not hold (exactly or
  through a related skill), core first, and a training plan (``plan=false`` to skip; ``basin`` or
  ``lat``/``lon`` + ``radius``, ``from``/``to`` dates, ``max_hours``).
- ``GET /seekers/{id}/gaps?target=CODE``: the same for a stored seeker; the plan respects the
  seeker's place and radius (counsellors; audited).
"""

from __future__ import annotations

from datetime import date
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
from api.services.training_service import TrainingService, UnknownBasin, UnknownSeeker

router = APIRouter(tags=["trainings"])

MAX_CATALOGUE_BYTES = 100_000_000
catalogue_admin = security.require("admin", "federation")

FORMATS = {"text/csv": "csv", "application/csv": "csv", "application/json": "json",
           "application/x-ndjson": "json", "application/jsonl": "json", "application/x-jsonlines": "json"}


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
                     description="Count a skill as held when a related skill is held (as the passerelles do).")] = True):
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
    f = service.catalogue.frame
    if basin is not None:
        f = f.filter(pl.col("basin") == basin)
    if skill is not None:
        f = f.filter(pl.col("skills").list.contains(skill))
    if q:
        for word in q.lower().split():
            f = f.filter(pl.col("title").str.to_lowercase().str.contains(word, literal=True)
                         | pl.col("organisation").str.to_lowercase().str.contains(word, literal=True))
    limit, offset = page.limit, page.offset
    rows = f.slice(offset, limit).with_columns(pl.col("start_dates").cast(pl.List(pl.String)))
    following = next_url(request, page, f.height)
    if following is not None:
        response.headers["Link"] = f'<{following}>; rel="next"'
    return {"total": f.height, "offset": offset, "limit": limit, "next": following,
            "catalogue": service.catalogue.source, "trainings": rows.to_dicts()}


@router.post("/trainings:ingest", dependencies=[Depends(catalogue_admin)],
             responses={422: {"description": "A row of the catalogue is invalid (line, column, expected, found)"}})
async def ingest_trainings(request: Request, state: Annotated[AppState, Depends(get_state)],
                           mode: Literal["append", "replace"] = "append") -> dict:
    """Add trainings to the catalogue (``append``: equal ids are replaced) or replace it; all or nothing."""
    body = await request.body()
    if len(body) > MAX_CATALOGUE_BYTES:
        raise Problem(413, "payload-too-large", "Catalogue too large", f"At most {MAX_CATALOGUE_BYTES} bytes.")
    fmt = FORMATS.get(request.headers.get("content-type", "").split(";")[0].strip().lower())
    try:
        return TrainingService.of(state).ingest(body, fmt=fmt, replace=mode == "replace", name="body")
    except ReferentielError as error:
        raise catalogue_problem(error) from None


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
