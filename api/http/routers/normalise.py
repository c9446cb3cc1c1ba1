"""Free text to codes over HTTP: search-as-you-type on occupations, and batches of titles or skills.

- ``GET /occupations?q=soudeuse%20tig&k=5``: the top-k occupations for what was typed so far.
- ``POST /normalise/titles`` ``{"texts": [...], "k": 5}``: one result per text, in order.
- ``POST /normalise/skills`` ``{"texts": [...], "k": 5}``: the same over the referential's skills.
- ``POST /normalise/offers`` ``{"offers": [{"title", "description", "naf"}], "k": 5}``: whole job ads:
  the occupation candidates of each, and the skills its description names, each with its sentence.
- ``POST /normalise/profile`` ``{"experiences": [{"title", "description"}], "text": "...", "k": 5}``: a
  person's own words (past jobs as typed, what they did) -> the likely occupations, the skills named
  (each with its phrase and where it was) and ``seeker``: the fields of a seeker record (``POST /seekers``).

The text encoder reads the titles whose words are not certain (issue 21) in searches and in
batches of at most ``MAX_SEMANTIC_BATCH`` texts; a larger batch is read lexically (its cost stays
that of the words: thousands of texts per second, where the encoder reads tens).

An empty, too long (> 500 characters) or binary text is a 422 problem ``invalid-text`` that names
the field (``q``, or ``texts.<i>`` for the i-th item of a batch) and the reason.

Cost (issue 17): a request is charged the characters of its distinct texts against the caller's
work budget (413 above the per-request budget, 429 when the minute's is spent:
api/http/security/budget.py) *before* any normalising; a text repeated in a batch is computed
once and its result repeated in place. A batch is computed off the event loop in chunks, stopping
when the client leaves, past the deadline, or when the server shuts down.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Query, Request

from api.http.responses import ORJSONResponse
from pydantic import BaseModel, Field

from matching.normalise import MAX_TEXT_CHARS, InvalidText, validate_text
from matching.offers import MAX_DESCRIPTION_CHARS, InvalidOffer, OfferText, check_offers, read_offers
from matching.offers import find_skills
from matching.profile import (MAX_EXPERIENCES, MAX_PROFILE_TEXT_CHARS, Experience, InvalidProfile, check_profile,
                              combine_profile, profile_phrases)

from api.http.problems import Problem
from api.http import security
from api.http.dependencies import get_state
from api.http.security import budget
from api.services.encoding import BoundedSemantic
from api.services.state import AppState

router = APIRouter(tags=["normalise"], dependencies=[Depends(security.referential_cached)])

#: The work budget's answers (api/http/security/budget.py), documented on every normalise operation.
BUDGET_RESPONSES = {
    413: {"description": "The request costs more characters than the caller's budget per request; the "
                         "problem says the cost, the budget and how to split the batch"},
    429: {"description": "Rate limit, or the caller's work budget of the minute spent (Retry-After)"},
    503: {"description": "Batches only: too many heavy requests at once, past the deadline, or the server "
                         "is stopping (Retry-After)"},
}

MAX_K = 50
MAX_BATCH = 10_000
MAX_SEMANTIC_BATCH = 100
MAX_OFFERS = 200
OFFERS_CHUNK = 20
MAX_OFFER_CHARS = 200_000
"""Work budget of one ``POST /normalise/offers``: at most this many characters of descriptions."""
MAX_PROFILE_CHARS = 60_000
"""Work budget of one ``POST /normalise/profile``: at most this many characters of descriptions and text."""


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
    reading: str | None = Field(None, description="How the texts were read: 'words and encoder' (the encoder "
                                "where the words are unsure), or 'words only' (no encoder, its vectors not "
                                "built yet, or a batch of more than 100 distinct texts)")
    results: list[MatchOut]


def invalid_text(error: InvalidText, field: str) -> Problem:
    where = field if error.index is None else f"{field}.{error.index}"
    return Problem(422, "invalid-text", "Invalid text", f"{where}: {error.message}", field=where, reason=error.reason)


@router.get("/occupations", response_model=MatchOut,
            responses={422: {"description": "Empty, too long or binary text (problem+json)"}, **BUDGET_RESPONSES})
def search_occupations(
    request: Request,
    q: Annotated[str, Query(description="A job title as typed, even partially: 'soudeuse tig', 'opérateur de prod'.",
                            max_length=4 * MAX_TEXT_CHARS)],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many occupations.")] = 5,
    state: AppState = Depends(get_state),
) -> ORJSONResponse:
    """Search as you type: the occupations whose labels or titles best match ``q`` (the top ``k``:
    bounded, not paginated). Returned as built (orjson, no response-model re-validation: the
    model documents the answer and the API tests check it). Charged ``len(q)`` characters of the
    caller's work budget (a cached answer is free)."""
    try:
        text = validate_text(q)
    except InvalidText as error:
        raise invalid_text(error, "q") from None
    budget.charge(request, "chars", len(text), budget.texts_hint(len(text), 1))
    return ORJSONResponse(state.title_normaliser.search(text, k).as_dict())


async def _batch(normaliser_of: Callable[[], Any], body: BatchIn, state: AppState, request: Request
                 ) -> ORJSONResponse:
    """Validate, dedupe, charge, then normalise the distinct texts in chunks off the event loop and
    scatter the results back in input order. ``normaliser_of`` is called only once the request is
    admitted, in the worker thread: a refusal never waits for a normaliser to be built."""
    try:
        clean = [validate_text(t, i) for i, t in enumerate(body.texts)]
    except InvalidText as error:
        raise invalid_text(error, "texts") from None
    unique, order = budget.distinct(clean)
    cost = sum(map(len, unique))
    budget.charge(request, "chars", cost, budget.texts_hint(cost, len(unique)))
    k = body.k

    semantic = len(unique) <= MAX_SEMANTIC_BATCH  # the encoder reads tens of texts a second, the words thousands

    def work(texts: list[str]) -> list[dict]:
        return [m.as_dict() for m in normaliser_of().batch(texts, k, semantic=semantic)]

    computed = [r for part in await budget.run_chunks(request, work, budget.chunks(unique)) for r in part]
    normaliser = normaliser_of()
    reading = "words and encoder" if semantic and getattr(normaliser, "encoder", None) is not None else "words only"
    return ORJSONResponse({"referentiel": state.referentiel.source, "threshold": normaliser.threshold,
                           "reading": reading, "results": [computed[i] for i in order]})


@router.post("/normalise/titles", response_model=BatchOut,
             responses={422: {"description": "An empty, too long or binary text, named by its index"},
                        **BUDGET_RESPONSES})
async def normalise_titles(body: BatchIn, request: Request, state: AppState = Depends(get_state)) -> ORJSONResponse:
    """Job titles as people type them -> occupation codes, one result per text, in order."""
    return await _batch(lambda: state.title_normaliser, body, state, request)


@router.post("/normalise/skills", response_model=BatchOut,
             responses={422: {"description": "An empty, too long or binary text, named by its index"},
                        **BUDGET_RESPONSES})
async def normalise_skills(body: BatchIn, request: Request, state: AppState = Depends(get_state)) -> ORJSONResponse:
    """Skill phrases as people type them -> skill codes of the referential, one result per text."""
    return await _batch(lambda: state.skill_normaliser, body, state, request)


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
                        **BUDGET_RESPONSES})
async def normalise_offers(body: OffersIn, request: Request, state: AppState = Depends(get_state)) -> ORJSONResponse:
    """Whole job ads -> occupation codes and the skills each description names, one result per ad, in
    order. Charged the characters of every title and description to the caller's work budget; at
    most ``MAX_OFFER_CHARS`` characters of descriptions a request (413 above)."""
    try:
        offers = check_offers([OfferText(o.title, o.description, o.naf) for o in body.offers])
    except InvalidOffer as error:
        where = f"offers.{error.index}.{error.field}"
        raise Problem(422, "invalid-offer", "Invalid offer", f"{where}: {error.message}", field=where,
                      reason=error.reason) from None
    total = sum(len(o.description) for o in offers)
    if total > MAX_OFFER_CHARS:
        raise Problem(413, "too-much-work", "Too much text in one request",
                      f"the descriptions total {total:,} characters; at most {MAX_OFFER_CHARS:,} per request: "
                      "send fewer ads at a time", field="offers")
    cost = sum(len(o.title) + len(o.description) for o in offers)
    budget.charge(request, "chars", cost, budget.texts_hint(cost, len(offers)))
    k = body.k

    # The descriptions' sentences are read by their words: with the skill encoder, 60 offers-dev ads
    # gave as many skills (0.37 an ad against 0.38) at 0.57 ads/s against 23 (docs/normalise.md).
    # BoundedSemantic(state.skill_normaliser, MAX_SEMANTIC_BATCH) is the switch, should that change.
    skills = BoundedSemantic(state.skill_normaliser, 0)

    def work(part: list[OfferText]) -> list[dict]:
        return [r.as_dict() for r in read_offers(state.title_normaliser, skills, part, k=k, workers=1)]

    parts, part, size = [], [], 0   # at most OFFERS_CHUNK ads and budget.CHUNK_CHARS characters a part
    for offer in offers:
        length = len(offer.title) + len(offer.description)
        if part and (len(part) >= OFFERS_CHUNK or size + length > budget.CHUNK_CHARS):
            parts.append(part)
            part, size = [], 0
        part.append(offer)
        size += length
    parts.append(part)
    results = [r for part in await budget.run_chunks(request, work, parts) for r in part]
    return ORJSONResponse({"referentiel": state.referentiel.source, "threshold": state.title_normaliser.threshold,
                           "results": results})


class ExperienceIn(BaseModel):
    title: str = Field(max_length=4 * MAX_TEXT_CHARS, description="The job as the person names it.")
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS, description="What they did there (optional).")


class ProfileIn(BaseModel):
    experiences: list[ExperienceIn] = Field(default_factory=list, max_length=MAX_EXPERIENCES,
                                            description=f"0 to {MAX_EXPERIENCES} past jobs, the most recent first.")
    text: str = Field("", max_length=MAX_PROFILE_TEXT_CHARS,
                      description="What the person did, in their words (optional when experiences are given).")
    k: int = Field(5, ge=1, le=MAX_K, description="Occupation candidates per experience, and likely occupations.")


class ProfileOccupationOut(CandidateOut):
    experience: int = Field(description="The index of the experience whose title gave this occupation.")


class ProfileSkillOut(FoundSkillOut):
    source: str = Field(description="Where the phrase was: experiences.<i>.description or text.")


class ExperienceOut(MatchOut):
    skills: list[FoundSkillOut] = Field(description="Skills named in this experience's description.")


class SeekerFieldsOut(BaseModel):
    occupation: str | None = Field(description="The first experience's occupation when confident.")
    past_occupations: list[str]
    skills: list[str]


class ProfileOut(BaseModel):
    referentiel: str
    threshold: float
    occupations: list[ProfileOccupationOut] = Field(description="Likely occupations over every experience, best first.")
    experiences: list[ExperienceOut]
    skills: list[ProfileSkillOut] = Field(description="Skills named in the descriptions and the text, best first.")
    seeker: SeekerFieldsOut = Field(description="Ready for POST /seekers (add id, place and consent).")


@router.post("/normalise/profile", response_model=ProfileOut,
             responses={422: {"description": "A bad experience or text, named by its field (invalid-profile)"},
                        **BUDGET_RESPONSES})
async def normalise_profile(body: ProfileIn, request: Request, state: AppState = Depends(get_state)) -> ORJSONResponse:
    """A person's own words -> likely occupations and referential skills, for a seeker's profile.
    The same path as whole ads (``/normalise/offers``): titles through the title normaliser (with its
    encoder where loaded), descriptions and text cut into phrases for the skill normaliser. Charged
    the characters of every title, description and the text; at most ``MAX_PROFILE_CHARS`` of
    descriptions and text a request (413 above)."""
    try:
        experiences, text = check_profile([Experience(e.title, e.description) for e in body.experiences], body.text)
    except InvalidProfile as error:
        raise Problem(422, "invalid-profile", "Invalid profile", f"{error.field}: {error.message}", field=error.field,
                      reason=error.reason) from None
    long = sum(len(e.description) for e in experiences) + len(text)
    if long > MAX_PROFILE_CHARS:
        raise Problem(413, "too-much-work", "Too much text in one request",
                      f"the descriptions and text total {long:,} characters; at most {MAX_PROFILE_CHARS:,} per "
                      "request: keep the main experiences", field="experiences")
    cost = long + sum(len(e.title) for e in experiences)
    budget.charge(request, "chars", cost, budget.texts_hint(cost, len(experiences) + 1))
    k = body.k
    groups = profile_phrases(experiences, text)
    parts, part, size = [], [], 0   # groups of phrases cut into runs of at most budget.CHUNK_CHARS characters
    for group in groups:
        length = sum(map(len, group))
        if part and size + length > budget.CHUNK_CHARS:
            parts.append(part)
            part, size = [], 0
        part.append(group)
        size += length
    parts.append(part)

    def work(part: list[list[str]] | None) -> list:
        if part is None:  # the titles: the first part
            return [titles.batch([e.title for e in experiences], k=k, workers=1) if experiences else []]
        return find_skills(state.skill_normaliser, part, workers=1)

    titles = state.title_normaliser
    done = await budget.run_chunks(request, work, [None, *parts])
    found = [f for chunk in done[1:] for f in chunk]
    result = combine_profile(done[0][0], found, k).as_dict()
    return ORJSONResponse({"referentiel": state.referentiel.source, "threshold": titles.threshold, **result})
