"""Work budgets: what a request costs, not only that it came (issue 17).

Two units of work, each with a budget per request and per caller per minute (``api/settings.py``,
``PASSERELLES_WORK_*``; anonymous callers a small one, keys a larger one):

- **characters**: the sum of the lengths of the *distinct* texts sent to the normalisers
  (``POST /normalise/titles``, ``/normalise/skills``, ``GET /occupations?q=``); a text repeated in a
  batch is computed, and charged, once;
- **rows**: ``k`` x the occupations a kit or a sector-pair map ranks (uncached answers only).

A request above the per-request budget is a 413 problem that says its cost, the budget and how to
split the work; above what is left of the minute's budget, a 429 with ``Retry-After``. The minute's
budget is a token bucket of its own identity (``work-chars:key:<id>``, ``work-rows:ip:<address>``)
in the rate limiter's shared memory map (``rate_limit.RateLimiter.take`` with a cost), so it holds
across every worker process.

Heavy work then runs off the event loop in chunks (:func:`run_chunks`): at most
``settings.heavy_requests`` at once per worker (503 with ``Retry-After`` beyond), and between two
chunks it stops when the client has left, when ``settings.work_deadline_seconds`` have passed, or
when the request's task is cancelled (uvicorn's ``timeout_graceful_shutdown`` on SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from typing import Any, AsyncIterator, Callable, Sequence, TypeVar

from fastapi import Request

from api.http.problems import Problem
from api.storage.keys import ANONYMOUS

T = TypeVar("T")

UNITS = {"chars": "characters", "rows": "rows (k x occupations)"}

CHUNK_TEXTS = 500
"""Texts per chunk of a normalise batch (the normaliser's own sparse product takes 2,048)."""
CHUNK_CHARS = 20_000
"""Characters per chunk: about 0.1 to 1 s of CPU on ROME, the longest a cancel or a deadline waits."""
BUSY_RETRY_SECONDS = 2


def distinct(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """``(unique, order)``: the distinct texts in first-seen order, and for each input its position
    in ``unique`` (``[unique[i] for i in order] == list(texts)``)."""
    position: dict[str, int] = {}
    unique: list[str] = []
    order: list[int] = []
    for text in texts:
        at = position.get(text)
        if at is None:
            at = position[text] = len(unique)
            unique.append(text)
        order.append(at)
    return unique, order


def chunks(texts: Sequence[str], max_texts: int = CHUNK_TEXTS, max_chars: int = CHUNK_CHARS) -> list[list[str]]:
    """``texts`` cut in order into runs of at most ``max_texts`` texts and ``max_chars`` characters
    (a single longer text makes a chunk of its own)."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        if current and (len(current) >= max_texts or size + len(text) > max_chars):
            out.append(current)
            current, size = [], 0
        current.append(text)
        size += len(text)
    if current:
        out.append(current)
    return out


def _caller(request: Request) -> tuple[str, bool]:
    """``(identity, keyed)`` of the request's caller, as the rate limiter names it."""
    principal = getattr(request.state, "principal", None) or ANONYMOUS
    if principal.anonymous:
        return "ip:" + (request.client.host if request.client else "unknown"), False
    return "key:" + principal.key_id, True


def budgets(settings: Any, unit: str, keyed: bool) -> tuple[int, int]:
    """``(per request, per minute)`` budget of ``unit`` (``"chars"`` or ``"rows"``)."""
    who = "key" if keyed else "anonymous"
    return (int(getattr(settings, f"work_{unit}_per_request_{who}")),
            int(getattr(settings, f"work_{unit}_per_minute_{who}")))


def charge(request: Request, unit: str, cost: int, split: Callable[[int], str]) -> None:
    """Charge ``cost`` (in ``unit``) to the caller, or raise the 413 / 429 problem.

    ``split(budget)`` says in the caller's words how to fit a request in ``budget``
    ("send at most 41 texts of 480 characters per request"). Nothing is charged on a refusal."""
    security = request.app.state.security
    identity, keyed = _caller(request)
    per_request, per_minute = budgets(security.settings, unit, keyed)
    name = UNITS[unit]
    who = "this key" if keyed else "an anonymous caller"
    if cost > per_request:
        hint = split(per_request)
        if not keyed:
            key_budget = budgets(security.settings, unit, True)[0]
            hint += f", or use an API key (budget {key_budget:,} {unit} per request)"
        raise Problem(413, "work-budget-exceeded", "Request too costly",
                      f"This request costs {cost:,} {name}; the budget of {who} is {per_request:,} per request: "
                      f"{hint}.", unit=unit, cost=cost, budget_per_request=per_request, budget_per_minute=per_minute)
    if cost <= 0:
        return
    wait = security.limiter.take(f"work-{unit}:{identity}", per_minute, cost=float(cost),
                                 burst=float(max(per_minute, per_request)))
    if wait > 0.0:
        seconds = max(1, math.ceil(wait))
        raise Problem(429, "work-budget-spent", "Work budget spent",
                      f"This request costs {cost:,} {name}; {who} may spend {per_minute:,} per minute and has "
                      f"spent most of it: retry in {seconds} s, or send smaller requests.",
                      unit=unit, cost=cost, budget_per_minute=per_minute, retry_after=seconds,
                      headers={"Retry-After": str(seconds)})


def texts_hint(cost: int, n_texts: int) -> Callable[[int], str]:
    """The split advice of a batch of ``n_texts`` distinct texts costing ``cost`` characters."""
    average = max(1, round(cost / max(n_texts, 1)))

    def hint(budget: int) -> str:
        return (f"send at most {max(1, budget // average):,} texts of {average:,} characters per request "
                f"(split the batch in {math.ceil(cost / budget):,} requests)")

    return hint


def rows_hint(k: int, rows: int) -> Callable[[int], str]:
    """The split advice of a request ranking ``k`` bridges for each of ``rows`` occupations."""
    def hint(budget: int) -> str:
        fit = budget // max(rows, 1)
        return (f"ask for k={fit} or fewer bridges per occupation ({rows:,} occupations x k)" if fit >= 1
                else f"choose smaller sectors (these have {rows:,} occupations)")

    return hint


class HeavySlots:
    """At most ``n`` heavy requests computing at once in this worker process (one event loop: a
    plain counter is enough). Beyond, a 503 problem with ``Retry-After``."""

    def __init__(self, n: int) -> None:
        self.n, self.busy = max(1, int(n)), 0

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self.busy >= self.n:
            raise Problem(503, "server-busy", "Server busy",
                          f"{self.busy} heavy requests (normalise batches, kits) are being computed, the most this "
                          f"server runs at once: retry in {BUSY_RETRY_SECONDS} s.", retry_after=BUSY_RETRY_SECONDS,
                          headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1


class ClientGone(Problem):
    """The client closed the connection: the work stopped (nobody reads this 499)."""

    def __init__(self) -> None:
        super().__init__(499, "client-closed-request", "Client closed request",
                         "The client left before the answer was ready; the work stopped.")


async def off_loop(work: Callable[[T], Any], part: T) -> Any:
    """``work(part)`` in a daemon thread of its own, awaited without blocking the event loop.

    A daemon thread, not a pool's: when the request is cancelled (the server stops) the running
    part is abandoned and the process exits without waiting for it (a pool's threads are joined at
    exit, which kept a stopping server up for the rest of a kit's build). Threads rather than
    processes: the normaliser releases the GIL in rapidfuzz and numpy for about half of a batch
    (measured: a pure-Python loop beside a batch keeps 51% of its speed), the event loop stays
    responsive, and nothing is copied or pickled."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def run() -> None:
        try:
            result, error = work(part), None
        except BaseException as caught:  # noqa: BLE001 - handed to the awaiting request as is
            result, error = None, caught
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: the server stopped, nobody waits for this part
            pass

    threading.Thread(target=run, name="passerelles-heavy", daemon=True).start()
    return await future


async def run_chunks(request: Request, work: Callable[[T], Any], parts: Sequence[T]) -> list[Any]:
    """``[work(part) for part in parts]``, each call in a worker thread (off the event loop), under
    one of the app's heavy slots. Before each part: 499 when the client has left, 503 past the
    deadline. A cancelled request (server shutdown) abandons the running part and starts no other."""
    security = request.app.state.security
    deadline_seconds = float(security.settings.work_deadline_seconds)
    deadline = time.monotonic() + deadline_seconds
    out: list[Any] = []
    async with security.heavy.hold():
        for part in parts:
            if await request.is_disconnected():
                raise ClientGone()
            if time.monotonic() > deadline:
                raise Problem(503, "deadline-exceeded", "Deadline exceeded",
                              f"The work was not done within {deadline_seconds:g} s; send it in smaller requests.",
                              headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
            try:
                out.append(await off_loop(work, part))
            except asyncio.CancelledError:  # the server is stopping (uvicorn's graceful timeout): say so
                raise Problem(503, "server-stopping", "Server stopping",
                              "The server is stopping; the work was abandoned: send the request again in a moment.",
                              headers={"Retry-After": str(BUSY_RETRY_SECONDS), "Connection": "close"}) from None
    return out
