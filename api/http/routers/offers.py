"""Job offers over HTTP: create, read, replace, delete, bulk ingest, and the candidates that suit one.

- ``POST /offers`` (201; 409 if the id exists), ``GET /offers/{id}``, ``PUT /offers/{id}``,
  ``DELETE /offers/{id}``, ``POST /offers:ingest?mode=all|valid`` (as for seekers).
- ``GET /offers/{id}/candidates?k=20``: the top-k seekers who consented to appear in employers'
  searches, by pseudonymous id only (``c-`` + HMAC of the id under the database's secret), each
  explained (matched and missing requirements, the bridge used, the distance).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from api.http.responses import ORJSONResponse
from pydantic import BaseModel, Field

from api.http import security
from api.http.ids import Id, OptionalId, path_id
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


@router.post("/offers", status_code=201, response_model=OfferOut)
def create_offer(offer: OfferIn, state: Annotated[AppState, Depends(get_state)],
                 principal: Annotated[security.Principal, Depends(security.offers_create)]) -> dict:
    return create_record(state, "offer", security.scope_offer(principal, offer))


@router.get("/offers/{id}", response_model=OfferOut, dependencies=[Depends(security.offers)])
def get_offer(id: str, state: Annotated[AppState, Depends(get_state)]) -> dict:
    return get_record(state, "offer", id)


@router.put("/offers/{id}", response_model=OfferOut, responses={201: {"model": OfferOut}})
def put_offer(id: str, offer: OfferIn, response: Response, state: Annotated[AppState, Depends(get_state)],
              principal: Annotated[security.Principal, Depends(security.offers)]) -> dict:
    return put_record(state, "offer", id, security.scope_offer(principal, offer), response, principal)


@router.delete("/offers/{id}", status_code=204)
def delete_offer(id: str, state: Annotated[AppState, Depends(get_state)],
                 principal: Annotated[security.Principal, Depends(security.offers)]) -> Response:
    return delete_record(state, "offer", id, principal)


@router.post("/offers:ingest", response_model=IngestOut, dependencies=[Depends(security.offers_ingest)])
async def ingest_offers(request: Request, state: Annotated[AppState, Depends(get_state)],
                        mode: IngestMode = "all", format: IngestFormat = None) -> dict:
    return await ingest("offers", request, state, mode, format)


@router.get("/offers/{id}/candidates", dependencies=[Depends(security.offers)])
def offer_candidates(id: str, state: Annotated[AppState, Depends(get_state)],
                     k: Annotated[int, Query(ge=1, le=MAX_K, description="How many candidates.")] = 20,
                     radius: Annotated[float | None, Query(ge=0, le=1000,
                                                           description="km; default: each seeker's own radius")] = None,
                     require_must: Annotated[bool, Query(description="drop seekers lacking a must-have")] = False,
                     ) -> ORJSONResponse:
    """The top-k consenting seekers for the offer (bounded by ``k``, not paginated), explained.
    Returned as built (orjson): no ``jsonable_encoder`` walk over every explanation (issue 7)."""
    id = path_id(id)
    hits = state.pool.candidates_for_offer(id, k=k, radius_km=radius, require_must=require_must)
    if hits is None:
        raise missing("offer", id)
    return ORJSONResponse({"offer": id, "k": k, "radius_km": radius, "candidates": hits})
