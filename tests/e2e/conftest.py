"""Fixtures for end-to-end tests: a real server on loopback and a headless Chromium.

Chromium comes from the system (Debian package ``chromium``; ``make test`` installs it when it
can). Without it, browser tests skip with the reason; with ``PASSERELLES_REQUIRE_BROWSER=1`` (set by
``.ci/run``) its absence is a failure, so CI always drives the real page.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


def find_chromium() -> str | None:
    explicit = os.environ.get("PASSERELLES_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    problem = None
    if path is None:
        problem = ("Chromium not found (install the Debian package 'chromium', or set "
                   "PASSERELLES_CHROMIUM to a Chromium executable)")
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("PASSERELLES_REQUIRE_BROWSER"):
            pytest.fail(problem + " (PASSERELLES_REQUIRE_BROWSER is set: CI must run browser tests)")
        pytest.skip(problem)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(folder: Path) -> Iterator[SimpleNamespace]:
    """``passerelles serve`` on the demo referential with its database in ``folder``, on a free
    loopback port: ``.url`` (base URL), ``.database`` (its SQLite file), ``.env`` (its environment)."""
    port = free_port()
    env = dict(os.environ, PASSERELLES_REFERENTIEL="demo",
               PASSERELLES_DATABASE=str(folder / "passerelles.sqlite3"))
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start:\n" + (folder / "server.log").read_text())
                time.sleep(0.2)
        yield SimpleNamespace(url=base, database=folder / "passerelles.sqlite3", env=env)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """``passerelles serve`` on the demo referential, on a free loopback port (one per test session).

    Yields ``.url`` (base URL), ``.database`` (its SQLite file) and ``.env`` (its environment)."""
    with serve(tmp_path_factory.mktemp("live")) as server:
        yield server
