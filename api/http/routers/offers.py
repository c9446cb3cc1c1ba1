"""Job offers over HTTP: create, read, replace, delete, bulk ingest, and the candidates that suit one.

- ``POST /offers`` (201; 409 if the employer has an offer of this id), ``GET /offers/{id}``,
  ``PUT /offers/{id}``, ``DELETE /offers/{id}``, ``POST /offers:ingest?mode=all|valid`` (as for seekers).
- ``GET /offers/{id}/candidates?k=20``: the top-k seekers who consented to appear in employers'
  searches, by pseudonymous id only (``c-`` + HMAC of the id under the database's secret), each
  explained (matched and missing requirements, the bridge used, the distance).

Offer ids are per employer (docs/offers.md): an offer is ``(employer, id)``. An employer key reads
and writes its own employer's ids only: another employer's ``REF-001`` is, to it, an id it does not
have (GET/DELETE 404 ``unknown-offer`` as for any missing id, PUT creates its own offer). Counsellors
and administrators see every employer's offers and name one with ``?employer=ID`` (empty: the offer
without employer); the id alone is enough while one employer holds it, else 409 ``ambiguous-offer``
lists the employers. A PUT's key is the body's ``employer`` (or the query's) and the path's id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from api.http.responses import ORJSONResponse
from pydantic import BaseModel, Field

from api.http import security
from api.http.ids import Id, OptionalId, path_id
from api.http.problems import Problem
from api.storage.store import Ambiguous
from api.http.dependencies import get_state
from api.services.state import AppState
from api.http.routers.seekers import (MAX_K, IngestFormat, IngestMode, IngestOut, create_record, delete_record,
                                      get_record, ingest, missing, put_record)

router = APIRouter(tags=["offers"])


class OfferIn(BaseModel):
    id: Id = Field(description="The offer's identifier in your system.")
    employer: OptionalId = Field(None, description="The employer's id (an employer key: its own, set from the key).")
    occupation: str = Field(description="Occupation code of the job.")
    must: list[str] = Field(default_factory=list, max_length=200, description="Must-have skill codes.")
    desired: list[str] = Field(default_factory=list, max_length=200, description="Desired skill codes.")
    basin: str | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    contract: str | None = Field(None, description="CDI, CDD, Intérim, Alternance ...")
    opening: str | None = Field(None, description="Opening date, YYYY-MM-DD.")


class OfferOut(OfferIn):
    key: int
    updated_at: str


#: ``?employer=``: whose offer the path's id names (offer ids are per employer).
EmployerQuery = Annotated[str | None, Query(max_length=400, description=security.OFFER_EMPLOYER_DOC)]


@router.post("/offers", status_code=201, response_model=OfferOut)
def create_offer(offer: OfferIn, request: Request, state: Annotated[AppState, Depends(get_state)],
                 principal: Annotated[security.Principal, Depends(security.offers_create)]) -> dict:
    offer = security.scope_offer(principal, offer)
    request.state.audit_employer = offer.employer
    return create_record(state, "offer", offer)


@router.get("/offers/{id}", response_model=OfferOut)
def get_offer(id: str, state: Annotated[AppState, Depends(get_state)],
              principal: Annotated[security.Principal, Depends(security.offers)], employer: EmployerQuery = None
              ) -> dict:
    return get_record(state, "offer", id, employer=security.offer_scope(principal, employer))


@router.put("/offers/{id}", response_model=OfferOut, responses={201: {"model": OfferOut}})
def put_offer(id: str, offer: OfferIn, request: Request, response: Response,
              state: Annotated[AppState, Depends(get_state)],
              principal: Annotated[security.Principal, Depends(security.offers)], employer: EmployerQuery = None
              ) -> dict:
    """Create (201) or replace (200) the offer ``(employer, id)``: the employer is the key's (an
    employer key), else the body's ``employer``, or the query's when the body has none."""
    scope = security.offer_scope(principal, employer)
    if principal.role != "employer" and employer is not None:
        named = scope or None
        if offer.employer not in (None, named):
            raise Problem(422, "invalid-offer", "Invalid offer", f"The body's employer {offer.employer!r} is not the "
                          f"query's {named!r}.", field="employer")
        offer = offer.model_copy(update={"employer": named})
    offer = security.scope_offer(principal, offer)
    request.state.audit_employer = offer.employer
    return put_record(state, "offer", id, offer, response, principal)


@router.delete("/offers/{id}", status_code=204)
def delete_offer(id: str, state: Annotated[AppState, Depends(get_state)],
                 principal: Annotated[security.Principal, Depends(security.offers)], employer: EmployerQuery = None
                 ) -> Response:
    return delete_record(state, "offer", id, principal, employer=security.offer_scope(principal, employer))


@router.post("/offers:ingest", response_model=IngestOut, dependencies=[Depends(security.offers_ingest)])
async def ingest_offers(request: Request, state: Annotated[AppState, Depends(get_state)],
                        mode: IngestMode = "all", format: IngestFormat = None) -> dict:
    return await ingest("offers", request, state, mode, format)


@router.get("/offers/{id}/candidates")
def offer_candidates(id: str, state: Annotated[AppState, Depends(get_state)],
                     principal: Annotated[security.Principal, Depends(security.offers)],
                     employer: EmployerQuery = None,
                     k: Annotated[int, Query(ge=1, le=MAX_K, description="How many candidates.")] = 20,
                     radius: Annotated[float | None, Query(ge=0, le=1000,
                                                           description="km; default: each seeker's own radius")] = None,
                     require_must: Annotated[bool, Query(description="drop seekers lacking a must-have")] = False,
                     ) -> ORJSONResponse:
    """The top-k consenting seekers for the offer (bounded by ``k``, not paginated), explained.
    Returned as built (orjson): no ``jsonable_encoder`` walk over every explanation (issue 7)."""
    id = path_id(id)
    scope = security.offer_scope(principal, employer)
    try:
        hits = state.pool.candidates_for_offer(id, k=k, radius_km=radius, require_must=require_must, employer=scope)
    except Ambiguous as error:
        raise security.ambiguous_offer(error) from None
    if hits is None:
        raise missing("offer", id)
    return ORJSONResponse({"offer": id, "k": k, "radius_km": radius, "candidates": hits})
