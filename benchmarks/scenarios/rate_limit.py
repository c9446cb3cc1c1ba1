"""Rate limiter: one token taken per request from the buckets every worker process shares.

``ours``: 2,000 ``RateLimiter.take`` calls (20 identities) on the shared buckets of a ``.locks`` file
(memory-mapped, a ``fcntl`` byte-range lock per call: what every worker of ``uvicorn --workers N``
does on each request). Baseline: the same calls on an anonymous map (this process only, no system
call): the ratio is what sharing the budget across processes costs. The per-request cost is
``median_ms / 2000`` (the tests no longer assert it: it was "< 0.1 ms" in tests/api/test_security.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from api.http.security import RateLimiter

from ..harness import scenario

CALLS = 2000


def _take(limiter: RateLimiter) -> int:
    refused = 0
    for i in range(CALLS):
        refused += limiter.take(f"key:{i % 20}") > 0.0
    return refused


def _setup(quick: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="passerelles-bench-rate-"))
    return {"shared": RateLimiter(10**9, 10**9, folder / "p.sqlite3.locks"), "local": RateLimiter(10**9, 10**9, None)}


scenario(name="rate_limit_take", ours=lambda c: _take(c["shared"]), baseline=lambda c: _take(c["local"]),
         baseline_name="the same buckets in this process only (anonymous map, no lock)",
         target=f"< 0.2 s per {CALLS} takes (< 100 µs a request)", repeats=30, quick_repeats=9,
         counters=lambda c: {"takes": CALLS})(_setup)
