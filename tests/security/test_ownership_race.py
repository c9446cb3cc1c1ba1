"""Issue 17, finding 4, with offer ids per employer: two employers racing on one id, with real
concurrent clients on a real server.

A uvicorn server with 2 worker processes on 127.0.0.1 (a free port), the demo referential and a
fresh database; 20 threads, each with its own HTTP connection, released together by a barrier:
10 ``PUT /offers/RACE-n`` from employer E1 and 10 from E2, on an id nobody holds. Several rounds.
An offer's key is ``(employer, id)`` (``UNIQUE (employer, id)``, the upsert's conflict target), so in
every round each employer ends with its own offer RACE-n: exactly one of its writes created it (201),
the nine others replaced it (200), and no write of one employer ever reached the other's offer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
WRITERS = 10  # per employer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.storage.keys import KeyStore

    folder = tmp_path_factory.mktemp("race")
    database = folder / "race.sqlite3"
    keys = KeyStore(database)
    made = {"E1": keys.create("employer", employer="E1")[0], "E2": keys.create("employer", employer="E2")[0],
            "counsellor": keys.create("counsellor")[0]}
    keys.close() if hasattr(keys, "close") else None
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PASSERELLES_REFERENTIEL": "demo",
           "PASSERELLES_DATABASE": str(database), "PASSERELLES_RATE_LIMIT_PER_MINUTE": "1000000",
           "PASSERELLES_RATE_LIMIT_BURST": "100000"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.http.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--log-level", "warning"],
                               cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {process.stdout.read()}")
            try:
                if httpx.get(base + "/referentiel", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer within 90 s")
            time.sleep(0.2)
        yield {"base": base, "keys": made}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def race(base: str, keys: dict, offer: str) -> list[tuple[str, int, str]]:
    """20 simultaneous PUTs of ``offer`` (10 per employer): [(employer, status, marker)]."""
    barrier = threading.Barrier(2 * WRITERS)
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def writer(employer: str, n: int) -> None:
        marker = f"{employer}-{n}"
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {keys[employer]}"}) as client:
            client.get("/referentiel")  # the connection is open before the barrier
            barrier.wait()
            response = client.put(f"/offers/{offer}", json={"id": offer, "occupation": "H2102", "contract": marker})
        with lock:
            results.append((employer, response.status_code, marker))

    threads = [threading.Thread(target=writer, args=(e, n)) for n in range(WRITERS) for e in ("E1", "E2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_employers_racing_on_a_new_offer_id(server):
    base, keys = server["base"], server["keys"]
    counsellor = {"Authorization": f"Bearer {keys['counsellor']}"}
    for round_ in range(ROUNDS):
        offer = f"RACE-{round_}"
        results = race(base, keys, offer)
        assert len(results) == 2 * WRITERS
        assert all(status < 500 for _, status, _ in results), results
        for employer in ("E1", "E2"):
            mine = sorted(s for e, s, _ in results if e == employer)
            assert mine == [200] * (WRITERS - 1) + [201], (round_, employer, results)  # one creation, then replacements
            own = httpx.get(f"{base}/offers/{offer}", headers={"Authorization": f"Bearer {keys[employer]}"},
                            timeout=30).json()
            assert own["employer"] == employer and own["contract"].startswith(employer + "-")  # never the other's
            named = httpx.get(f"{base}/offers/{offer}", params={"employer": employer}, headers=counsellor, timeout=30)
            assert named.json()["contract"] == own["contract"]
        ambiguous = httpx.get(f"{base}/offers/{offer}", headers=counsellor, timeout=30)
        assert ambiguous.status_code == 409 and ambiguous.json()["employers"] == ["E1", "E2"]
    print(f"race rounds: {ROUNDS}")


def test_the_store_keeps_one_offer_per_employer_and_id(tmp_path):
    """The store's own keys, without a server: a write in another employer's name is refused
    (NotOwner, nothing changed); two employers' offers of one id are two rows; an employer's delete
    reaches its own only; the id alone is ambiguous once two employers hold it."""
    from api.storage.store import Ambiguous, NotOwner, Store

    with Store(tmp_path / "s.sqlite3") as store:
        offer = {"id": "O1", "occupation": "H2102", "employer": "E2", "contract": "E2-first"}
        assert store.put("offers", offer, owner="E2")[1] is True
        seq = store.seq
        with pytest.raises(NotOwner):
            store.put("offers", {**offer, "contract": "E1-hijack"}, owner="E1")
        assert store.delete("offers", "O1", owner="E1") is None  # E1 has no O1
        assert store.get("offers", "O1")["contract"] == "E2-first" and store.seq == seq  # nothing changed
        assert store.put("offers", {**offer, "employer": "E1", "contract": "E1-own"}, owner="E1")[1] is True
        assert store.get("offers", "O1", employer="E2")["contract"] == "E2-first"
        assert store.get("offers", "O1", employer="E1")["contract"] == "E1-own"
        with pytest.raises(Ambiguous) as error:
            store.get("offers", "O1")
        assert error.value.employers == ["E1", "E2"]
        assert store.put("offers", {**offer, "contract": "counsellor"})[1] is False  # E2's, by its key
        assert store.get("offers", "O1", employer="E2")["contract"] == "counsellor"
        assert store.delete("offers", "O1", owner="E2") is not None
        assert store.get("offers", "O1")["employer"] == "E1"  # one left: the id alone finds it
