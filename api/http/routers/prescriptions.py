"""Pre-registrations on training sessions (prescriptions) and the funders' dashboard (issue 20, item 3).

The resource is ``/prescriptions`` (a pre-registration is what French counsellors call a prescription).

- ``POST /prescriptions`` (counsellor): ``{"seeker", "training", "session", "target", "origin":
  "gap-plan"|"bridge"|"search", "note"?, "contact"?: {"name", "phone", "email"}}`` -> 201 with the
  record. ``Idempotency-Key: <id>``: a retry with the same key and body returns the same record
  (201, header ``Idempotent-Replayed: true``) and writes nothing; the same key with another body is
  a 422 ``idempotency-key-reused``.
- ``GET /prescriptions?state=&training=&session=&seeker=&limit=&offset=`` (counsellor: all;
  organisation: its own sessions only, seekers by pseudonym): paginated.
- ``GET /prescriptions/{id}`` (counsellor; organisation on its own sessions): the record and its
  timeline; ``allowed`` lists the moves the caller may make.
- ``POST /prescriptions/{id}/transitions`` ``{"to": STATE, "reason"?, "at"?: "YYYY-MM-DD", "note"?}``
  (the state machine of ``api.services.prescription_service``): 409 ``transition-not-allowed``
  naming ``current`` and ``allowed``; 409 ``session-full`` when no place is left.
- ``GET /funders/dashboard?year=&limit=&offset=&format=json|xlsx`` (funder, admin): aggregates only,
  under the statistical secret (small counts and those a total would reveal: null and ``secret``).

Every call reading or changing a pre-registration is audited (resource ``prescription``); a
transition's row has the action ``transition:STATE``, and a promotion from the waiting list that it
caused has its own row.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Callable, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http import security
from api.http.dependencies import get_state
from api.http.ids import Id, path_id
from api.http.problems import Problem
from api.http.responses import ORJSONResponse
from api.http.text import FreeText
from api.http.pagination import PageParams, page_params, paginate
from api.services.prescription_service import (CONTACT_NAME_MAX, EMAIL_PATTERN, NOTE_MAX, PHONE_PATTERN,
                                               REFUSAL_REASONS, STATES, TRANSITION_NOTE_MAX, PrescriptionService,
                                               dashboard_xlsx)
from api.services.state import AppState
from api.storage.audit import audit_row
from api.storage.keys import Principal

router = APIRouter(tags=["prescriptions"])

counsellors = security.require("counsellor", audit="prescription")
readers = security.require("counsellor", "organisation", audit="prescription")
funders = security.require("funder", "admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Contact(BaseModel):
    """How the training organisation reaches the person once it has accepted them (all optional:
    without any, contact goes through the prescriber)."""

    model_config = ConfigDict(extra="forbid")
    name: FreeText = Field(None, max_length=CONTACT_NAME_MAX)
    phone: str | None = Field(None, max_length=40, pattern=PHONE_PATTERN)
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)


class PrescriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seeker: Id = Field(description="A stored seeker's id.")
    training: Id = Field(description="The training (LHEO action) id.")
    session: Id = Field(description="The session id within that training.")
    target: str = Field(description="The target occupation code.", max_length=20)
    origin: Literal["gap-plan", "bridge", "search"] = Field(description="Where the counsellor found the session.")
    note: FreeText = Field(None, max_length=NOTE_MAX, description="For the organisation and the follow-up.")
    contact: Contact | None = None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(description=f"One of {', '.join(STATES)}.", max_length=40)
    reason: str | None = Field(None, max_length=60, description=f"Refusals only: {', '.join(REFUSAL_REASONS)}.")
    at: date | None = Field(None, description="Entered, completed, abandoned and outcomes: the date it happened.")
    note: FreeText = Field(None, max_length=TRANSITION_NOTE_MAX)


def _audit_rows(request: Request, principal: Principal, status: int) -> Callable[[list[tuple[str, str]]], list[tuple]]:
    """The audit rows of a write, for the store to write in the write's own transaction (one commit
    for the pre-registration and its audit, where the middleware's row was a second one): one row
    per change, (prescription id, new state) -> action ``transition:STATE``; the first is the
    request's own row (its status), the others are the promotions from the waiting list it
    caused. The handler then sets ``request.state.audit_written`` so the middleware writes no second
    row; a call that changed nothing (a replay, a refusal) is audited by the middleware as ever. The
    rows name the record's canonical id (the middleware's named the path's id as sent)."""
    _ = request.app.state.security.audit  # opened (and its table created) before a transaction writes into it
    method, path = request.method, request.scope["path"]
    client = request.client.host if request.client else None

    def rows(changes: list[tuple[str, str]]) -> list[tuple]:
        return [audit_row(principal, "prescription", method, path, status, resource_id=id, client=client,
                          action=f"transition:{state}") for id, state in changes]

    return rows


@router.post("/prescriptions", status_code=201, response_model=dict,
             responses={404: {"description": "Unknown session"},
                        409: {"description": "Already pre-registered on this session"},
                        422: {"description": "Invalid field, unknown seeker, or Idempotency-Key reused"}})
def create_prescription(body: PrescriptionIn, request: Request,
                        state: Annotated[AppState, Depends(get_state)],
                        principal: Annotated[Principal, Depends(counsellors)],
                        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None
                        ) -> Response:
    """Pre-register a stored seeker on a session (counsellors; audited)."""
    if len(request.headers.getlist("idempotency-key")) > 1:  # which one a proxy and the app read may differ
        raise Problem(422, "invalid-request", "Invalid request",
                      "The Idempotency-Key header is given more than once: send it once.", field="Idempotency-Key")
    payload = body.model_dump()
    if body.contact is not None:
        payload["contact"] = body.contact.model_dump(exclude_none=True) or None
    record, created = PrescriptionService.of(state).submit(principal, payload, idempotency_key=idempotency_key,
                                                           audit=_audit_rows(request, principal, 201))
    headers = {"Location": f"/prescriptions/{record['id']}"}
    if created:
        request.state.audit_written = True  # with the record, in its transaction
    else:
        headers["Idempotent-Replayed"] = "true"
    # the record is plain JSON values built by the service: rendered once by orjson, without FastAPI
    # validating it again against ``dict`` and serialising it through pydantic (``response_model``
    # still documents it)
    return ORJSONResponse(record, status_code=201, headers=headers)


@router.get("/prescriptions")
def list_prescriptions(request: Request, response: Response, state: Annotated[AppState, Depends(get_state)],
                       principal: Annotated[Principal, Depends(readers)],
                       page: Annotated[PageParams, Depends(page_params)],
                       state_: Annotated[str | None, Query(alias="state", max_length=40)] = None,
                       training: Annotated[str | None, Query(max_length=100)] = None,
                       session: Annotated[str | None, Query(max_length=100)] = None,
                       seeker: Annotated[str | None, Query(max_length=100)] = None) -> dict:
    """Pre-registrations, newest first (an organisation: on its own sessions only; paginated)."""
    items, total = PrescriptionService.of(state).list(principal, seeker=seeker, state=state_, training=training,
                                                      session=session, limit=page.limit, offset=page.offset)
    return paginate(items, total, page, request, response)


@router.get("/prescriptions/{id}", responses={404: {"description": "Unknown, or not on your sessions"}})
def get_prescription(id: str, state: Annotated[AppState, Depends(get_state)],
                     principal: Annotated[Principal, Depends(readers)]) -> dict:
    """The pre-registration and its timeline (the person's path)."""
    return PrescriptionService.of(state).view(principal, path_id(id))


@router.post("/prescriptions/{id}/transitions",
             response_model=dict, responses={404: {"description": "Unknown, or not on your sessions"},
                        409: {"description": "Not allowed from the current state, or no place left"}})
def transition(id: str, body: TransitionIn, request: Request, state: Annotated[AppState, Depends(get_state)],
               principal: Annotated[Principal, Depends(readers)]) -> Response:
    """Answer (organisation), withdraw (counsellor), follow (entered, completed, abandoned, outcome)."""
    out = PrescriptionService.of(state).transition(principal, path_id(id), body.to, reason=body.reason, at=body.at,
                                                   note=body.note, audit=_audit_rows(request, principal, 200))
    request.state.audit_written = True  # every change, in the move's transaction
    return ORJSONResponse(out)  # as create_prescription: rendered once


@router.get("/funders/dashboard", dependencies=[Depends(funders)], response_model=None,
            responses={200: {"content": {XLSX: {}}, "description": "JSON, or the xlsx workbook"}})
def dashboard(state: Annotated[AppState, Depends(get_state)],
              page: Annotated[PageParams, Depends(page_params)],
              year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
              format: Annotated[Literal["json", "xlsx"], Query()] = "json") -> Response | dict:
    """Aggregates for funders (no personal data): fill rate per session (paginated, fullest first),
    by prescriber type, basin, target occupation, the share in tension, median days to an answer,
    outcomes at six months. ``format=xlsx``: the same as a workbook (text cells never formulas).
    A count of fewer than ``statistical_secret_threshold`` people (5), or one a total would give
    away, is null and named in its row's ``secret`` list (``secret`` in the workbook)."""
    body = PrescriptionService.of(state).dashboard(year=year, limit=page.limit, offset=page.offset)
    if format == "xlsx":
        return Response(dashboard_xlsx(body), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="pre-registrations.xlsx"'})
    return body


__all__ = ["router"]
