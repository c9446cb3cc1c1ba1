"""Access control of the HTTP API: API keys, roles, per-key rate limits, body size limit, audit.

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
process through ``<database>.locks`` (:class:`RateLimiter`).

Cached answers (``require(..., cache=True)``, offers and their candidates) are served by the
middleware before FastAPI routes the request, after it repeated the endpoint's :class:`Guard` (key,
role, employer's ownership, rate, audit): see :meth:`SecurityMiddleware._fast`.

Revocation is seen at once by every worker process: a key is cached in memory after its first
check, and the cache is trusted only while SQLite's ``PRAGMA data_version`` says no other
connection changed the database; otherwise the key's row is read again (one indexed lookup).
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import mmap
import os
import re
import secrets
import sqlite3
import struct
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.http.problems import MEDIA_TYPE, PROBLEM_SCHEMA, Problem

ROLES = ("counsellor", "employer", "federation", "admin")
KEY_PATTERN = re.compile(r"^psl_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")

KEYS_DDL = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('counsellor', 'employer', 'federation', 'admin')),
    employer TEXT,
    name TEXT,
    rate_per_minute INTEGER,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((role = 'employer') = (employer IS NOT NULL))
);
"""

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_id TEXT,
    role TEXT,
    employer TEXT,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    client TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_resource ON audit_log (resource, resource_id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _connect(path: Path) -> sqlite3.Connection:
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's id, role and (for an employer key) employer id; all None when
    anonymous on a public endpoint."""

    key_id: str | None
    role: str | None
    employer: str | None = None
    name: str | None = None
    rate_per_minute: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None


ANONYMOUS = Principal(None, None)


class KeyError_(ValueError):
    """A key cannot be created or revoked as asked (unknown role, missing employer id, unknown key)."""


class KeyStore:
    """API keys in SQLite, hashed; ``authenticate`` is cached and sees revocations at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = _connect(self.path)
        self._conn.executescript(KEYS_DDL)
        self._version = -1
        self._cache: dict[str, Principal | None] = {}

    def close(self) -> None:
        self._conn.close()

    # -- administration -------------------------------------------------------------------
    def create(self, role: str, employer: str | None = None, name: str | None = None,
               rate_per_minute: int | None = None) -> tuple[str, dict]:
        """A new key: returns ``(key, record)``; the key itself is not stored and cannot be shown again."""
        if role not in ROLES:
            raise KeyError_(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        if role == "employer" and not (employer and employer.strip()):
            raise KeyError_("an employer key needs the employer id (--employer ID)")
        if role != "employer" and employer:
            raise KeyError_(f"only employer keys carry an employer id, not {role} keys")
        if rate_per_minute is not None and rate_per_minute < 1:
            raise KeyError_("the rate limit is a number of requests per minute, at least 1")
        key_id = secrets.token_hex(4)
        key = f"psl_{key_id}_{secrets.token_urlsafe(32)}"
        record = {"id": key_id, "role": role, "employer": employer.strip() if employer else None, "name": name,
                  "rate_per_minute": rate_per_minute, "created_at": _now(), "revoked_at": None}
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (id, hash, role, employer, name, rate_per_minute, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, hash_key(key), role, record["employer"], name, rate_per_minute, record["created_at"]))
            self._cache.clear()
        return key, record

    def revoke(self, key_id: str) -> dict:
        """Revoke a key by its id (idempotent); the record as it is now."""
        with self._lock:
            self._conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (_now(), key_id))
            self._cache.clear()
        record = self.get(key_id)
        if record is None:
            raise KeyError_(f"no key has the id {key_id!r}")
        return record

    def get(self, key_id: str) -> dict | None:
        rows = self.list(key_id=key_id)
        return rows[0] if rows else None

    def list(self, limit: int = 1000, offset: int = 0, key_id: str | None = None) -> list[dict]:
        sql = "SELECT id, role, employer, name, rate_per_minute, created_at, revoked_at FROM api_keys"
        args: tuple = ()
        if key_id is not None:
            sql, args = sql + " WHERE id = ?", (key_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, id LIMIT ? OFFSET ?", (*args, limit, offset))
            names = [d[0] for d in rows.description]
            return [dict(zip(names, row)) for row in rows.fetchall()]

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]

    # -- per request -----------------------------------------------------------------------
    def authenticate(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None. Cost: one ``PRAGMA data_version``
        (microseconds) when cached, one indexed SELECT after any change to the database."""
        if not KEY_PATTERN.match(key):
            return None
        digest = hash_key(key)
        with self._lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._cache.clear()
                self._version = version
            elif digest in self._cache:
                return self._cache[digest]
            row = self._conn.execute(
                "SELECT id, role, employer, name, rate_per_minute FROM api_keys WHERE hash = ? AND revoked_at IS NULL",
                (digest,)).fetchone()
            principal = Principal(*row) if row else None
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[digest] = principal
            return principal


class RateLimiter:
    """Token buckets per key (or per client address when anonymous): ``rate`` requests per minute
    on average, bursts of up to ``burst``.

    Shared by every process that opens the same ``path`` (every worker of ``uvicorn --workers N``
    opens ``<database>.locks``): the buckets live in a small memory-mapped file of fixed slots
    (16-byte BLAKE2b digest of the identity, tokens, time of last update; ``CLOCK_MONOTONIC``, which
    all processes of the machine share), read and written under an exclusive ``fcntl`` lock of the
    file, so a key gets its rate once, not once per worker. Cost: two system calls and a few struct
    reads per request (about 5 µs; measured in tests/api/test_security.py). ``path=None``: an
    anonymous map, this process only.

    An identity hashes to one of ``SLOTS`` slots and probes ``PROBES`` of them; when all are taken
    by other identities, the one idle longest is replaced (it starts again from a full bucket if it
    comes back: with 65,536 slots this needs tens of thousands of identities active within minutes).
    """

    SLOTS = 1 << 16
    PROBES = 8
    _SLOT = struct.Struct("<16sdd")  # digest, tokens, last (monotonic seconds)
    _EMPTY = bytes(16)
    _locks: dict[str, threading.Lock] = {}  # one per file: fcntl locks do not exclude within a process
    _locks_lock = threading.Lock()

    def __init__(self, rate_per_minute: int, burst: int, path: Path | None = None) -> None:
        self.rate, self.burst = rate_per_minute, burst
        size = self._size = self.SLOTS * self._SLOT.size
        self._fd: int | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)  # zeros (sparse): every slot empty
                self._map = mmap.mmap(fd, size)
                self._fd = fd
            except OSError as error:  # read-only folder: per process, and say so
                print(f"passerelles: rate limits per worker process only, {self.path}: {error}", file=sys.stderr)
                self.path = None
        if self._fd is None:
            self._map = mmap.mmap(-1, size)
        name = str(self.path.resolve()) if self.path is not None else f"anonymous-{id(self)}"
        with self._locks_lock:
            self._lock = self._locks.setdefault(name, threading.Lock())

    def close(self) -> None:
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def take(self, identity: str, rate_per_minute: int | None = None) -> float:
        """0.0 if the request may go (one token taken), else the seconds to wait before the next one
        may (nothing taken)."""
        rate = (rate_per_minute or self.rate) / 60.0
        burst = max(self.burst, 1) if rate_per_minute is None else max(min(self.burst, rate_per_minute), 1)
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        home = int.from_bytes(digest[:8], "little")
        slot, size, mm = self._SLOT, self._SLOT.size, self._map
        with self._lock:
            if self._fd is not None:  # the buckets' bytes only (the audit log locks a byte after them)
                fcntl.lockf(self._fd, fcntl.LOCK_EX, self._size)
            try:
                now = time.monotonic()
                chosen, tokens, last, idlest = -1, float(burst), now, float("inf")
                for probe in range(self.PROBES):
                    offset = ((home + probe) % self.SLOTS) * size
                    owner, held, at = slot.unpack_from(mm, offset)
                    if owner == digest:
                        chosen, tokens, last = offset, held, min(at, now)
                        break
                    if owner == self._EMPTY:
                        if idlest != float("-inf"):  # the first empty slot
                            chosen, idlest = offset, float("-inf")
                    elif at < idlest:
                        chosen, idlest = offset, at
                tokens = min(burst, tokens + (now - last) * rate)
                if tokens >= 1.0:
                    slot.pack_into(mm, chosen, digest, tokens - 1.0, now)
                    return 0.0
                slot.pack_into(mm, chosen, digest, tokens, now)
                return (1.0 - tokens) / rate
            finally:
                if self._fd is not None:
                    fcntl.lockf(self._fd, fcntl.LOCK_UN, self._size)


_ACTIONS = {"GET": "read", "HEAD": "read", "POST": "create", "PUT": "replace", "PATCH": "change",
            "DELETE": "delete"}


class AuditLog:
    """Append-only log of reads and changes of personal data (table ``audit_log``; triggers refuse
    UPDATE and DELETE). One committed INSERT per audited request (WAL, synchronous=NORMAL).

    The workers' INSERTs take turns on an ``fcntl`` lock (one byte of ``<database>.locks``, past the
    rate buckets) before SQLite's own write lock: a worker that found the database busy would
    otherwise sleep in SQLite's busy handler (1, 2, 5, 10 ... ms), which made the p99 of audited
    reads under load ~100 ms; a kernel lock wakes the next writer as soon as the first commits."""

    LOCK_BYTE = RateLimiter.SLOTS * RateLimiter._SLOT.size

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = _connect(path)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(AUDIT_DDL)
        try:
            self._fd: int | None = os.open(f"{path}.locks", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # read-only folder: SQLite's busy handler alone
            self._fd = None

    def close(self) -> None:
        self._conn.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def record(self, principal: Principal, resource: str, method: str, path: str, status: int,
               resource_id: str | None = None, client: str | None = None, action: str | None = None) -> None:
        action = action or ("ingest" if path.endswith(":ingest") else _ACTIONS.get(method, method.lower()))
        with self._lock:
            if self._fd is not None:
                fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, self.LOCK_BYTE)
            try:
                self._conn.execute(
                    "INSERT INTO audit_log (at, key_id, role, employer, action, resource, resource_id, method, "
                    "path, status, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (_now(), principal.key_id, principal.role, principal.employer, action, resource, resource_id,
                     method, path, status, client))
            finally:
                if self._fd is not None:
                    fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self.LOCK_BYTE)

    def list(self, limit: int = 100, offset: int = 0, resource: str | None = None,
             resource_id: str | None = None, key_id: str | None = None) -> tuple[list[dict], int]:
        where, args = [], []
        for column, value in (("resource", resource), ("resource_id", resource_id), ("key_id", key_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._conn.execute("SELECT count(*) FROM audit_log" + clause, args).fetchone()[0]
            cursor = self._conn.execute("SELECT * FROM audit_log" + clause + " ORDER BY seq LIMIT ? OFFSET ?",
                                        (*args, limit, offset))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()], total


@dataclass(frozen=True, slots=True)
class Guard:
    """The access check of a cacheable endpoint, kept with its cached answers so that the middleware
    can repeat it before FastAPI routes the request (:meth:`SecurityMiddleware._fast`): the roles
    admitted, the ``public_*`` setting that opens it to anonymous callers, the audited resource, and
    whether an employer key must own the path's offer."""

    roles: frozenset
    public: str | None = None
    audit: str | None = None
    owner: bool = False


class ResponseCache:
    """Bounded LRU of whole responses (status, headers, body) of deterministic GET endpoints: the
    referential endpoints answer from an immutable referential, so the same path and query always
    give the same bytes within a process. Only 200 answers below ``max_bytes`` are kept. An entry
    also holds the :class:`Guard` of its endpoint and the path's parameters (for the fast lane)."""

    def __init__(self, max_entries: int, max_bytes: int = 1_000_000) -> None:
        from collections import OrderedDict

        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: "OrderedDict[tuple, tuple[int, list, bytes, Guard | None, dict]]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        #: (path, query) whose answers are keyed by the store's change sequence (offers, candidates)
        self.versioned: set[tuple] = set()

    def get(self, key: tuple) -> tuple[int, list, bytes] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def peek(self, key: tuple) -> tuple | None:
        """The entry of ``key`` or None, without counting a miss (the fast lane falls back to the
        normal path, which counts it)."""
        return self._entries.get(key)

    def put(self, key: tuple, status: int, headers: list, body: bytes, guard: Guard | None = None,
            path_params: dict | None = None) -> None:
        if self.max_entries <= 0 or status != 200 or len(body) > self.max_bytes:
            return
        with self._lock:
            if key[2] is not None:
                if len(self.versioned) > 4 * self.max_entries:
                    self.versioned.clear()
                self.versioned.add(key[:2])
            # tuples of bytes and str only: the collector stops tracking them (no GC scan per entry)
            self._entries[key] = (status, tuple((bytes(k), bytes(v)) for k, v in headers), body, guard,
                                  tuple((path_params or {}).items()))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class _CachedHit(Exception):
    def __init__(self, entry: tuple) -> None:
        self.entry = entry


class Security:
    """Everything access control needs, built once per app (``app.state.security``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        # one budget per key across every worker process serving this database (issue 7)
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst,
                                   Path(f"{settings.database}.locks"))
        self.cache = ResponseCache(getattr(settings, "response_cache_entries", 0))
        self._keys: KeyStore | None = None
        self._audit: AuditLog | None = None
        self._lock = threading.Lock()

    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = KeyStore(self.settings.database)
        return self._keys

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            with self._lock:
                if self._audit is None:
                    self._audit = AuditLog(self.settings.database)
        return self._audit


# OpenAPI: both ways of sending a key, so /docs has an "Authorize" button.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                               description="An API key: passerelles keys create --role ROLE")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer", description="Authorization: Bearer <API key>")


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail, field="Authorization")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(security: Security, identity: str, rate: int | None) -> None:
    wait = security.limiter.take(identity, rate)
    if wait > 0.0:
        seconds = max(1, int(wait + 0.999))
        raise Problem(429, "too-many-requests", "Too many requests",
                      f"This key (or address) sent more requests than its rate allows; retry in {seconds} s.",
                      retry_after=seconds, headers={"Retry-After": str(seconds)})


def _cached(security: Security, request: Request, version: Any = None, guard: Guard | None = None) -> None:
    """Answer from the response cache (raises ``_CachedHit``), or mark the request so that the
    middleware keeps its answer. ``version``: what else the answer depends on (the store's change
    sequence for stored records), part of the key. ``guard``: the access check the middleware's fast
    lane repeats before answering the next identical request from the cache."""
    if request.method != "GET" or security.cache.max_entries <= 0:
        return
    key = (request.scope["path"], request.scope.get("query_string", b""), version)
    entry = security.cache.get(key)
    if entry is not None:
        raise _CachedHit(entry)
    request.state.cache_key = key
    request.state.cache_guard = guard


async def _body_id(request: Request) -> str | None:
    """The ``id`` of a JSON body being created (for the audit row); FastAPI has already read and
    parsed the body, so this is the cached value."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        body = await request.json()
    except Exception:  # noqa: BLE001 - not JSON: nothing to name
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return str(value)[:200] if value is not None else None


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
                _limit(security, "ip:" + _client(request), None)
                request.state.principal = ANONYMOUS
                if cache:
                    _cached(security, request, guard=guard)
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
                request.state.audit_id = await _body_id(request)
        _limit(security, "key:" + principal.key_id, principal.rate_per_minute)
        if principal.role not in allowed and not (public is not None
                                                  and getattr(security.settings, f"public_{public}", False)):
            raise Problem(403, "forbidden", "Forbidden",
                          f"A {principal.role} key cannot use this endpoint: it is for {described} keys.",
                          role=principal.role, allowed_roles=sorted(allowed))
        if cache:
            _cached(security, request, guard=guard)
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
#: Bridge kits: aggregate, no personal data; public like the referential, else these roles.
kits = require("federation", "counsellor", "admin", public="referentiel")
#: Job seekers' personal data: counsellors only; every call is audited.
seekers = require("counsellor", audit="seeker")
#: Bulk ingest of seekers: counsellors and administrators.
seekers_ingest = require("counsellor", "admin", audit="seeker")
#: Bulk ingest of offers: administrators and counsellors.
offers_ingest = require("admin", "counsellor", audit="offer")
#: Administration (keys, audit log).
admin = require("admin")


# -- employers see their own offers only -----------------------------------------------------------

def not_your_offer(principal: Principal, offer_id: str) -> Problem:
    return Problem(403, "not-your-offer", "Not your offer",
                   f"The offer {offer_id!r} belongs to another employer: an employer key reads and changes "
                   f"only the offers of its own employer ({principal.employer!r}).", field="id", value=offer_id)


def owns_offer(principal: Principal, offer: dict | None) -> bool:
    """True unless ``principal`` is an employer and ``offer`` (a stored record) belongs to another."""
    return principal.role != "employer" or offer is None or offer.get("employer") == principal.employer


def offer_access(*roles: str, audit: str | None = "offer", cache: bool = True) -> Callable[..., Any]:
    """Like :func:`require`, and an employer key may touch the path's offer ``{id}`` only if that
    offer is its own (403 ``not-your-offer`` otherwise; an unknown id is left to the handler).
    ``cache``: a GET is answered from the response cache while the store's change sequence has not
    moved (after the access check and the audit mark: every read is still audited)."""
    base = require(*roles, audit=audit)
    guard = Guard(base.roles, None, audit, owner=True)

    # async: one indexed SQLite read at most, not worth a threadpool hop per request (issue 7)
    async def dependency(id: str, request: Request, principal: Principal = Depends(base)) -> Principal:
        pool = request.app.state.passerelles.pool
        if principal.role == "employer":
            offer = pool.get("offers", id)
            if not owns_offer(principal, offer):
                raise not_your_offer(principal, id)
        if cache:  # an offer and its candidates change only when the store does: its sequence keys them
            _cached(request.app.state.security, request, version=("store", pool.store.seq), guard=guard)
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
offers = offer_access("employer", "counsellor")
#: Creating an offer (the handler calls :func:`scope_offer` on the body); audited.
offers_create = require("employer", "counsellor", audit="offer")


# -- the ASGI middleware: body size (413) and the audit log ---------------------------------------

class _Refused(Exception):
    pass


# An escaped UTF-16 surrogate without its pair: valid JSON, but not a character (it cannot be
# stored, normalised or encoded back as UTF-8).
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
                             rb"|\xed[\xa0-\xbf]")  # a surrogate encoded as UTF-8 bytes (json.loads lets it pass)


def _is_json(scope: dict) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large", "Payload too large",
                   f"The request body is larger than {limit:,} bytes; send less data per request "
                   f"(for bulk files, 'passerelles ingest').", max_bytes=limit)


class SecurityMiddleware:
    """Pure ASGI: refuses bodies above the limit with 413 before any parsing (Content-Length, or
    counting a streamed body), and writes the audit row of an audited request when its response
    starts, with the final status."""

    #: After these many requests, collect once and move every object alive to the permanent generation
    #: (``gc.freeze``): the referential, indexes and normalisers built on first use are then never
    #: scanned again, where a full collection over them paused a worker ~90 ms (the p99 under load).
    FREEZE_AT = (200, 2_000)

    def __init__(self, app: Any, security: Security) -> None:
        self.app, self.security = app, security
        self._requests = 0
        self.max_body = security.settings.max_body_bytes
        self.max_ingest = security.settings.max_ingest_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._requests += 1
        if self._requests in self.FREEZE_AT:
            gc.collect()
            gc.freeze()
        if scope["method"] == "GET" and self.security.cache.max_entries > 0 and await self._fast(scope, send):
            return
        limit = self.max_ingest if scope["path"].endswith(":ingest") else self.max_body
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = False
                if too_large:
                    await self._send_problem(scope, send, _too_large(limit))
                    return
                break
        state = scope.setdefault("state", {})
        received = 0
        started = False
        refusal: Problem | None = None  # set when the body is refused while it streams
        captured: list[dict] = []  # the start message of a response to keep in the cache
        check_text = _is_json(scope)

        async def checked_receive() -> dict:
            nonlocal received, refusal
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    refusal = _too_large(limit)
                    raise _Refused()
                if check_text and (b"\\u" in chunk or b"\xed" in chunk) and _LONE_SURROGATE.search(chunk):
                    refusal = Problem(422, "invalid-text", "Invalid text",
                                      "The body contains a lone surrogate (U+D800 to U+DFFF without its pair, escaped "
                                      "or encoded), which is not a character: send valid Unicode text.")
                    raise _Refused()
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if refusal is not None:  # whatever the app answers to the interrupted body, the answer is ours
                if not started:
                    started = True
                    await self._send_problem(scope, send, refusal)
                return
            if message["type"] == "http.response.start":
                started = True
                resource = state.get("audit")
                if resource is not None:
                    self._audit(scope, state, resource, message["status"])
                if "cache_key" in state:
                    captured.append(message)
            elif captured and message["type"] == "http.response.body":
                if message.get("more_body"):
                    captured.clear()  # streamed: not cached
                    state.pop("cache_key", None)
                else:
                    start = captured[0]
                    self.security.cache.put(state["cache_key"], start["status"], list(start.get("headers", ())),
                                            message.get("body", b""), state.get("cache_guard"),
                                            scope.get("path_params"))
            await send(message)

        try:
            await self.app(scope, checked_receive, guarded_send)
        except _Refused:
            pass
        if refusal is not None and not started:
            await self._send_problem(scope, send, refusal)

    async def _fast(self, scope: dict, send: Callable) -> bool:
        """The fast lane of a GET whose answer is cached: repeat the endpoint's :class:`Guard` here
        (key, role, employer's own offer, rate limit, audit) and send the cached bytes, without
        FastAPI's routing and dependency solving (most of the CPU of a cached answer). Anything but
        a plain success (no or unknown key where one is needed, another role, another employer's
        offer, over the rate) returns False *before* any side effect, and the normal path answers
        (the same 401/403/429 problems as ever). True when the answer was sent."""
        cache = self.security.cache
        path, query = scope["path"], scope.get("query_string", b"")
        version = None
        if (path, query) in cache.versioned:
            version = ("store", scope["app"].state.passerelles.pool.store.seq)
        entry = cache.peek((path, query, version))
        if entry is None or entry[3] is None:
            return False
        status, headers, body, guard, params = entry
        path_params = dict(params)
        security = self.security
        api_key = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = api_key or value
            elif name == b"authorization":
                authorization = authorization or value
        key = api_key.decode("latin-1") if api_key else None
        if key is None and authorization:  # as HTTPBearer reads it
            scheme, _, credentials = authorization.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                key = credentials.strip()
        public = guard.public is not None and getattr(security.settings, f"public_{guard.public}", False)
        if key is None:
            if not public:
                return False
            client = scope.get("client")
            principal, identity, rate = ANONYMOUS, "ip:" + (client[0] if client else "unknown"), None
        else:
            principal = security.keys.authenticate(key.strip())
            if principal is None or (principal.role not in guard.roles and not public):
                return False
            if guard.owner and principal.role == "employer":
                offer = scope["app"].state.passerelles.pool.get("offers", path_params.get("id"))
                if not owns_offer(principal, offer):
                    return False
            identity, rate = "key:" + principal.key_id, principal.rate_per_minute
        if security.limiter.take(identity, rate) > 0.0:
            return False  # refused without taking a token: the normal path answers 429
        if guard.audit is not None:
            self._audit({**scope, "path_params": path_params}, {"principal": principal}, guard.audit, status)
        cache.hits += 1
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
        return True

    def _audit(self, scope: dict, state: dict, resource: str, status: int) -> None:
        principal = state.get("principal") or ANONYMOUS
        params = scope.get("path_params") or {}
        client = scope.get("client")
        try:
            self.security.audit.record(principal, resource, scope["method"], scope["path"], status,
                                       resource_id=params.get("id") or state.get("audit_id"),
                                       client=client[0] if client else None)
        except sqlite3.Error as error:  # pragma: no cover - disk full, database locked for 30 s
            print(f"passerelles: audit log write failed: {error}", file=sys.stderr)

    @staticmethod
    async def _send_problem(scope: dict, send: Callable, problem: Problem) -> None:
        body = orjson.dumps(problem.body(scope.get("path")))
        await send({"type": "http.response.start", "status": problem.status,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


# -- installation --------------------------------------------------------------------------------

def _problem_response(description: str) -> dict:
    return {"description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _guards(route: Any) -> list[Any]:
    """The ``require``/``offer_access`` dependencies of a route (its own and its routers')."""
    dependant = getattr(route, "dependant", None)
    found, stack = [], list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if hasattr(dep.call, "roles"):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def iter_routes(routes: Any) -> Any:
    """Every endpoint route of an app, through included routers (FastAPI nests them)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from iter_routes(original.routes)
        else:
            yield route


def install(app: FastAPI, settings: Any) -> Security:
    """Build the app's :class:`Security`, add the middleware (413, audit), and complete the OpenAPI
    document: the ``Problem`` schema, problem+json 401/403/429 on every guarded operation (with
    its roles in ``x-roles``; anonymous access allowed where public), 413 where there is a body,
    and 422 as problem+json. Call after every router is included."""
    security = Security(settings)
    app.state.security = security
    app.add_middleware(SecurityMiddleware, security=security)

    @app.exception_handler(_CachedHit)
    async def _serve_cached(request: Request, hit: _CachedHit) -> Response:
        status, headers, body = hit.entry[:3]
        response = Response(body, status_code=status)
        response.raw_headers = [(k, v) for k, v in headers]
        return response
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            document(schema, app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return security


def document(schema: dict, app: FastAPI, settings: Any) -> None:
    """Add the access control and error model to an OpenAPI document, in place."""
    guards = {}
    for route in iter_routes(app.routes):
        found = guard_of(route)
        if found is not None:
            for method in getattr(route, "methods", ()):
                guards[(route.path, method.lower())] = found
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses or "requestBody" in operation or operation.get("parameters"):
                responses["422"] = _problem_response("Invalid request: names the field and what to change")
            if "requestBody" in operation:
                responses.setdefault("413", _problem_response("The body is larger than the server accepts"))
            if operation.get("parameters"):  # an unknown id, code, sector or basin in the path or query
                responses.setdefault("404", _problem_response("Unknown id or code, with suggestions where useful"))
                responses.setdefault("400", _problem_response("Parameters that do not go together"))
            for status, response in responses.items():
                if status[:1] in "45" and "content" not in response:
                    response["content"] = _problem_response("")["content"]
            if path.endswith(":ingest"):
                responses.setdefault("415", _problem_response("The body's format is not one of those accepted"))
            if method in ("post", "put") and guards.get((path, method), (None, None, None))[2]:
                responses.setdefault("409", _problem_response("A record with this id already exists"))
            guard = guards.get((path, method))
            if guard is None and not operation.get("security"):
                continue
            responses.setdefault("401", _problem_response("No API key, or an unknown or revoked one"))
            responses.setdefault("403", _problem_response("The key's role may not use this endpoint"))
            responses.setdefault("429", {**_problem_response("Rate limit of the key exceeded"),
                                         "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                                     "description": "Seconds to wait"}}})
            if guard is not None:
                roles, public, _ = guard
                operation["x-roles"] = sorted(roles)
                if public and getattr(settings, f"public_{public}", False):
                    operation["x-public"] = True
                    operation["security"] = [*operation.get("security", []), {}]


def guard_of(route: Any) -> tuple[frozenset[str], str | None, str | None] | None:
    """``(roles, public setting, audited resource)`` of a route's guard, or None for an unguarded
    route (tests, docs)."""
    guards = _guards(route)
    if not guards:
        return None
    roles = frozenset().union(*(g.roles for g in guards))
    public = next((g.public for g in guards if g.public), None)
    audit = next((g.audit for g in guards if g.audit), None)
    return roles, public, audit
