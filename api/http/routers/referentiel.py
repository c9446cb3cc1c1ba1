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


class TitleEmbeddings(BaseModel):
    state: str = Field(description="unavailable, not built, building, ready or failed")
    texts: int | None = Field(description="Texts to embed: labels and titles, or skill labels (None until "
                                          "the normaliser is built)")
    done: int = Field(description="Embedded so far")
    reason: str | None = None
    answers: str | None = Field(default=None, description="'lexical only' where no encoder loads")


class EncoderInfo(BaseModel):
    available: bool = Field(description="Whether a text encoder loaded; without one, everything works lexically")
    name: str = Field(description="The encoder (backend, model, version), or the setting when none loaded")
    dim: int | None = None
    reason: str = Field(description="Why no encoder loaded (empty when one did)")
    titles: TitleEmbeddings = Field(description="The title normaliser's vectors: used once ready")
    skills: TitleEmbeddings | None = Field(default=None, description="The skill normaliser's vectors (its "
                                           "skill labels): used once ready, lexical until then")


class ReferentielInfo(BaseModel):
    name: str
    version: str
    source: str
    fingerprint: str
    counts: dict[str, int]
    bridge_score: dict | None = None
    encoder: EncoderInfo


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


class MobilityOut(BaseModel):
    code: str
    label: str


class OccupationCard(BaseModel):
    code: str
    label: str
    domain: str | None
    domain_label: str | None
    parent: str | None
    sectors: list[SectorOut]
    skills: list[SkillOut]
    titles: list[str]
    mobilities: list[str] = Field(description="Official mobilities (codes), by rank")
    mobility_labels: list[MobilityOut] = Field(description="The same mobilities with their labels")


@router.get("/health", response_model=Health)
async def health(request: Request, state: AppState = Depends(get_state)) -> Health:
    r = state.referentiel
    shared = request.app.state.security.limiter.path is not None  # None: no fcntl, or a read-only folder
    return Health(status="ok", referentiel=r.source, fingerprint=r.fingerprint,
                  rate_limits="shared by the worker processes" if shared else "per worker process")


@router.get("/referentiel", response_model=ReferentielInfo, dependencies=[Depends(security.referential)])
def referentiel_info(state: AppState = Depends(get_state)) -> dict:
    """The served referential; which bridge score is served (``bridge_score.served`` is ``learned``,
    from official mobilities, only where its cross-validation beats the content score); and the text
    encoder's status (not cached: it changes as its vectors build)."""
    choice = state.bridge_choice
    return {**state.referentiel.describe(),
            "bridge_score": {"served": choice["served"], "rule": choice["rule"],
                             "content": choice.get("content"), "learned_cv": choice.get("learned_cv")},
            "encoder": {**state.semantic_titles.status(), "skills": state.semantic_skills.part()}}


@router.get("/occupations/{code}", response_model=OccupationCard, dependencies=[Depends(security.referential_cached)],
            responses={404: {"description": "Unknown occupation code, with suggestions"}})
def occupation(code: str, state: AppState = Depends(get_state)) -> dict:
    r = state.referentiel
    if code not in r.occupation_index:
        raise not_found("occupation", code, state.occupation_suggester.suggest(code), field="code")
    return r.occupation(code)
