"""Issue 17, finding 9: ``GET /kits?...&format=html&k=50`` took about a second, was not cached, and
an anonymous caller could send 1,200 a minute. Now the answer is cached (the next identical request
is served from the response cache, even by the middleware's fast lane) and an uncached kit is charged
k x occupations to the caller's work budget."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

import api.http.routers.kits as kits_router
from tests.security.conftest import make_env

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


def test_an_anonymous_html_kit_is_built_once_then_served_from_the_cache(tmp_path, monkeypatch):
    built: list[tuple] = []
    real = kits_router.build_kit

    def counting(*args, **kwargs):
        built.append(args[2:4])
        return real(*args, **kwargs)

    monkeypatch.setattr(kits_router, "build_kit", counting)
    made = make_env(tmp_path / "p.sqlite3")
    params = {"from_sector": FOOD, "to_sector": METAL, "format": "html", "k": 50}
    with TestClient(made["app"]) as client:
        started = time.perf_counter()
        first = client.get("/kits", params=params)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = [client.get("/kits", params=params) for _ in range(20)]
        warm = (time.perf_counter() - started) / 20
    print(f"\nhtml kit k=50: {cold * 1000:.0f} ms built, {warm * 1000:.2f} ms per cached answer")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    assert all(r.status_code == 200 and r.content == first.content for r in again)
    assert len(built) == 1, f"the kit was built {len(built)} times for 21 identical requests"
    assert made["app"].state.security.cache.hits >= 20


def test_uncached_kits_spend_the_anonymous_rows_budget(tmp_path):
    # each distinct kit costs k=50 x 27 occupations = 1,350 rows: two fit in 3,000 a minute, not five
    made = make_env(tmp_path / "p.sqlite3", work_rows_per_minute_anonymous=3_000)
    with TestClient(made["app"]) as client:
        answers = [client.get("/kits", params={"from_sector": FOOD, "to_sector": METAL, "format": "json", "k": 50,
                                               "min_score": f"0.0{i}"}) for i in range(5)]
    statuses = [r.status_code for r in answers]
    assert statuses[:2] == [200, 200] and 429 in statuses, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["unit"] == "rows" and int(refused.headers["Retry-After"]) >= 1


def test_the_response_cache_keeps_large_answers_within_a_total_memory_bound():
    from api.http.security.cache import ResponseCache

    cache = ResponseCache(max_entries=100, max_bytes=3_000, max_total_bytes=5_000)
    cache.put(("/a", b"", None), 200, [], b"x" * 2_000)
    cache.put(("/b", b"", None), 200, [], b"x" * 2_000)
    cache.put(("/too-big", b"", None), 200, [], b"x" * 3_001)  # above the per-answer bound: not kept
    assert cache.get(("/too-big", b"", None)) is None and cache.total_bytes == 4_000
    cache.put(("/c", b"", None), 200, [], b"x" * 2_000)  # 6,000 > 5,000: the least recent goes
    assert cache.get(("/a", b"", None)) is None and cache.get(("/c", b"", None)) is not None
    assert cache.total_bytes == 4_000
    cache.put(("/c", b"", None), 200, [], b"y" * 1_000)  # replaced, not counted twice
    assert cache.total_bytes == 3_000
