"""Job seekers over HTTP: create, read, replace, delete, bulk ingest, and the offers that suit one.

- ``POST /seekers`` (201; 409 if the id exists), ``GET /seekers/{id}``, ``PUT /seekers/{id}``
  (201 created / 200 replaced), ``DELETE /seekers/{id}`` (204).
- ``POST /seekers:ingest?mode=all|valid``: the body is CSV (``text/csv``, lists as ``a|b|c``),
  JSON Lines (``application/x-ndjson``), Parquet (``application/vnd.apache.parquet``) or a JSON
  array. ``mode=all`` (default) writes nothing when a row is rejected (422 ``rejected-rows`` with
  every rejected line and reason); ``mode=valid`` writes the valid rows and lists the rejected ones.
- ``GET /seekers/{id}/offers?k=10&radius=30&require_must=false``: the top-k offers, each explained
  (matched and missing requirements, the bridge used, the distance); ``toward_tension=true``
  (``tension_weight=0.5``) ranks them by match score and the tension of the offer's occupation in
  its job basin (issue 6), each offer then carrying ``tension`` and ``combined``.

Skills are codes (``skills``) and/or free text (``skills_text``, read by the skill normaliser).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool

from api.http import security
from api.http.ids import Id, path_id
from api.services.pool_service import IngestError, RecordError, read_records
from api.http.problems import Problem, unknown_record
from api.http.dependencies import get_state
from api.services.state import AppState
from api.services.training_service import offers_for_seeker
from api.storage.store import ANY_EMPLOYER, Ambiguous, Conflict, NotOwner

router = APIRouter(tags=["seekers"])

MAX_K = 100
MAX_INGEST_BYTES = 200_000_000
FORMATS = {"text/csv": "csv", "application/csv": "csv", "application/x-ndjson": "jsonl",
           "application/jsonl": "jsonl", "application/x-jsonlines": "jsonl", "application/json": "json",
           "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
           "application/octet-stream": "parquet"}


class SeekerIn(BaseModel):
    id: Id = Field(description="The seeker's identifier in your system.")
    skills: list[str] = Field(default_factory=list, max_length=500, description="Skill codes of the referential.")
    skills_text: list[str] = Field(default_factory=list, max_length=200,
                                   description="Skills in free text, read by the skill normaliser.")
    occupation: str | None = Field(None, description="Current (or sought) occupation code.")
    past_occupations: list[str] = Field(default_factory=list, max_length=50)
    basin: str | None = Field(None, description="Job basin id; gives coordinates when lat/lon are absent.")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    radius_km: float | None = Field(None, ge=0, le=1000, description="Mobility radius.")
    consent: StrictBool = Field(False, description="Consent to appear (pseudonymously) in employers' searches: "
                                                   "a JSON boolean (true or false, not \"yes\" nor 1).")


class SeekerOut(SeekerIn):
    key: int
    updated_at: str


class IngestOut(BaseModel):
    kind: str
    mode: str
    rows: int
    taken: int
    written: bool
    rejected_count: int
    rejected: list[dict]


def ingest_problem(report) -> Problem:
    first = report.rejected[0]
    return Problem(422, "rejected-rows", "Rejected rows",
                   f"{len(report.rejected)} of {report.rows} rows were rejected (first: line {first['line']}: "
                   f"{first['reason']}); nothing was written. Fix them, or send mode=valid to write the valid rows.",
                   **{k: v for k, v in report.to_dict().items() if k != "kind"}, resource=report.kind)


IngestMode = Annotated[str, Query(description="all: nothing if a row is rejected; valid")]
IngestFormat = Annotated[str | None, Query(description="csv|jsonl|json|parquet")]


async def ingest(kind: str, request: Request, state: AppState, mode: str, fmt: str | None) -> dict:
    """Shared by /seekers:ingest and /offers:ingest."""
    if mode not in ("all", "valid"):
        raise Problem(422, "invalid-request", "Invalid request", "mode must be 'all' or 'valid'", field="mode")
    body = await request.body()
    if len(body) > MAX_INGEST_BYTES:
        raise Problem(413, "payload-too-large", "Payload too large",
                      f"An ingest body is at most {MAX_INGEST_BYTES:,} bytes; use 'passerelles ingest' for larger files.")
    if not body:
        raise Problem(422, "invalid-request", "Invalid request", "The body is empty: send the records to ingest.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = fmt or FORMATS.get(content_type)
    if fmt is None:
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      f"Send text/csv, application/x-ndjson, application/json or application/vnd.apache.parquet "
                      f"(or ?format=csv|jsonl|json|parquet); got {content_type or 'no content type'!r}.")
    try:
        frame, first_line = read_records(body, fmt)
        report = state.pool.ingest(kind, frame, mode=mode, first_line=first_line, source=f"http:{fmt}")
    except IngestError as error:
        raise Problem(422, "unreadable-data", "Unreadable data", str(error)) from None
    if report.rejected and not report.written and mode == "all":
        raise ingest_problem(report)
    return report.to_dict()


def record_problem(kind: str, error: Exception) -> Problem:
    if isinstance(error, Conflict):
        return Problem(409, "conflict", "Already exists", str(error))
    return Problem(422, f"invalid-{kind}", f"Invalid {kind}", str(error))


def missing(kind: str, id: str) -> Problem:
    return unknown_record(kind, id)


def get_record(state: AppState, kind: str, id: str, employer=ANY_EMPLOYER) -> dict:
    """The stored seeker or offer (``kind``: 'seeker' or 'offer'; an offer of ``employer``, see
    ``security.offer_scope``), or a 404 problem (409 ``ambiguous-offer``: several employers hold it)."""
    id = path_id(id)
    try:
        stored = state.pool.get(kind + "s", id, employer=employer)
    except Ambiguous as error:
        raise security.ambiguous_offer(error) from None
    if stored is None:
        raise missing(kind, id)
    return stored


def owner_of(principal: security.Principal | None) -> str | None:
    """The employer whose offers only this caller may change (None: any offer)."""
    return principal.employer if principal is not None and principal.role == "employer" else None


def create_record(state: AppState, kind: str, record: BaseModel) -> dict:
    """Create the record (``kind``: 'seeker' or 'offer'): the stored row, or a 409 problem when the
    id exists, a 422 when validation refuses it."""
    try:
        stored, _ = state.pool.put(kind + "s", record.model_dump(), create=True)
    except (Conflict, RecordError) as error:
        raise record_problem(kind, error) from None
    return stored


def put_record(state: AppState, kind: str, id: str, record: BaseModel, response: Response,
               principal: security.Principal | None = None) -> dict:
    """Create (201) or replace (200) the record at ``/{kind}s/{id}``; the body's id must be the path's.
    An employer replaces only its own offer: checked inside the write's transaction (a conditional
    write: an offer's key holds its employer, so an employer's write never reaches another's offer)."""
    id = path_id(id)
    if record.id != id:
        raise Problem(422, f"invalid-{kind}", f"Invalid {kind}", f"The body's id {record.id!r} is not the path's {id!r}.",
                      field="id")
    try:
        stored, created = state.pool.put(kind + "s", record.model_dump(), owner=owner_of(principal))
    except RecordError as error:
        raise record_problem(kind, error) from None
    except NotOwner:
        raise missing(kind, id) from None
    response.status_code = 201 if created else 200
    return stored


def delete_record(state: AppState, kind: str, id: str, principal: security.Principal | None = None,
                  employer=ANY_EMPLOYER) -> Response:
    """Delete the record at ``/{kind}s/{id}`` (an offer of ``employer``) (204), or a 404 problem (also
    an employer's for another's offer id: not in its namespace), 409 ``ambiguous-offer``."""
    id = path_id(id)
    try:
        deleted = state.pool.delete(kind + "s", id, owner=owner_of(principal), employer=employer)
    except Ambiguous as error:
        raise security.ambiguous_offer(error) from None
    if not deleted:
        raise missing(kind, id)
    return Response(status_code=204)


@router.post("/seekers", status_code=201, response_model=SeekerOut, dependencies=[Depends(security.seekers)])
def create_seeker(seeker: SeekerIn, state: Annotated[AppState, Depends(get_state)]) -> dict:
    return create_record(state, "seeker", seeker)


@router.get("/seekers/{id}", response_model=SeekerOut, dependencies=[Depends(security.seekers)])
def get_seeker(id: str, state: Annotated[AppState, Depends(get_state)]) -> dict:
    return get_record(state, "seeker", id)


@router.put("/seekers/{id}", response_model=SeekerOut, responses={201: {"model": SeekerOut}},
            dependencies=[Depends(security.seekers)])
def put_seeker(id: str, seeker: SeekerIn, response: Response, state: Annotated[AppState, Depends(get_state)]) -> dict:
    return put_record(state, "seeker", id, seeker, response)


@router.delete("/seekers/{id}", status_code=204, dependencies=[Depends(security.seekers)])
def delete_seeker(id: str, state: Annotated[AppState, Depends(get_state)]) -> Response:
    return delete_record(state, "seeker", id)


@router.post("/seekers:ingest", response_model=IngestOut, dependencies=[Depends(security.seekers_ingest)])
async def ingest_seekers(request: Request, state: Annotated[AppState, Depends(get_state)],
                         mode: IngestMode = "all", format: IngestFormat = None) -> dict:
    return await ingest("seekers", request, state, mode, format)


@router.get("/seekers/{id}/offers", dependencies=[Depends(security.seekers)])
def seeker_offers(id: str, state: Annotated[AppState, Depends(get_state)],
                  k: Annotated[int, Query(ge=1, le=MAX_K, description="How many offers.")] = 10,
                  radius: Annotated[float | None, Query(ge=0, le=1000, description="km; default: the seeker's")] = None,
                  require_must: Annotated[bool, Query(description="drop offers whose must-haves the seeker lacks")] = False,
                  toward_tension: Annotated[bool, Query(description=(
                      "Rank by match score and the tension of the offer's occupation in the offer's job basin "
                      "(the seeker's when the offer has none): score^(1-w) x (2 x tension)^w; each offer then "
                      "carries its tension and combined value."))] = False,
                  tension_weight: Annotated[float, Query(ge=0, le=1, description=(
                      "w: weight of tension against the match score (0 = match score only)."))] = 0.5,
                  ) -> dict:
    """The top-k offers for a stored seeker, each explained (matched and missing requirements, bridge,
    distance); with ``toward_tension``, the offers of occupations in tension in their basin rise (the
    match score stays the first condition: an offer the seeker does not match never enters)."""
    id = path_id(id)
    body = offers_for_seeker(state, id, k=k, radius_km=radius, require_must=require_must,
                             toward_tension=toward_tension, weight=tension_weight)
    if body is None:
        raise missing("seeker", id)
    return body
