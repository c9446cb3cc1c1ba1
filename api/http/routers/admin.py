"""Administration over HTTP (admin keys only): API keys and the audit log.

- ``POST /keys`` ``{"role": "employer", "employer": "E42", "name": "...", "rate_per_minute": 600}``
  -> 201 with the key, shown this once.
- ``GET /keys?limit=&offset=``: the keys (never their secrets), paginated.
- ``DELETE /keys/{id}``: revoke (idempotent; the key answers 401 at once, in every worker).
- ``GET /audit?resource=seeker&resource_id=S1&key_id=&resource_employer=&limit=&offset=``: the
  append-only log of who read or changed personal data, oldest first, paginated (an offer's rows
  name its employer in ``resource_employer``: offer ids are per employer).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.http import security
from api.http.pagination import PageParams, page_model, page_params, paginate
from api.http.problems import Problem

router = APIRouter(tags=["admin"], dependencies=[Depends(security.admin)])


class KeyIn(BaseModel):
    role: Literal["counsellor", "employer", "federation", "admin", "organisation", "funder"]
    employer: str | None = Field(None, min_length=1, max_length=100, description="Required for an employer key.")
    prescriber: Literal["france-travail", "mission-locale", "cap-emploi", "other"] | None = Field(
        None, description="Counsellor keys: who the counsellor works for (funders' statistics).")
    organisation: str | None = Field(None, min_length=1, max_length=100,
                                     description="Required for an organisation key: its SIRET or id.")
    name: str | None = Field(None, max_length=200, description="Who or what uses the key.")
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000, description="Default: the server's setting.")


class KeyOut(BaseModel):
    id: str
    role: str
    employer: str | None
    name: str | None
    rate_per_minute: int | None
    created_at: str
    revoked_at: str | None
    prescriber: str | None = None
    organisation: str | None = None


class NewKeyOut(KeyOut):
    key: str = Field(description="The API key: shown once, store it now.")


class AuditOut(BaseModel):
    seq: int
    at: str
    key_id: str | None
    role: str | None
    employer: str | None
    action: str
    resource: str
    resource_id: str | None
    resource_employer: str | None = Field(None, description="The employer of the offer named (offer ids are per "
                                                            "employer).")
    method: str
    path: str
    status: int
    client: str | None


@router.post("/keys", status_code=201, response_model=NewKeyOut)
def create_key(body: KeyIn, request: Request) -> dict:
    keys = request.app.state.security.keys
    try:
        key, record = keys.create(body.role, employer=body.employer, name=body.name,
                                  rate_per_minute=body.rate_per_minute, prescriber=body.prescriber,
                                  organisation=body.organisation)
    except security.KeyError_ as error:
        text = str(error)
        field = next((f for f in ("employer", "prescriber", "organisation") if f in text), "role")
        raise Problem(422, "invalid-key-request", "Invalid key request", text, field=field) from None
    return {**record, "key": key}


@router.get("/keys", response_model=page_model(KeyOut))
def list_keys(request: Request, response: Response, page: Annotated[PageParams, Depends(page_params)]) -> dict:
    keys = request.app.state.security.keys
    return paginate(keys.list(limit=page.limit, offset=page.offset), keys.count(), page, request, response)


@router.delete("/keys/{id}", response_model=KeyOut)
def revoke_key(id: str, request: Request) -> dict:
    try:
        return request.app.state.security.keys.revoke(id)
    except security.KeyError_ as error:
        raise Problem(404, "unknown-key", "Unknown key", str(error), field="id", value=id) from None


@router.get("/audit", response_model=page_model(AuditOut))
def audit_log(request: Request, response: Response, page: Annotated[PageParams, Depends(page_params)],
              resource: Annotated[str | None, Query(max_length=50, description="seeker, offer")] = None,
              resource_id: Annotated[str | None, Query(max_length=200)] = None,
              key_id: Annotated[str | None, Query(max_length=50)] = None,
              resource_employer: Annotated[str | None, Query(max_length=200, description=(
                  "Only the offer of this employer (offer ids are per employer)."))] = None) -> dict:
    rows, total = request.app.state.security.audit.list(limit=page.limit, offset=page.offset, resource=resource,
                                                        resource_id=resource_id, key_id=key_id,
                                                        resource_employer=resource_employer)
    return paginate(rows, total, page, request, response)
