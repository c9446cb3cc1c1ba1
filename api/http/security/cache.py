"""The response cache of deterministic GET endpoints, and the :class:`Guard` kept with each answer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fastapi import Request


@dataclass(frozen=True, slots=True)
class Guard:
    """The access check of a cacheable endpoint, kept with its cached answers so that the middleware
    can repeat it before FastAPI routes the request (:meth:`SecurityMiddleware._fast`): the roles
    admitted, the ``public_*`` setting that opens it to anonymous callers, the audited resource, and
    whether the path names an offer (``owner``: its ``employer`` query parameter is checked again and
    the audit row names the offer's employer; the answer itself is keyed by the caller's employer)."""

    roles: frozenset
    public: str | None = None
    audit: str | None = None
    owner: bool = False


class ResponseCache:
    """Bounded LRU of whole responses (status, headers, body) of deterministic GET endpoints: the
    referential endpoints answer from an immutable referential, so the same path and query always
    give the same bytes within a process. Only 200 answers of at most ``max_bytes`` are kept (an html
    kit of k=50 is ~1 MB: the expensive answers are the ones worth keeping), and the least recently
    used go when the entries pass ``max_entries`` or their bodies ``max_total_bytes`` together. An
    entry also holds the :class:`Guard` of its endpoint and the path's parameters (for the fast lane)."""

    def __init__(self, max_entries: int, max_bytes: int = 8_000_000, max_total_bytes: int = 256_000_000) -> None:
        from collections import OrderedDict

        self.max_entries, self.max_bytes, self.max_total_bytes = max_entries, max_bytes, max_total_bytes
        self.total_bytes = 0
        self._entries: "OrderedDict[tuple, tuple[int, list, bytes, Guard | None, dict]]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        #: (path, query) whose answers are keyed by a version of the data (:func:`current_version`):
        #: -> the version's kind ("store": the store's change sequence, for offers and candidates;
        #: "places": that and the pre-registrations' version, for kits that show places left)
        self.versioned: dict[tuple, str] = {}

    def clear(self) -> None:
        """Forget every answer (what they were computed from changed: e.g. the title normaliser
        gained its encoder)."""
        with self._lock:
            self._entries.clear()
            self.versioned.clear()
            self.total_bytes = 0

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
                self.versioned[key[:2]] = key[2][0]
            previous = self._entries.get(key)
            if previous is not None:
                self.total_bytes -= len(previous[2])
            self.total_bytes += len(body)
            # tuples of bytes and str only: the collector stops tracking them (no GC scan per entry)
            self._entries[key] = (status, tuple((bytes(k), bytes(v)) for k, v in headers), body, guard,
                                  tuple((path_params or {}).items()))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries or self.total_bytes > self.max_total_bytes:
                self.total_bytes -= len(self._entries.popitem(last=False)[1][2])


def current_version(state: Any, kind: str) -> tuple:
    """The version of what an answer was computed from, by kind: ``("store", seq)`` (the seekers and
    offers store's change sequence) or ``("places", seq, prescriptions)`` (also the pre-registration
    store's version: an acceptance changes the places left a kit shows). ``state``: the AppState."""
    if kind == "places":
        from api.services.prescription_service import PrescriptionService

        return ("places", state.pool.store.seq, PrescriptionService.of(state).store.version())
    return ("store", state.pool.store.seq)


class CachedHit(Exception):
    """Raised by a guard dependency to answer from the cache (the app's handler sends ``entry``)."""

    def __init__(self, entry: tuple) -> None:
        self.entry = entry


def cached(cache: ResponseCache, request: Request, version: Any = None, guard: Guard | None = None) -> None:
    """Answer from the response cache (raises :class:`CachedHit`), or mark the request so that the
    middleware keeps its answer. ``version``: what else the answer depends on (the store's change
    sequence for stored records), part of the key. ``guard``: the access check the middleware's fast
    lane repeats before answering the next identical request from the cache."""
    if request.method != "GET" or cache.max_entries <= 0:
        return
    key = (request.scope["path"], request.scope.get("query_string", b""), version)
    entry = cache.get(key)
    if entry is not None:
        raise CachedHit(entry)
    request.state.cache_key = key
    request.state.cache_guard = guard
