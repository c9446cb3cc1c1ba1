"""Job basins over HTTP: the basins, tension per occupation, passerelles toward tension, training needs.

- ``GET /basins``: every job basin (id, name, region, department, lat, lon).
- ``GET /basins/{id}/tension?in_tension=false&occupations=A,B``: offers, seekers and tension of
  each occupation of the basin (the store's seekers and offers).
- ``GET /basins/{id}/passerelles/{code}?k=10&weight=0.5``: bridges from ``code`` ranked by bridge
  score and the target's tension in the basin (``weight`` 0 = bridge score only), with the filters
  of ``/occupations/{code}/passerelles`` (sector, domain, cross_sector_only, min_score, min_label).
- ``GET /seekers/{id}/passerelles?basin=&k=10&weight=0.5``: the same for a stored seeker (their occupation and basin).
- ``GET /basins/{id}/training-needs?radius=50&top=20``: the skills the basin's seekers most miss
  toward its occupations in tension, the trainings within ``radius`` km that close the most gap,
  and the skill groups no nearby training teaches (the trainings to buy).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.http import security
from api.http.pagination import PageParams, paginate_as, wide_page_params
from api.http.dependencies import get_state, occupation_codes
from api.services.state import AppState
from api.services.training_service import TrainingService, UnknownBasin
from api.http.routers.trainings import basin_problem, occupation_row

router = APIRouter(tags=["basins"])
aggregates = security.tension  # the one rule of tension (api/http/security/roles.py)


@router.get("/basins", dependencies=[Depends(security.referential)])
def list_basins(state: Annotated[AppState, Depends(get_state)], request: Request, response: Response,
                page: Annotated[PageParams, Depends(wide_page_params)]) -> dict:
    """Every job basin (paginated: ``limit``, ``offset``; ``count`` is ``total``, kept for old clients)."""
    basins = TrainingService.of(state).basins
    return paginate_as("basins", basins.to_dicts(), page, request, response, count=basins.height)


@router.get("/basins/{id}/tension", dependencies=[Depends(aggregates)],
            responses={404: {"description": "Unknown basin, with suggestions"}})
def basin_tension(id: str, state: Annotated[AppState, Depends(get_state)], request: Request, response: Response,
                  page: Annotated[PageParams, Depends(wide_page_params)],
                  codes: Annotated[list[str] | None, Depends(occupation_codes("occupations", "Only these occupations."))],
                  in_tension: Annotated[bool, Query(description="Only occupations in tension.")] = False,
                  ) -> dict:
    """Offers, seekers and tension of each occupation of the basin (paginated: ``limit``, ``offset``)."""
    try:
        body = TrainingService.of(state).tension(id, codes, only_in_tension=in_tension)
    except UnknownBasin as error:
        raise basin_problem(error) from None
    rows = body.pop("occupations")
    return paginate_as("occupations", rows, page, request, response, **body)


@router.get("/basins/{id}/passerelles/{code}", dependencies=[Depends(aggregates)],
            responses={404: {"description": "Unknown basin or occupation, with suggestions"}})
def basin_passerelles(id: str, code: str, state: Annotated[AppState, Depends(get_state)],
                      k: Annotated[int, Query(ge=1, le=100)] = 10,
                      weight: Annotated[float, Query(ge=0, le=1, description="Weight of tension vs bridge score.")] = 0.5,
                      min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
                      cross_sector_only: bool = False,
                      sector: Annotated[list[str] | None, Query(description="Targets in any of these sectors.")] = None,
                      domain: Annotated[list[str] | None, Query(description="Targets of these domains (H29, H).")] = None,
                      min_label: Annotated[Literal["stretch", "viable", "highly viable"] | None, Query()] = None,
                      ) -> dict:
    """Bridges from ``code`` ranked toward tension in the basin, with the filters of
    ``/occupations/{code}/passerelles`` (the same ranking as its ``toward_tension=true``)."""
    from matching.passerelles import UnknownSector

    from api.http.routers.bridges import unknown_sector

    occupation_row(state, code, "code")
    try:
        return TrainingService.of(state).passerelles_toward_tension(
            code, id, k=k, weight=weight, min_score=min_score, cross_sector_only=cross_sector_only,
            sectors=[s for s in sector or [] if s] or None, domains=[d for d in domain or [] if d] or None,
            min_label=min_label)
    except UnknownBasin as error:
        raise basin_problem(error) from None
    except UnknownSector as error:
        raise unknown_sector(state, error) from None


@router.get("/basins/{id}/training-needs", dependencies=[Depends(aggregates)],
            responses={404: {"description": "Unknown basin, with suggestions"}})
def basin_training_needs(id: str, state: Annotated[AppState, Depends(get_state)],
                         codes: Annotated[list[str] | None, Depends(occupation_codes(
                             "targets", "Target occupations (default: those in tension)."))],
                         radius: Annotated[float, Query(ge=0, le=2000)] = 50.0,
                         top: Annotated[int, Query(ge=1, le=500)] = 20,
                         ) -> dict:
    """The skills the basin's seekers most miss toward its occupations in tension and the trainings
    that close them (the ``top`` skills: bounded by ``top``, not paginated)."""
    try:
        return TrainingService.of(state).training_needs(id, radius_km=radius, top=top, targets=codes)
    except UnknownBasin as error:
        raise basin_problem(error) from None


@router.get("/seekers/{id}/passerelles", dependencies=[Depends(security.seekers)],
            responses={404: {"description": "Unknown seeker, or a seeker without occupation or basin"}})
def seeker_passerelles(id: str, state: Annotated[AppState, Depends(get_state)],
                       basin: Annotated[str | None, Query(description="Default: the seeker's basin.")] = None,
                       k: Annotated[int, Query(ge=1, le=100)] = 10,
                       weight: Annotated[float, Query(ge=0, le=1)] = 0.5,
                       cross_sector_only: bool = False) -> dict:
    """A seeker's passerelles (from their occupation) ranked by bridge score and tension in their basin."""
    from api.http.problems import Problem

    record = state.pool.get("seekers", id)
    if record is None:
        raise Problem(404, "unknown-seeker", "Unknown seeker", f"No seeker has the id {id!r}.", field="id", value=id)
    code, basin = record.get("occupation"), basin or record.get("basin")
    if not code or code not in state.referentiel.occupation_index or not basin:
        raise Problem(404, "seeker-without-occupation-or-basin", "Seeker without occupation or basin",
                      f"Seeker {id!r} needs a known occupation and a basin (or pass basin=) to rank passerelles.",
                      field="occupation" if not code else "basin")
    try:
        body = TrainingService.of(state).passerelles_toward_tension(code, basin, k=k, weight=weight,
                                                                    cross_sector_only=cross_sector_only)
    except UnknownBasin as error:
        raise basin_problem(error) from None
    return {**body, "seeker": id}
