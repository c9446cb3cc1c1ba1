"""Off POSIX (Windows has no ``fcntl``): the app still imports, builds and serves, with rate limits per
worker process, and says so in ``GET /health`` and on stderr.

Run in a fresh interpreter where ``import fcntl`` fails (``sys.modules['fcntl'] = None``), so no module
of this process keeps a reference to the real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.modules["fcntl"] = None  # import fcntl now raises ImportError, as on Windows
    try:
        import fcntl  # noqa: F401
        raise SystemExit("fcntl still importable")
    except ImportError:
        pass
    from fastapi.testclient import TestClient
    from api.http.app import create_app
    from api.settings import Settings
    from api.storage import locks

    app = create_app(Settings(referentiel="demo", database=sys.argv[1], rate_limit_per_minute=60,
                              rate_limit_burst=3))
    key = app.state.security.keys.create("counsellor")[0]
    auth = {"Authorization": "Bearer " + key}
    with TestClient(app) as client:
        health = client.get("/health").json()
        created = client.post("/seekers", json={"id": "S-1", "occupation": "H2102", "consent": True},
                              headers=auth).status_code
        statuses = [client.get("/seekers/S-1", headers=auth).status_code for _ in range(4)]
        audited = app.state.security.audit.list()[1]
    print(json.dumps({"cross_process": locks.CROSS_PROCESS, "health": health, "created": created,
                      "statuses": statuses, "audited": audited}))
""")


@pytest.mark.slow
def test_the_app_builds_and_serves_without_fcntl(tmp_path):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "p.sqlite3")], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["cross_process"] is False
    assert out["health"]["status"] == "ok" and out["health"]["rate_limits"] == "per worker process"
    assert "rate limits per worker process only" in run.stderr
    # the single-process fallback still limits (burst 3: the POST and two reads, then 429) and audits
    assert out["created"] == 201 and out["statuses"][:2] == [200, 200] and 429 in out["statuses"]
    assert out["audited"] >= 3


def test_health_says_rate_limits_are_shared_on_posix(tmp_path):
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from api.settings import Settings

    if sys.platform == "win32":  # pragma: no cover
        return
    with TestClient(create_app(Settings(referentiel="demo", database=tmp_path / "p.sqlite3"))) as client:
        assert client.get("/health").json()["rate_limits"] == "shared by the worker processes"
