"""Issue 17, finding 1: one anonymous request bought minutes of CPU. Now every normalise request
is charged the characters of its distinct texts (kits and sector maps: k x occupations) against a
budget per request and per caller per minute, before any work; work runs off the event loop in
chunks, a bounded number at once, with a deadline, and stops when the client leaves."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import time

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import PROBLEM, key, long_texts, make_env, real_titles

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


def test_anonymous_10000_x_480_batch_is_refused_before_any_work(env, spy):
    skills = spy("skill_normaliser", refuse=True)
    texts = long_texts(10_000, 480)
    body = orjson.dumps({"texts": texts, "k": 5})
    started = time.perf_counter()
    response = env["client"].post("/normalise/skills", content=body, headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    print(f"\nanonymous 10,000 x 480 refused in {elapsed * 1000:.0f} ms (body {len(body):,} bytes)")
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"].endswith("/work-budget-exceeded")
    assert problem["cost"] == 4_800_000 and problem["budget_per_request"] == 20_000
    detail = problem["detail"]
    # it says the cost, the budget and how to split the work
    assert "4,800,000 characters" in detail and "20,000 per request" in detail
    assert "send at most 41 texts of 480 characters per request" in detail and "API key" in detail
    assert skills.calls == []


def test_a_counsellors_10000_real_titles_are_served_in_order_each_distinct_title_once(env, spy):
    titles = real_titles(10_000)
    distinct = list(dict.fromkeys(t.strip() for t in titles))
    normaliser = spy("title_normaliser")
    started = time.perf_counter()
    response = env["client"].post("/normalise/titles", json={"texts": titles, "k": 3}, headers=key(env, "counsellor"))
    elapsed = time.perf_counter() - started
    print(f"\ncounsellor batch of {len(titles):,} real titles ({len(distinct):,} distinct) served in {elapsed:.2f} s")
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    assert len(results) == 10_000
    assert [r["text"] for r in results] == [t.strip() for t in titles]
    # each distinct title computed once, in chunks (the work can stop between them)
    assert sorted(normaliser.texts) == sorted(distinct) and len(normaliser.texts) == len(distinct) < 10_000
    assert len(normaliser.calls) >= 2
    # a repeated title gets the same answer as its first occurrence
    first = {}
    for title, result in zip(titles, results):
        assert first.setdefault(title.strip(), result) == result


def test_the_minutes_budget_is_a_429_with_retry_after_and_is_shared_by_workers(tmp_path):
    database = tmp_path / "p.sqlite3"
    tight = {"work_chars_per_request_anonymous": 1_000, "work_chars_per_minute_anonymous": 1_000}
    one, two = make_env(database, **tight), make_env(database, **tight)  # two "workers" of one database
    with TestClient(one["app"]) as a, TestClient(two["app"]) as b:
        texts = {"texts": ["soudeur tig " * 41 + "a", "soudeur mig " * 41 + "b"]}  # 2 x 500 characters
        assert a.post("/normalise/titles", json=texts).status_code == 200
        refused = b.post("/normalise/titles", json=texts)  # the other worker: the same bucket, spent
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        problem = refused.json()
        assert problem["type"].endswith("/work-budget-spent") and "1,000 per minute" in problem["detail"]
        # a key has its own, larger budget
        assert b.post("/normalise/titles", json=texts, headers=key(two, "counsellor")).status_code == 200
        # search as you type is charged too
        assert a.get("/occupations", params={"q": "soudeur " * 60}).status_code == 429


def test_a_busy_server_answers_503_with_retry_after(env):
    heavy = env["app"].state.security.heavy
    heavy.busy = heavy.n
    try:
        response = env["client"].post("/normalise/titles", json={"texts": ["soudeur"]}, headers=key(env, "counsellor"))
    finally:
        heavy.busy = 0
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.json()["type"].endswith("/server-busy")


def test_past_the_deadline_the_work_stops_between_chunks(tmp_path, monkeypatch):
    made = make_env(tmp_path / "p.sqlite3", work_deadline_seconds=0.0)
    with TestClient(made["app"]) as client:
        response = client.post("/normalise/titles", json={"texts": long_texts(100, 480)}, headers=key(made, "counsellor"))
    assert response.status_code == 503 and response.json()["type"].endswith("/deadline-exceeded")


def test_a_client_that_leaves_stops_the_work(env, spy):
    """Drive the app as uvicorn would, with a client that disconnects once its body is sent: the
    batch stops at the next chunk instead of computing the rest."""
    normaliser = spy("title_normaliser")
    texts = long_texts(3_000, 100, seed=3)  # 300,000 characters: 15 chunks
    body = orjson.dumps({"texts": texts})
    sent: list[dict] = []
    disconnected = False

    async def receive():
        nonlocal disconnected
        if not disconnected:
            disconnected = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/normalise/titles", "raw_path": b"/normalise/titles", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"x-api-key", env["keys"]["counsellor"].encode())],
             "client": ("127.0.0.1", 5555), "server": ("testserver", 80), "state": {}}
    # In a thread of its own: another test's fixture (Playwright's sync API) may keep an event loop
    # running in this one, where asyncio.run refuses to start.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, env["app"](scope, receive, send)).result()
    from api.http.security import budget

    chunks = len(budget.chunks(texts))
    assert chunks >= 10
    assert len(normaliser.texts) <= budget.CHUNK_TEXTS < len(texts), \
        f"{len(normaliser.texts)} of {len(texts)} texts computed for a client gone ({chunks} chunks)"
    assert sent[0]["status"] == 499


def test_kits_and_sector_maps_are_charged_k_x_occupations(tmp_path):
    made = make_env(tmp_path / "p.sqlite3", work_rows_per_request_anonymous=100)
    with TestClient(made["app"]) as client:
        params = {"from_sector": FOOD, "to_sector": METAL, "k": 50, "format": "json"}
        refused = client.get("/kits", params=params)
        assert refused.status_code == 413, refused.text
        problem = refused.json()
        assert problem["unit"] == "rows" and "k=" in problem["detail"] and "API key" in problem["detail"]
        assert client.get("/kits", params=params, headers=key(made, "federation")).status_code == 200
        refused = client.get(f"/sectors/{FOOD}/bridges/{METAL}", params={"k_per_source": 100})
        assert refused.status_code == 413 and refused.json()["unit"] == "rows"


def test_helpers_dedupe_and_chunk_in_order():
    from api.http.security import budget

    unique, order = budget.distinct(["a", "b", "a", "c", "b"])
    assert unique == ["a", "b", "c"] and [unique[i] for i in order] == ["a", "b", "a", "c", "b"]
    parts = budget.chunks(["x" * 300] * 5, max_texts=3, max_chars=700)
    assert [len(p) for p in parts] == [2, 2, 1]
    assert budget.chunks(["y" * 900], max_chars=700) == [["y" * 900]]
