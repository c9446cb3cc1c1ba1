"""Fixtures of the security tests: an app on the demo referential with a fresh database (so every
module has its own rate-limit and work-budget buckets), a key per role and two more employers, and a
spy that counts what reaches a normaliser; more helpers in ``security_helpers``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings

PROBLEM = "application/problem+json"
OFFERS_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "offers-dev" / "offers.jsonl"


def make_env(database: Path, **settings) -> dict:
    """``{"app", "keys"}``: an app with a key per role (employer E1); request rate limits out of the way
    unless ``settings`` say otherwise, work budgets as the settings' defaults."""
    base = {"referentiel": "demo", "database": database, "rate_limit_per_minute": 10_000_000,
            "rate_limit_burst": 1_000_000}
    app = create_app(Settings(**{**base, **settings}))
    store = app.state.security.keys
    keys = {role: store.create(role, **({"employer": "E1"} if role == "employer" else {}))[0]
            for role in ("counsellor", "federation", "admin", "employer")}
    return {"app": app, "keys": keys}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """{client, app, database, keys: {counsellor, federation, admin, employer (E1), employer_a (EMP-A),
    employer_b (EMP-B)}}; the client answers a server error as a 500 response (not an exception)."""
    database = tmp_path_factory.mktemp("db") / "p.sqlite3"
    made = make_env(database)
    store = made["app"].state.security.keys
    made["keys"]["employer_a"] = store.create("employer", employer="EMP-A")[0]
    made["keys"]["employer_b"] = store.create("employer", employer="EMP-B")[0]
    with TestClient(made["app"], raise_server_exceptions=False) as client:
        yield {**made, "client": client, "database": database}


def key(env: dict, role: str | None) -> dict:
    return {"X-API-Key": env["keys"][role]} if role else {}


class Spy:
    """Wraps a normaliser: counts the batches and texts it is asked for (``refuse``: fail the test
    at the first call, so that a refusal that should come before any work cannot hang on work)."""

    def __init__(self, inner, refuse: bool = False) -> None:
        self.inner, self.refuse = inner, refuse
        self.calls: list[int] = []
        self.texts: list[str] = []

    def batch(self, texts, k=5, workers=-1, **options):
        if self.refuse:
            raise AssertionError(f"the normaliser was called with {len(texts)} texts: work began before the refusal")
        self.calls.append(len(texts))
        self.texts.extend(texts)
        return self.inner.batch(texts, k, workers, **options)

    def search(self, text, k=5, **options):
        if self.refuse:
            raise AssertionError("the normaliser was called: work began before the refusal")
        self.calls.append(1)
        return self.inner.search(text, k, **options)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def spy(env):
    """``spy("skill_normaliser", refuse=False)``: install a :class:`Spy` on the app's state for one test."""
    state = env["app"].state.passerelles
    installed: list[str] = []

    def install(name: str, refuse: bool = False) -> Spy:
        real = getattr(state, name)
        made = state.__dict__[name] = Spy(real, refuse)
        installed.append(name)
        return made

    yield install
    for name in installed:
        state.__dict__[name] = state.__dict__[name].inner


def long_texts(n: int, chars: int, seed: int = 17) -> list[str]:
    """``n`` distinct texts of exactly ``chars`` characters, of French job words (demo titles)."""
    import referentiels

    words = " ".join(referentiels.load("demo").titles["title"].to_list()).split()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = f"{i} " + " ".join(rng.choice(words) for _ in range(chars // 4))
        out.append(text[:chars].rstrip().ljust(chars, "x"))
    return out


def real_titles(n: int) -> list[str]:
    """The first ``n`` job-ad titles of the real offers (offers-dev: France Travail ads), as written."""
    if not OFFERS_DEV.exists():
        pytest.skip(f"real job ads not found at {OFFERS_DEV}")
    titles = []
    with OFFERS_DEV.open(encoding="utf-8") as lines:
        for line in lines:
            title = json.loads(line).get("title")
            if isinstance(title, str) and title.strip():
                titles.append(title)
            if len(titles) == n:
                break
    return titles
