"""Career bridges over HTTP: passerelles of an occupation, sectors, sector-pair maps, paths, graph."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process, utils

from matching.passerelles import UnknownSector

from api.http.pagination import PageFields, PageParams, paginate_as, wide_page_params
from api.http.problems import Problem, not_found
from api.http import security
from api.http.dependencies import get_state
from api.services.state import AppState

router = APIRouter(tags=["passerelles"], dependencies=[Depends(security.referential_cached)])


class SkillOut(BaseModel):
    code: str
    label: str
    kind: str
    weight: float
    core: bool
    via: dict | None = Field(None, description=(
        "For a held skill held through another, or a close skill: the source's skill (code, label), the soft "
        "similarity, the rule that decided and the evidence (matching/relation.py); none when held exactly."))


class SectorOut(BaseModel):
    sector: str
    principal: bool


class SourceOut(BaseModel):
    code: str
    label: str
    domain: str | None
    domain_label: str | None
    sectors: list[SectorOut]


class PasserelleOut(BaseModel):
    code: str
    label: str
    sectors: list[str]
    domain: str | None
    score: float
    similarity: float
    coverage: float
    viability: str | None
    shared: list[SkillOut] = Field(description="Held: the same skill, or one that contains it.")
    close: list[SkillOut] = Field([], description=(
        "Related to a skill of the source, not held: worth checking, possibly quick to acquire; part of the gap."))
    missing: list[SkillOut] = Field(description="Neither held nor close.")
    tension: float | None = Field(None, description="With basin: the target's tension in that job basin, "
                                  "(offers + 1) / (offers + seekers + 2).")
    combined: float | None = Field(None, description="With basin: score^(1-w) x (2 x tension)^w (w = "
                                   "tension_weight), the ranking value when toward_tension.")
    offers: int | None = Field(None, description="With basin: open offers of the target occupation there.")
    seekers: int | None = Field(None, description="With basin: seekers of the target occupation there.")


class BasinOut(BaseModel):
    id: str
    name: str


class PasserellesOut(BaseModel):
    source: SourceOut
    filters: dict
    basin: BasinOut | None = Field(None, description="The job basin of tension, when basin was given.")
    passerelles: list[PasserelleOut]


class SectorCount(BaseModel):
    sector: str
    occupations: int


class SectorsOut(PageFields):
    sectors: list[SectorCount]


class SectorBridgeOut(BaseModel):
    direction: str
    source: str
    source_label: str
    target: str
    target_label: str
    score: float
    similarity: float
    coverage: float
    viability: str | None
    shared_skills: int
    close_skills: int = 0
    missing_skills: int
    close_core: int = 0
    missing_core: int


class CommonSkillOut(BaseModel):
    skill: str
    label: str
    kind: str
    bridges: int
    a_to_b: int
    b_to_a: int
    share: float


class SectorPairOut(BaseModel):
    sector_a: str
    sector_b: str
    counts: dict[str, int]
    bridges: list[SectorBridgeOut]
    common_skills: list[CommonSkillOut] = Field(description="Target skills the sources hold, most held first.")
    close_skills: list[CommonSkillOut] = Field([], description="Target skills only close (related, not held), apart.")


def occupation_row(state: AppState, code: str, field: str = "code") -> int:
    """Row of an occupation code, or a 404 problem with 'did you mean' suggestions."""
    r = state.referentiel
    if code not in r.occupation_index:
        raise not_found("occupation", code, state.occupation_suggester.suggest(code), field=field)
    return r.occupation_index[code]


def unknown_sector(state: AppState, error: UnknownSector, field: str = "sector") -> Problem:
    names = error.known
    close = process.extract(error.sector, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=3)
    suggestions = [{"code": name, "label": name} for name, _, _ in close]
    hint = (" Did you mean " + ", ".join(repr(s["code"]) for s in suggestions) + "?") if suggestions else ""
    return Problem(404, "unknown-sector", "Unknown sector", f"No sector is named {error.sector!r}.{hint} "
                   "GET /sectors lists them.", field=field, value=error.sector, suggestions=suggestions)


def source_card(state: AppState, row: int) -> dict:
    r = state.referentiel
    occ = r.occupations.row(row, named=True)
    index = state.passerelles
    return {"code": occ["code"], "label": occ["label"], "domain": occ["domain"], "domain_label": occ["domain_label"],
            "sectors": [{"sector": s, "principal": bool(index.principal[row, index.sector_names.index(s)])}
                        for s in index.sectors_of(row)]}


def tension_access(request: Request) -> None:
    """The one rule of tension (``security.tension_access``: 401 / 403 unless a federation, counsellor
    or admin key); the answer is then not cached (it follows the store)."""
    request.scope.get("state", {}).pop("cache_key", None)  # not kept: the answer follows the store
    security.tension_access(request)


@router.get("/occupations/{code}/passerelles", response_model=PasserellesOut,
            responses={404: {"description": "Unknown occupation code, sector or job basin, with suggestions"}})
def passerelles(
    code: str,
    request: Request,
    state: Annotated[AppState, Depends(get_state)],
    k: Annotated[int, Query(ge=1, le=500, description="Number of bridges.")] = 10,
    sector: Annotated[list[str] | None, Query(description="Keep targets in any of these sectors (repeatable).")] = None,
    domain: Annotated[list[str] | None, Query(description="Keep targets of these professional domains "
                                              "(e.g. H29) or great domains (e.g. H) (repeatable).")] = None,
    cross_sector_only: Annotated[bool, Query(description="Only targets sharing no activity sector with the source.")] = False,
    min_score: Annotated[float, Query(ge=0.0, le=1.0, description="Lowest bridge score kept.")] = 0.0,
    min_label: Annotated[Literal["stretch", "viable", "highly viable"] | None,
                         Query(description="Lowest calibrated viability kept (docs/calibration.md).")] = None,
    basin: Annotated[str | None, Query(max_length=100, description=(
        "Job basin id (GET /basins): each bridge then carries its target's tension, offers and seekers "
        "there. Needs a federation, counsellor or admin key."))] = None,
    toward_tension: Annotated[bool, Query(description=(
        "Rank by bridge score and the target's tension in `basin` (the safe and desirable move): "
        "score^(1-w) x (2 x tension)^w. Needs basin; every other filter still applies."))] = False,
    tension_weight: Annotated[float, Query(ge=0.0, le=1.0, description=(
        "w: weight of tension against the bridge score (0 = bridge score only)."))] = 0.5,
) -> dict:
    """The best career bridges from one occupation: score, calibrated viability, held (``shared``), close and
    missing skills;
    with ``basin`` and ``toward_tension``, ranked toward the occupations in tension of that job basin."""
    from api.services.training_service import TrainingService, UnknownBasin
    from api.http.routers.trainings import basin_problem

    row = occupation_row(state, code)
    if toward_tension and not basin:
        raise Problem(422, "invalid-request", "Invalid request",
                      "toward_tension=true ranks toward the tension of a job basin: give basin=<id> "
                      "(GET /basins lists them).", field="basin")
    sectors = [s for s in (sector or []) if s]
    filters = {"sectors": sectors or None, "domains": [d for d in (domain or []) if d] or None,
               "cross_sector_only": cross_sector_only, "min_score": min_score, "min_label": min_label}
    basin_out = None
    try:
        if basin:
            service = TrainingService.of(state)
            try:
                basin_out = {"id": basin, "name": service.basin(basin)["name"]}
            except UnknownBasin as error:
                raise basin_problem(error) from None
            tension_access(request)
            found = service.passerelles_in_basin(row, basin, k=k, toward_tension=toward_tension,
                                                 weight=tension_weight, **filters)
        else:
            found = [p.to_dict() for p in state.passerelles.query(row, k, **filters)]
    except UnknownSector as error:
        raise unknown_sector(state, error) from None
    return {"source": source_card(state, row),
            "filters": {"k": k, "sector": sectors, "domain": domain or [], "cross_sector_only": cross_sector_only,
                        "min_score": min_score, "min_label": min_label, "basin": basin,
                        "toward_tension": toward_tension, "tension_weight": tension_weight},
            "basin": basin_out, "passerelles": found}


@router.get("/sectors", response_model=SectorsOut)
def sectors(state: Annotated[AppState, Depends(get_state)], request: Request, response: Response,
            page: Annotated[PageParams, Depends(wide_page_params)]) -> dict:
    """The referential's activity sectors with their number of occupations (paginated: ``limit``, ``offset``)."""
    counts = state.referentiel.sectors.group_by("sector").len().sort("sector")
    return paginate_as("sectors", [{"sector": s, "occupations": int(n)} for s, n in counts.iter_rows()],
                       page, request, response)


@router.get("/sectors/{sector_a}/bridges/{sector_b}", response_model=SectorPairOut,
            responses={404: {"description": "Unknown sector, with suggestions"},
                       413: {"description": "k_per_source x the occupations of both sectors is above the "
                                            "caller's work budget per request; the problem says which k fits"}})
def sector_pair(
    sector_a: str,
    sector_b: str,
    request: Request,
    state: Annotated[AppState, Depends(get_state)],
    k_per_source: Annotated[int, Query(ge=1, le=100, description="Best targets kept per source occupation.")] = 5,
    min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    top_skills: Annotated[int, Query(ge=1, le=5000, description="Common skills listed.")] = 50,
    kind: Annotated[list[Literal["savoir-faire", "savoir", "savoir-être"]] | None,
                    Query(description="Common skills of these kinds only (repeatable), e.g. savoir-faire.")] = None,
) -> dict:
    """Every bridge between two sectors, both directions, the skills their sources hold (common skills, most held
    first) and, apart, the skills only close.
    An uncached answer is charged k_per_source x the occupations of both sectors to the caller's
    work budget (api/http/security/budget.py)."""
    from api.http.routers.kits import sector_rows
    from api.http.security import budget

    rows = sector_rows(state, sector_a, sector_b)
    budget.charge(request, "rows", k_per_source * rows, budget.rows_hint(k_per_source, rows))
    try:
        pair = state.passerelles.sector_pair_map(sector_a, sector_b, k_per_source=k_per_source, min_score=min_score)
    except UnknownSector as error:
        raise unknown_sector(state, error, field="sector_a" if error.sector == sector_a else "sector_b") from None
    return pair.to_dict(top_skills=top_skills, kinds=kind)


# ---- career paths and the occupation graph ----------------------------------------------------------
class CareerPathOut(BaseModel):
    codes: list[str]
    score: float
    steps: list[dict]


class PathsOut(BaseModel):
    source: SourceOut
    target: SourceOut
    max_steps: int
    paths: list[CareerPathOut]


@router.get("/paths", response_model=PathsOut,
            responses={404: {"description": "Unknown occupation code, with suggestions"}})
def paths(
    state: Annotated[AppState, Depends(get_state)],
    from_: Annotated[str, Query(alias="from", description="Source occupation code, e.g. H2102.")],
    to: Annotated[str, Query(description="Target occupation code.")],
    max_steps: Annotated[int, Query(ge=1, le=3, description="Bridges per path, at most.")] = 3,
    n: Annotated[int, Query(ge=1, le=20, description="Number of paths.")] = 3,
) -> dict:
    """Best career paths (at most 3 bridges) maximising the product of bridge scores, each step explained."""
    from matching.graph import career_paths

    a, b = occupation_row(state, from_, field="from"), occupation_row(state, to, field="to")
    if a == b:
        raise Problem(422, "invalid-request", "Invalid request", "'from' and 'to' are the same occupation.",
                      field="to")
    found = career_paths(state.passerelles, state.bridge_graph, a, b, max_steps=max_steps, n_paths=n,
                         edges=state.bridge_edges)
    return {"source": source_card(state, a), "target": source_card(state, b), "max_steps": max_steps,
            "paths": [p.to_dict() for p in found]}


MEDIA_TYPES = {"graphml": "application/graphml+xml", "gexf": "application/gexf+xml", "json": "application/json"}


def _graph(state: AppState, k: int, min_score: float, sector: list[str] | None, skills: bool):
    from matching.graph import bridge_graph

    sectors = [s for s in (sector or []) if s]
    if k == 10 and min_score == 0.0 and not sectors and not skills:
        return state.bridge_graph
    index = state.passerelles
    rows = None
    if sectors:
        try:
            rows = index.membership[:, index.sector_ids(sectors)].any(axis=1).nonzero()[0]
        except UnknownSector as error:
            raise unknown_sector(state, error) from None
    return bridge_graph(index, k=k, min_score=min_score, skills=skills, occupations=rows)


GraphK = Annotated[int, Query(ge=1, le=50, description="Bridges kept per occupation.")]
GraphMin = Annotated[float, Query(ge=0.0, le=1.0, description="Lowest bridge score kept.")]
GraphSector = Annotated[list[str] | None, Query(description="Restrict to occupations of these sectors.")]


@router.get("/graph", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()},
                                       "description": "The occupation graph"}})
def graph(
    state: Annotated[AppState, Depends(get_state)],
    format: Annotated[str, Query(pattern="^(graphml|gexf|json)$", description="graphml, gexf or json (node-link).")] = "json",
    k: GraphK = 10,
    min_score: GraphMin = 0.0,
    sector: GraphSector = None,
    skills: Annotated[bool, Query(description="Attach the occupations' skills as nodes.")] = False,
):
    """The occupation graph: occupations as nodes, their best bridges as weighted edges."""
    from fastapi.responses import Response

    from matching.graph import export

    g = _graph(state, k, min_score, sector, skills)
    return Response(export(g, format), media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="passerelles.{format}"'})


@router.get("/graph/hubs")
def graph_hubs(
    state: Annotated[AppState, Depends(get_state)],
    top: Annotated[int, Query(ge=1, le=500)] = 20,
    k: GraphK = 10,
    min_score: GraphMin = 0.0,
    sector: GraphSector = None,
) -> dict:
    """Hub occupations: those opening the most cross-sector bridges in the graph (the ``top`` first:
    bounded by ``top``, not paginated)."""
    from matching.graph import hubs

    g = _graph(state, k, min_score, sector, False)
    return {"hubs": [h.to_dict() for h in hubs(state.passerelles, g, top=top)]}


@router.get("/graph/communities")
def graph_communities(
    state: Annotated[AppState, Depends(get_state)],
    request: Request,
    response: Response,
    page: Annotated[PageParams, Depends(wide_page_params)],
    k: GraphK = 10,
    min_score: GraphMin = 0.0,
    sector: GraphSector = None,
) -> dict:
    """Communities of occupations (Louvain on the bridge graph, seeded), largest first (paginated)."""
    from matching.graph import communities

    g = _graph(state, k, min_score, sector, False)
    labels = dict(g.nodes(data="label"))
    return paginate_as("communities", [{"size": len(c), "occupations": [{"code": code, "label": labels[code]}
                                                                     for code in c]} for c in communities(g)],
                       page, request, response)
