"""The ASGI middleware that ties security together: 413 and invalid text before parsing, the audit
row when a response starts, the response cache's capture and its fast lane, and ``gc.freeze``."""

from __future__ import annotations

import gc
import re
from typing import Any, Callable
from urllib.parse import parse_qsl

import orjson

from api.http.problems import MEDIA_TYPE, Problem
from api.http.security import audit
from api.http.security.context import Security
from api.http.security.roles import audited_offer_employer, offer_scope, store_version
from api.storage.keys import ANONYMOUS


def _query_employer(query: bytes) -> str | None:
    """The ``employer`` query parameter as Starlette reads it (the last one wins), or None."""
    found = None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "employer":
            found = value
    return found


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


NOSNIFF = (b"x-content-type-options", b"nosniff")


def _nosniff(send: Callable) -> Callable:
    """``send`` adding ``X-Content-Type-Options: nosniff`` to a response start that lacks it: a
    browser never guesses a type other than the one declared (a JSON or CSV answer carrying markup
    is never run as HTML or script)."""

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                message = {**message, "headers": [*headers, NOSNIFF]}
        await send(message)

    return sending


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
        send = _nosniff(send)
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
                if message["status"] == 500:  # an error: the connection is not to be reused (issue 17)
                    headers = list(message.get("headers", ()))
                    if not any(name.lower() == b"connection" for name, _ in headers):
                        message = {**message, "headers": [*headers, (b"connection", b"close")]}
                resource = state.get("audit")
                if resource is not None and not state.get("audit_written"):  # else the handler's write did
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
        (key, role, rate limit, audit; an answer from the store is keyed by the caller's employer,
        ``roles.store_version``) and send the cached bytes, without
        FastAPI's routing and dependency solving (most of the CPU of a cached answer). Anything but
        a plain success (no or unknown key where one is needed, another role, another employer's
        offer, over the rate) returns False *before* any side effect, and the normal path answers
        (the same 401/403/429 problems as ever). True when the answer was sent."""
        cache = self.security.cache
        path, query = scope["path"], scope.get("query_string", b"")
        security = self.security
        principal = None
        version = None
        kind = cache.versioned.get((path, query))
        if kind is not None:
            # an answer from the store: keyed by the caller's employer too (store_version), so the key
            # is checked first (never public: no key, no fast lane)
            key = self._key(scope)
            principal = security.keys.authenticate(key.strip()) if key is not None else None
            if principal is None:
                return False
            version = store_version(scope["app"].state.passerelles, principal, kind)
        entry = cache.peek((path, query, version))
        if entry is None or entry[3] is None:
            return False
        status, headers, body, guard, params = entry
        path_params = dict(params)
        public = guard.public is not None and getattr(security.settings, f"public_{guard.public}", False)
        if principal is None:
            key = self._key(scope)
            if key is not None:
                principal = security.keys.authenticate(key.strip())
                if principal is None:
                    return False
        if principal is None:
            if not public:
                return False
            client = scope.get("client")
            principal, identity, rate = ANONYMOUS, "ip:" + (client[0] if client else "unknown"), None
        else:
            if principal.role not in guard.roles and not public:
                return False
            identity, rate = "key:" + principal.key_id, principal.rate_per_minute
        state = {"principal": principal}
        if guard.owner:  # an offer's answer: the audit row names the offer's employer (as offer_access)
            try:
                employer = offer_scope(principal, _query_employer(query))
            except Problem:
                return False
            state["audit_employer"] = audited_offer_employer(scope["app"].state.passerelles.pool, employer,
                                                             path_params.get("id"))
        if security.limiter.take(identity, rate) > 0.0:
            return False  # refused without taking a token: the normal path answers 429
        if guard.audit is not None:
            self._audit({**scope, "path_params": path_params}, state, guard.audit, status)
        cache.hits += 1
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
        return True

    @staticmethod
    def _key(scope: dict) -> str | None:
        """The API key of the request's headers (``X-API-Key``, else ``Authorization: Bearer``), or None."""
        api_key = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = api_key or value
            elif name == b"authorization":
                authorization = authorization or value
        if api_key:
            return api_key.decode("latin-1")
        if authorization:  # as HTTPBearer reads it
            scheme, _, credentials = authorization.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        return None

    def _audit(self, scope: dict, state: dict, resource: str, status: int) -> None:
        audit.record(self.security, scope, state, resource, status)

    @staticmethod
    async def _send_problem(scope: dict, send: Callable, problem: Problem) -> None:
        body = orjson.dumps(problem.body(scope.get("path")))
        await send({"type": "http.response.start", "status": problem.status,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
