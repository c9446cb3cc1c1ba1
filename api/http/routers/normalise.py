"""Free text to codes over HTTP: search-as-you-type on occupations, and batches of titles or skills.

- ``GET /occupations?q=soudeuse%20tig&k=5``: the top-k occupations for what was typed so far.
- ``POST /normalise/titles`` ``{"texts": [...], "k": 5}``: one result per text, in order.
- ``POST /normalise/skills`` ``{"texts": [...], "k": 5}``: the same over the referential's skills.

An empty, too long (> 500 characters) or binary text is a 422 problem ``invalid-text`` that names
the field (``q``, or ``texts.<i>`` for the i-th item of a batch) and the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field

from matching.normalise import MAX_TEXT_CHARS, InvalidText, Match

from api.http.problems import Problem
from api.http import security
from api.http.dependencies import get_state
from api.services.state import AppState

router = APIRouter(tags=["normalise"], dependencies=[Depends(security.referential_cached)])

MAX_K = 50
MAX_BATCH = 10_000


class CandidateOut(BaseModel):
    code: str
    label: str
    score: float = Field(description="In [0, 1]; candidates are sorted by score, ties by code.")
    matched: str = Field(description="The title or label of the referential that matched.")


class MatchOut(BaseModel):
    text: str = Field(description="The text as given (trimmed).")
    confident: bool = Field(description="False: no confident match; the candidates are suggestions.")
    best: CandidateOut | None = Field(description="The first candidate when the match is confident.")
    candidates: list[CandidateOut]


class BatchIn(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_BATCH,
                             description=f"1 to {MAX_BATCH:,} texts of at most {MAX_TEXT_CHARS} characters.")
    k: int = Field(5, ge=1, le=MAX_K, description="Candidates per text.")


class BatchOut(BaseModel):
    referentiel: str
    threshold: float
    results: list[MatchOut]


def invalid_text(error: InvalidText, field: str) -> Problem:
    where = field if error.index is None else f"{field}.{error.index}"
    return Problem(422, "invalid-text", "Invalid text", f"{where}: {error.message}", field=where, reason=error.reason)


@router.get("/occupations", response_model=MatchOut,
            responses={422: {"description": "Empty, too long or binary text (problem+json)"}})
def search_occupations(
    q: Annotated[str, Query(description="A job title as typed, even partially: 'soudeuse tig', 'opérateur de prod'.",
                            max_length=4 * MAX_TEXT_CHARS)],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many occupations.")] = 5,
    state: AppState = Depends(get_state),
) -> ORJSONResponse:
    """Search as you type: the occupations whose labels or titles best match ``q`` (the top ``k``:
    bounded, not paginated). Returned as built (orjson, no response-model re-validation: the
    model documents the answer and the API tests check it)."""
    try:
        return ORJSONResponse(state.title_normaliser.search(q, k).as_dict())
    except InvalidText as error:
        raise invalid_text(error, "q") from None


def _batch(normaliser, body: BatchIn, state: AppState) -> dict:
    try:
        matches: list[Match] = normaliser.batch(body.texts, body.k)
    except InvalidText as error:
        raise invalid_text(error, "texts") from None
    return {"referentiel": state.referentiel.source, "threshold": normaliser.threshold,
            "results": [m.as_dict() for m in matches]}


@router.post("/normalise/titles", response_model=BatchOut,
             responses={422: {"description": "An empty, too long or binary text, named by its index"}})
def normalise_titles(body: BatchIn, state: AppState = Depends(get_state)) -> dict:
    """Job titles as people type them -> occupation codes, one result per text, in order."""
    return _batch(state.title_normaliser, body, state)


@router.post("/normalise/skills", response_model=BatchOut,
             responses={422: {"description": "An empty, too long or binary text, named by its index"}})
def normalise_skills(body: BatchIn, state: AppState = Depends(get_state)) -> dict:
    """Skill phrases as people type them -> skill codes of the referential, one result per text."""
    return _batch(state.skill_normaliser, body, state)
