"""Issue 17 through a real ``passerelles serve`` (uvicorn) on 127.0.0.1 and a random port:

- finding 1: the server stops within a few seconds of SIGTERM while it computes a heavy batch
  (it used to wait for the batch, minutes);
- finding 10: a key sent as ``?api_key=`` is not written in clear in the access log.

Every wait is bounded; the server is killed at the end whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from api.storage.keys import KeyStore
from tests.security.conftest import long_texts

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    database = tmp_path / "p.sqlite3"
    counsellor, _ = KeyStore(database).create("counsellor")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PASSERELLES_DATABASE": str(database),
           "PASSERELLES_REFERENTIEL": "demo", "PASSERELLES_MAX_BODY_BYTES": "50000000",
           "PASSERELLES_WORK_CHARS_PER_REQUEST_KEY": "100000000", "PASSERELLES_WORK_CHARS_PER_MINUTE_KEY": "100000000"}
    out, err = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                                "--graceful-timeout", "2"], cwd=ROOT, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail("the server exited at start: " + (tmp_path / "stderr").read_text()[-2000:])
            try:
                if httpx.get(base + "/basins", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer within 120 s")
            time.sleep(0.3)
        yield {"process": process, "base": base, "key": counsellor, "logs": tmp_path}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        out.close()
        err.close()


def test_sigterm_stops_the_server_within_seconds_during_a_heavy_batch_and_no_key_is_logged(server):
    base, process = server["base"], server["process"]
    # finding 10: a key in the query string is refused, and not logged
    secret = "psl_0123abcd_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tX"
    assert httpx.get(base + "/seekers/S-1", params={"api_key": secret, "token": "tok-123456"}).status_code == 401

    # finding 1: about a minute of normalising (9,000 distinct texts of 480 characters), then SIGTERM
    body = orjson.dumps({"texts": long_texts(9_000, 480, seed=5)})
    outcome: dict = {}

    def post() -> None:
        try:
            outcome["response"] = httpx.post(base + "/normalise/skills", content=body, timeout=600,
                                             headers={"content-type": "application/json", "X-API-Key": server["key"]})
        except httpx.HTTPError as error:
            outcome["error"] = error

    client = threading.Thread(target=post, daemon=True)
    client.start()
    time.sleep(3.0)  # the body is sent and the first chunks are being computed
    assert client.is_alive() and process.poll() is None, f"the batch ended before SIGTERM: {outcome}"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the server still ran 30 s after SIGTERM")
    stopped = time.monotonic() - started
    print(f"\nserver stopped {stopped:.2f} s after SIGTERM during a heavy batch")
    assert stopped < 10.0, f"{stopped:.1f} s to stop"
    client.join(10)
    assert outcome.get("response") is not None, outcome
    assert outcome["response"].status_code == 503, outcome["response"].text[:300]  # said, not dropped
    assert outcome["response"].json()["type"].endswith("/server-stopping")

    logs = (server["logs"] / "stdout").read_text() + (server["logs"] / "stderr").read_text()
    assert "GET /seekers/S-1?api_key=[redacted]&token=[redacted]" in logs, logs[-2000:]
    assert "S3cr3t" not in logs and "tok-123456" not in logs
