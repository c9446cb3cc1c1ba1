"""Issue 17, finding 4: the ownership race, with real concurrent clients on a real server.

A uvicorn server with 2 worker processes on 127.0.0.1 (a free port), the demo referential and a
fresh database; 20 threads, each with its own HTTP connection, released together by a barrier:
10 ``PUT /offers/RACE-n`` from employer E1 and 10 from E2, on an id nobody holds. Several rounds.
Ownership is checked inside the write's transaction (``Store.put(owner=...)``: a conditional
``ON CONFLICT DO UPDATE ... WHERE offers.employer IS excluded.employer``), so in every round exactly
one employer owns the offer, every one of its writes succeeded, and every write of the other one got
the 404 of an offer that is not there for it — never a 200 that overwrote the owner's offer.
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
    owners = []
    for round_ in range(ROUNDS):
        offer = f"RACE-{round_}"
        results = race(base, keys, offer)
        assert len(results) == 2 * WRITERS
        assert all(status < 500 for _, status, _ in results), results
        stored = httpx.get(f"{base}/offers/{offer}", headers=counsellor, timeout=30).json()
        owner = stored["employer"]
        other = "E2" if owner == "E1" else "E1"
        owners.append(owner)
        mine = [s for e, s, _ in results if e == owner]
        theirs = [s for e, s, _ in results if e == other]
        assert sorted(mine) == [200] * (WRITERS - 1) + [201], (round_, results)  # one creation, then replacements
        assert theirs == [404] * WRITERS, (round_, results)  # the loser never wrote: not there for it
        assert stored["contract"].startswith(owner + "-")  # the last write kept is the owner's
        # the loser still cannot reach it afterwards, the owner can
        for employer, expected in ((other, 404), (owner, 200)):
            got = httpx.get(f"{base}/offers/{offer}", headers={"Authorization": f"Bearer {keys[employer]}"}, timeout=30)
            assert got.status_code == expected
    print(f"race rounds: {ROUNDS}, owners {owners}")


def test_the_conditional_write_inside_the_store(tmp_path):
    """The store's own check, without a server: a write or delete in another employer's name changes
    nothing and raises NotOwner; the owner's write replaces; a counsellor's (no owner) replaces any."""
    from api.storage.store import NotOwner, Store

    with Store(tmp_path / "s.sqlite3") as store:
        offer = {"id": "O1", "occupation": "H2102", "employer": "E2", "contract": "E2-first"}
        assert store.put("offers", offer, owner="E2")[1] is True
        seq = store.seq
        with pytest.raises(NotOwner):
            store.put("offers", {**offer, "employer": "E1", "contract": "E1-hijack"}, owner="E1")
        with pytest.raises(NotOwner):
            store.delete("offers", "O1", owner="E1")
        assert store.get("offers", "O1")["contract"] == "E2-first" and store.seq == seq  # rolled back
        assert store.put("offers", {**offer, "contract": "E2-second"}, owner="E2")[1] is False
        assert store.put("offers", {**offer, "contract": "counsellor"})[1] is False
        assert store.get("offers", "O1")["contract"] == "counsellor"
        assert store.delete("offers", "O1", owner="E2") is not None
