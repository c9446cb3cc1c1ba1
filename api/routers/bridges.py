"""Career bridges over HTTP: passerelles of an occupation, sectors, sector-pair maps, paths, graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from rapidfuzz import fuzz, process, utils

from matching.passerelles import UnknownSector

from ..problems import Problem, not_found
from ..state import AppState, get_state

router = APIRouter(tags=["passerelles"])


class SkillOut(BaseModel):
    code: str
    label: str
    kind: str
    weight: float
    core: bool
    via: dict | None = None


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
    shared: list[SkillOut]
    missing: list[SkillOut]


class PasserellesOut(BaseModel):
    source: SourceOut
    filters: dict
    passerelles: list[PasserelleOut]


class SectorCount(BaseModel):
    sector: str
    occupations: int


class SectorsOut(BaseModel):
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
    missing_skills: int
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
    common_skills: list[CommonSkillOut]


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


@router.get("/occupations/{code}/passerelles", response_model=PasserellesOut,
            responses={404: {"description": "Unknown occupation code or sector, with suggestions"}})
def passerelles(
    code: str,
    state: Annotated[AppState, Depends(get_state)],
    k: Annotated[int, Query(ge=1, le=500, description="Number of bridges.")] = 10,
    sector: Annotated[list[str] | None, Query(description="Keep targets in any of these sectors (repeatable).")] = None,
    domain: Annotated[list[str] | None, Query(description="Keep targets of these professional domains "
                                              "(e.g. H29) or great domains (e.g. H) (repeatable).")] = None,
    cross_sector_only: Annotated[bool, Query(description="Only targets sharing no activity sector with the source.")] = False,
    min_score: Annotated[float, Query(ge=0.0, le=1.0, description="Lowest bridge score kept.")] = 0.0,
) -> dict:
    """The best career bridges from one occupation: score, calibrated viability, shared and missing skills."""
    row = occupation_row(state, code)
    sectors = [s for s in (sector or []) if s]
    try:
        found = state.passerelles.query(row, k, sectors=sectors or None, domains=[d for d in (domain or []) if d] or None,
                                        cross_sector_only=cross_sector_only, min_score=min_score)
    except UnknownSector as error:
        raise unknown_sector(state, error) from None
    return {"source": source_card(state, row),
            "filters": {"k": k, "sector": sectors, "domain": domain or [], "cross_sector_only": cross_sector_only,
                        "min_score": min_score},
            "passerelles": [p.to_dict() for p in found]}


@router.get("/sectors", response_model=SectorsOut)
def sectors(state: Annotated[AppState, Depends(get_state)]) -> dict:
    """The referential's activity sectors with their number of occupations."""
    counts = state.referentiel.sectors.group_by("sector").len().sort("sector")
    return {"sectors": [{"sector": s, "occupations": int(n)} for s, n in counts.iter_rows()]}


@router.get("/sectors/{sector_a}/bridges/{sector_b}", response_model=SectorPairOut,
            responses={404: {"description": "Unknown sector, with suggestions"}})
def sector_pair(
    sector_a: str,
    sector_b: str,
    state: Annotated[AppState, Depends(get_state)],
    k_per_source: Annotated[int, Query(ge=1, le=100, description="Best targets kept per source occupation.")] = 5,
    min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    top_skills: Annotated[int, Query(ge=1, le=5000, description="Common skills listed.")] = 50,
) -> dict:
    """Every bridge between two sectors, both directions, and the skills common to both ranked by use."""
    try:
        pair = state.passerelles.sector_pair_map(sector_a, sector_b, k_per_source=k_per_source, min_score=min_score)
    except UnknownSector as error:
        raise unknown_sector(state, error, field="sector_a" if error.sector == sector_a else "sector_b") from None
    return pair.to_dict(top_skills=top_skills)
