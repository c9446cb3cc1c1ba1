"""Who may call what: API keys and roles as FastAPI dependencies (``require``, ``offer_access``).

Keys
    ``psl_<id>_<secret>``: 8 hex characters of public id, then 256 random bits. Only the SHA-256 of
    the whole key is stored (table ``api_keys`` of the SQLite database, ``settings.database``); a
    key is shown once, when ``passerelles keys create`` (or ``POST /keys``) makes it. A fast hash is
    right here: the secret is random, not a password, so there is nothing to brute-force. Keys are
    sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

Roles
    ``counsellor`` (seekers, matching, gaps, bridges), ``employer`` (its own offers and their
    candidates, by pseudonymous id; the key carries the employer id), ``federation`` (bridges,
    sector maps, kits, aggregate statistics: no personal data), ``admin`` (ingest, keys, audit).

Use in a router::

    @router.get("/seekers/{id}", dependencies=[Depends(require("counsellor", audit="seeker"))])

    def handler(..., principal: Annotated[Principal, Depends(require("employer", "counsellor"))]):
        principal.employer  # the employer id of an employer key, to scope its offers

``require(..., public="referentiel")`` lets anonymous callers in when ``settings.public_referentiel``
is true (rate-limited by client address). 401 without a valid key, 403 outside the role, 429 with
``Retry-After`` above the key's rate. ``audit="seeker"`` appends one row to the append-only
``audit_log`` table per request (who, what, which id, the status), written before the response
leaves the server.

Rate limits are one budget per key (or client address) for the whole server, shared by every worker
process through ``<database>.locks`` (``rate_limit.RateLimiter``).

Offer ids are per employer (``api.storage.store``): an employer key addresses its own offers only,
so another employer's id is an id it does not have; counsellors name the employer with the query
parameter ``employer`` when several hold an id (:func:`offer_scope`, docs/offers.md).

Cached answers (``require(..., cache=True)``, offers and their candidates) are served by the
middleware before FastAPI routes the request, after it repeated the endpoint's :class:`Guard` (key,
role, rate, audit; answers from the store are keyed by the caller's employer): see
``middleware.SecurityMiddleware._fast``.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.http.problems import Problem, unknown_record
from api.http.security.audit import body_id
from api.http.security.cache import Guard, cached, current_version
from api.http.security.context import Security
from api.http.security.rate_limit import limit
from api.storage.keys import ANONYMOUS, ROLES, Principal
from api.storage.store import ANY_EMPLOYER, Ambiguous


# OpenAPI: both ways of sending a key, so /docs has an "Authorize" button.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                               description="An API key: passerelles keys create --role ROLE")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer", description="Authorization: Bearer <API key>")


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail, field="Authorization")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(*roles: str, public: str | None = None, audit: str | None = None, cache: bool = False
            ) -> Callable[..., Any]:
    """A dependency that admits a valid key of one of ``roles`` and returns its :class:`Principal`.

    ``public``: the name of a setting; when it is true the endpoint is open to anonymous callers
    too (``"referentiel"`` reads ``settings.public_referentiel``). ``audit``: the kind of personal
    data the endpoint reads or changes (``"seeker"``, ``"offer"``): each call is written to the
    audit log with the key, the path's ``id`` and the status of the response. ``cache``: the
    endpoint is a pure function of its path and query (referential endpoints): once access is
    granted, a GET is answered from the app's response cache when it holds the same path and query.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {ROLES}")
    allowed = frozenset(roles)
    described = " and ".join(sorted(allowed))
    guard = Guard(allowed, public, audit)

    async def dependency(
        request: Request,
        api_key: Annotated[str | None, Depends(_api_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> Principal:
        security: Security = request.app.state.security
        key = api_key or (bearer.credentials if bearer is not None else None)
        if key is None:
            if public is not None and getattr(security.settings, f"public_{public}", False):
                limit(security.limiter, "ip:" + _client(request), None)
                request.state.principal = ANONYMOUS
                if cache:
                    cached(security.cache, request, guard=guard)
                return ANONYMOUS
            raise _unauthorized("This endpoint needs an API key: send 'Authorization: Bearer <key>' or "
                                "'X-API-Key: <key>'. An administrator creates one with 'passerelles keys create'.")
        principal = security.keys.authenticate(key.strip())
        if principal is None:
            raise _unauthorized("This API key is unknown or has been revoked. Ask an administrator for a valid key.")
        request.state.principal = principal
        if audit is not None:
            request.state.audit = audit
            if request.method == "POST" and "id" not in request.path_params:
                request.state.audit_id = await body_id(request)
        limit(security.limiter, "key:" + principal.key_id, principal.rate_per_minute)
        if principal.role not in allowed and not (public is not None
                                                  and getattr(security.settings, f"public_{public}", False)):
            raise Problem(403, "forbidden", "Forbidden",
                          f"A {principal.role} key cannot use this endpoint: it is for {described} keys.",
                          role=principal.role, allowed_roles=sorted(allowed))
        if cache:
            cached(security.cache, request, guard=guard)
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]  (read by install() and the tests)
    dependency.public = public  # type: ignore[attr-defined]
    dependency.audit = audit  # type: ignore[attr-defined]
    return dependency


#: Referential endpoints (occupations, search, bridges, sectors, paths, graph, trainings, basins):
#: open to anyone when ``settings.public_referentiel``, else to any valid key.
referential = require(*ROLES, public="referentiel")
#: The same, for endpoints whose answer is a pure function of the loaded referential and of the
#: path and query (occupation cards, search, bridges, sectors, paths, graph): answered from the
#: response cache once computed. Not for anything a write can change (trainings catalogue, store).
referential_cached = require(*ROLES, public="referentiel", cache=True)
# -- tension in a job basin: one rule wherever it appears ------------------------------------------

TENSION_ROLES = frozenset({"federation", "counsellor", "admin"})
"""Roles that may read what a job basin's stored seekers and offers add up to (tension, offers and
seekers per occupation, training needs): ``/basins/{id}/...``, ``/occupations/{code}/passerelles``
with ``basin=``, ``/kits`` with ``basin=`` in every format, and the page's calls to these. Anonymous
callers get 401, other roles (employers) 403 (issue 17)."""

#: The dependency of the basin aggregates (``/basins/{id}/tension``, ``passerelles``, ``training-needs``).
tension = require(*sorted(TENSION_ROLES))


def tension_access(request: Request, field: str = "basin") -> None:
    """The same rule inside an endpoint that shows tension only when asked (``basin=``): a 401 / 403
    problem unless the caller's key is one of :data:`TENSION_ROLES`."""
    principal = getattr(request.state, "principal", None)
    role = getattr(principal, "role", None)
    if role in TENSION_ROLES:
        return
    allowed = "a federation, counsellor or admin key"
    if role is None:
        raise Problem(401, "unauthorized", "Unauthorized",
                      f"Tension in a job basin counts its seekers and offers: send {allowed} "
                      "('Authorization: Bearer <key>' or 'X-API-Key: <key>') to use basin=.", field=field)
    raise Problem(403, "forbidden", "Forbidden", f"A {role} key cannot read tension in a job basin: it needs "
                  f"{allowed}.", role=role, allowed_roles=sorted(TENSION_ROLES), field=field)


_kits_base = require("federation", "counsellor", "admin", public="referentiel")
_kit_guard = Guard(_kits_base.roles, "referentiel")
_kit_tension_guard = Guard(TENSION_ROLES)


async def _kits(request: Request, principal: Principal = Depends(_kits_base)) -> Principal:
    """Bridge kits: aggregate, no personal data; public like the referential, else these roles. With
    ``basin=`` a kit carries tension rows: :func:`tension_access` first. Answers are cached (issue 17:
    an html kit costs a second): without basin as a pure function of the query, with basin keyed by
    the store's change sequence as well (a write moves tension)."""
    cache = request.app.state.security.cache
    if "basin" in request.query_params:
        tension_access(request)
        # the store's change sequence (a write moves tension) and the pre-registrations' version (an
        # acceptance moves the places left of the sessions in the plans and access routes)
        cached(cache, request, version=store_version(request.app.state.passerelles, principal, "places"),
               guard=_kit_tension_guard)
    else:
        cached(cache, request, guard=_kit_guard)
    return principal


_kits.roles = _kits_base.roles  # type: ignore[attr-defined]  (read by install() and the tests)
_kits.public = "referentiel"  # type: ignore[attr-defined]
_kits.audit = None  # type: ignore[attr-defined]
kits = _kits
#: Job seekers' personal data: counsellors only; every call is audited.
seekers = require("counsellor", audit="seeker")
#: Bulk ingest of seekers: counsellors and administrators.
seekers_ingest = require("counsellor", "admin", audit="seeker")
#: Bulk ingest of offers: administrators and counsellors.
offers_ingest = require("admin", "counsellor", audit="offer")
#: Administration (keys, audit log).
admin = require("admin")


# -- offer ids are per employer -------------------------------------------------------------------

OFFER_EMPLOYER_DOC = ("The employer whose offer this id names: offer ids are per employer (two employers may "
                      "both have an offer REF-001). An employer key: its own (another employer here is a 403). "
                      "Other keys: the employer's id; empty for the offer without employer; absent, the id alone, "
                      "answered 409 ambiguous-offer when several employers hold it.")


def offer_scope(principal: Principal, employer: str | None) -> Any:
    """The employer whose offers the caller addresses by id (``api.storage.store``: offer ids are per
    employer). An employer key: always its own employer, whatever exists elsewhere, so another
    employer's id is simply an id it does not have (the same 404, from the same lookup); naming
    another employer is a 403 that does not depend on what is stored. Counsellors and administrators:
    ``employer`` (the query parameter) names the employer, ``""`` the offer without employer, and
    None leaves it to the id alone (:data:`ANY_EMPLOYER`; 409 ``ambiguous-offer`` if several hold it)."""
    if principal.role == "employer":
        if employer not in (None, principal.employer):
            raise Problem(403, "not-your-offer", "Not your offer",
                          f"An employer key reads and writes offers of its own employer ({principal.employer!r}) only, "
                          f"not of {employer!r}.", field="employer", value=employer)
        return principal.employer
    if employer is None:
        return ANY_EMPLOYER
    if employer == "":
        return None
    from referentiels.ids import RULE, id_problem

    text, reason = id_problem(employer)
    if reason is not None:  # no offer can be of such an employer: the id rule's 422, naming the parameter
        raise Problem(422, "invalid-id", "Invalid id", f"'employer' {reason}: {RULE}.", field="employer",
                      location="query", rule=RULE)
    return text


def ambiguous_offer(error: Ambiguous) -> Problem:
    """409 ``ambiguous-offer``: an id several employers hold, addressed without ``employer=`` (only
    keys that see every employer's offers get it, so the list of employers reveals nothing)."""
    return Problem(409, "ambiguous-offer", "Ambiguous offer",
                   f"{len(error.employers)} employers have an offer {error.id!r}: add employer=ID to the query "
                   "(employer= empty for the offer without employer).", value=error.id, field="employer",
                   employers=error.employers)


def audited_offer_employer(pool: Any, scope: Any, id: str) -> str | None:
    """The employer of the offer an audited request names (the audit row's ``resource_employer``):
    the scope itself, or for an id alone the one employer that holds it (None when none or several)."""
    if scope is not ANY_EMPLOYER:
        return scope
    from referentiels.ids import id_problem

    employers = pool.store.offer_employers(id_problem(id)[0] or id)  # as the handler looks it up (NFC, trimmed)
    return employers[0] if len(employers) == 1 else None


def store_version(state: Any, principal: Principal, kind: str = "store") -> tuple:
    """The cache version of an answer computed from the store: :func:`current_version` of ``kind``
    (the store's change sequence, and for ``"places"`` the pre-registrations' version too), and the
    employer whose offers the caller sees (an employer key's answers are never served to another key).
    ``state``: the AppState."""
    return (*current_version(state, kind), principal.employer if principal.role == "employer" else "")


def offer_access(*roles: str, audit: str | None = "offer", cache: bool = True) -> Callable[..., Any]:
    """Like :func:`require`, and the path's offer ``{id}`` is looked up within the caller's employer
    (:func:`offer_scope`, from the ``employer`` query parameter): the handler reads it back with
    :func:`offer_scope`; the audit row names the offer's employer. ``cache``: a GET is answered from
    the response cache while the store's change sequence has not moved, keyed by the caller's
    employer as well (:func:`store_version`; after the access check and the audit mark: every read
    is still audited)."""
    base = require(*roles, audit=audit)
    guard = Guard(base.roles, None, audit, owner=True)

    # async: one indexed SQLite read at most, not worth a threadpool hop per request (issue 7)
    async def dependency(id: str, request: Request, principal: Principal = Depends(base)) -> Principal:
        pool = request.app.state.passerelles.pool
        scope = offer_scope(principal, request.query_params.get("employer"))
        if audit is not None and request.method != "PUT":  # PUT: the body's employer, set by the handler
            request.state.audit_employer = audited_offer_employer(pool, scope, id)
        if cache:  # an offer and its candidates change only when the store does: its sequence keys them
            cached(request.app.state.security.cache, request, version=store_version(request.app.state.passerelles, principal),
                   guard=guard)
        return principal

    dependency.roles = base.roles  # type: ignore[attr-defined]
    dependency.public = None  # type: ignore[attr-defined]
    dependency.audit = audit  # type: ignore[attr-defined]
    return dependency


def scope_offer(principal: Principal, offer: Any) -> Any:
    """The offer body an employer key may write: its ``employer`` set to the key's employer
    (403 when the body names another employer). Other roles: unchanged."""
    if principal.role != "employer":
        return offer
    given = getattr(offer, "employer", None)
    if given not in (None, "", principal.employer):
        raise Problem(403, "not-your-offer", "Not your offer",
                      f"An employer key writes offers of its own employer ({principal.employer!r}) only, "
                      f"not of {given!r}.", field="employer", value=given)
    return offer.model_copy(update={"employer": principal.employer})


#: Offers by id, and their candidates: employers (their own offers only) and counsellors; audited.
#: An employer's ids are its own namespace (:func:`offer_scope`).
offers = offer_access("employer", "counsellor")
#: Creating an offer (the handler calls :func:`scope_offer` on the body); audited.
offers_create = require("employer", "counsellor", audit="offer")
