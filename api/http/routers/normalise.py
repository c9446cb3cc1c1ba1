"""Free text to codes over HTTP: search-as-you-type on occupations, and batches of titles or skills.

- ``GET /occupations?q=soudeuse%20tig&k=5``: the top-k occupations for what was typed so far.
- ``POST /normalise/titles`` ``{"texts": [...], "k": 5}``: one result per text, in order.
- ``POST /normalise/skills`` ``{"texts": [...], "k": 5}``: the same over the referential's skills.
- ``POST /normalise/offers`` ``{"offers": [{"title", "description", "naf"}], "k": 5}``: whole job ads:
  the occupation candidates of each, and the skills its description names, each with its sentence.

The text encoder reads the titles whose words are not certain (issue 21) in searches and in
batches of at most ``MAX_SEMANTIC_BATCH`` texts; a larger batch is read lexically (its cost stays
that of the words: thousands of texts per second, where the encoder reads tens).

An empty, too long (> 500 characters) or binary text is a 422 problem ``invalid-text`` that names
the field (``q``, or ``texts.<i>`` for the i-th item of a batch) and the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field

from matching.normalise import MAX_TEXT_CHARS, InvalidText, Match
from matching.offers import MAX_DESCRIPTION_CHARS, InvalidOffer, OfferText, read_offers

from api.http.problems import Problem
from api.http import security
from api.http.dependencies import get_state
from api.services.state import AppState

router = APIRouter(tags=["normalise"], dependencies=[Depends(security.referential_cached)])

MAX_K = 50
MAX_BATCH = 10_000
MAX_SEMANTIC_BATCH = 500
MAX_OFFERS = 200
MAX_OFFER_CHARS = 200_000
"""Work budget of one ``POST /normalise/offers``: at most this many characters of descriptions."""


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
        matches: list[Match] = normaliser.batch(body.texts, body.k, semantic=len(body.texts) <= MAX_SEMANTIC_BATCH)
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


class OfferIn(BaseModel):
    title: str = Field(max_length=4 * MAX_TEXT_CHARS, description="The ad's title as written.")
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS, description="The ad's text (optional).")
    naf: str | None = Field(None, max_length=16, description="The employer's NAF code (checked, carried, not used).")


class OffersIn(BaseModel):
    offers: list[OfferIn] = Field(min_length=1, max_length=MAX_OFFERS,
                                  description=f"1 to {MAX_OFFERS} ads; their descriptions at most "
                                              f"{MAX_OFFER_CHARS:,} characters together.")
    k: int = Field(5, ge=1, le=MAX_K, description="Occupation candidates per ad.")


class FoundSkillOut(BaseModel):
    code: str
    label: str
    score: float = Field(description="How closely the sentence says the skill's label, in [0, 1].")
    sentence: str = Field(description="The sentence of the description that named it.")


class OfferOut(MatchOut):
    naf: str | None
    skills: list[FoundSkillOut] = Field(description="Skills named in the description, best first.")


class OffersOut(BaseModel):
    referentiel: str
    threshold: float
    results: list[OfferOut]


@router.post("/normalise/offers", response_model=OffersOut,
             responses={422: {"description": "A bad ad (title, description or NAF), named by its index"},
                        413: {"description": "Descriptions over the work budget of one request"}})
def normalise_offers(body: OffersIn, state: AppState = Depends(get_state)) -> dict:
    """Whole job ads -> occupation codes and the skills each description names, one result per ad, in order."""
    total = sum(len(o.description) for o in body.offers)
    if total > MAX_OFFER_CHARS:
        raise Problem(413, "too-much-work", "Too much text in one request",
                      f"the descriptions total {total:,} characters; at most {MAX_OFFER_CHARS:,} per request: "
                      "send fewer ads at a time", field="offers")
    offers = [OfferText(o.title, o.description, o.naf) for o in body.offers]
    titles = state.title_normaliser
    try:
        results = read_offers(titles, state.skill_normaliser, offers, k=body.k, workers=1)
    except InvalidOffer as error:
        where = f"offers.{error.index}.{error.field}"
        raise Problem(422, "invalid-offer", "Invalid offer", f"{where}: {error.message}", field=where,
                      reason=error.reason) from None
    return {"referentiel": state.referentiel.source, "threshold": titles.threshold,
            "results": [r.as_dict() for r in results]}
