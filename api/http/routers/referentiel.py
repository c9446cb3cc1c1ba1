"""Health, the served referential, and one occupation's card."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.http import security
from api.http.problems import not_found
from api.http.dependencies import get_state
from api.services.state import AppState

router = APIRouter(tags=["referentiel"])


class Health(BaseModel):
    status: str
    referentiel: str
    fingerprint: str
    rate_limits: Literal["shared by the worker processes", "per worker process"] = Field(
        description="Where a key's rate is counted: across every worker (POSIX byte-range locks) or "
                    "in each worker process (no fcntl, e.g. Windows).")


class ReferentielInfo(BaseModel):
    name: str
    version: str
    source: str
    fingerprint: str
    counts: dict[str, int]


class SkillOut(BaseModel):
    code: str
    label: str
    kind: str
    group: str | None
    weight: float
    core: bool


class SectorOut(BaseModel):
    sector: str
    principal: bool


class OccupationCard(BaseModel):
    code: str
    label: str
    domain: str | None
    domain_label: str | None
    parent: str | None
    sectors: list[SectorOut]
    skills: list[SkillOut]
    titles: list[str]
    mobilities: list[str]


@router.get("/health", response_model=Health)
async def health(request: Request, state: AppState = Depends(get_state)) -> Health:
    r = state.referentiel
    shared = request.app.state.security.limiter.path is not None  # None: no fcntl, or a read-only folder
    return Health(status="ok", referentiel=r.source, fingerprint=r.fingerprint,
                  rate_limits="shared by the worker processes" if shared else "per worker process")


@router.get("/referentiel", response_model=ReferentielInfo, dependencies=[Depends(security.referential_cached)])
def referentiel_info(state: AppState = Depends(get_state)) -> dict:
    return state.referentiel.describe()


@router.get("/occupations/{code}", response_model=OccupationCard, dependencies=[Depends(security.referential_cached)],
            responses={404: {"description": "Unknown occupation code, with suggestions"}})
def occupation(code: str, state: AppState = Depends(get_state)) -> dict:
    r = state.referentiel
    if code not in r.occupation_index:
        raise not_found("occupation", code, state.occupation_suggester.suggest(code), field="code")
    return r.occupation(code)
