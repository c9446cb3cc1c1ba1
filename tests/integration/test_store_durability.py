"""kill -9 durability of the store: a writer process is killed at an arbitrary moment, then the store
is reopened and checked — nothing it acknowledged is lost, no transaction is half-applied, the
file is intact, and the pool index rebuilt from it agrees with it.

No sleeps: the kill is triggered by the writer's own acknowledgements (a line printed after each
commit returned), at a point chosen by a seeded random draw, so the test is as fast as the writer
and does not depend on the machine's speed (2-core CI included).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from api.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
BATCH = 200

WRITER = textwrap.dedent('''
    import sys
    import polars as pl
    from api.storage.store import Store

    db, mode, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store(db)
    print("READY", flush=True)
    if mode == "batches":            # many all-or-nothing bulk writes, each acknowledged
        for b in range(10_000):
            ids = [f"{tag}-{b:05d}-{i:04d}" for i in range(%(batch)d)]
            frame = pl.DataFrame({"id": ids, "skills": [["DS0001", "DS0002"]] * len(ids),
                                  "occupation": ["H2102"] * len(ids), "consent": [True] * len(ids)})
            store.upsert_many("seekers", frame, source=f"batch {b}")
            print(f"ACK {b}", flush=True)
    elif mode == "records":          # single creates, updates and deletes, each acknowledged
        for i in range(100_000):
            store.put("seekers", {"id": f"{tag}-{i:06d}", "skills": ["DS0003"], "occupation": "H2913",
                                  "consent": i %% 2 == 0})
            if i %% 3 == 2:
                store.delete("seekers", f"{tag}-{i - 1:06d}")
            print(f"ACK {i}", flush=True)
    elif mode == "prescriptions":    # pre-registrations and answers with synchronous=NORMAL (the default)
        from api.storage.prescriptions import PrescriptionStore
        store.close()
        prescriptions = PrescriptionStore(db, "NORMAL", checkpoint_every_s=0.01)
        for i in range(100_000):
            record = {"id": f"{tag}-{i:06d}", "seeker": f"S{i}", "training": "T1", "session": "S1",
                      "organisation": "11111111100011", "prescriber_key": "k", "prescriber_type": "france-travail",
                      "origin": "gap-plan", "target": "H2913", "basin": "beauvais", "in_tension": 0}
            prescriptions.create(record, places=1_000_000, key_id="k", role="counsellor")
            if i %% 2:
                prescriptions.transition(f"{tag}-{i - 1:06d}", expected="submitted", to="accepted",
                                         at="2027-01-01T00:00:00.000+00:00", reason=None, key_id="o",
                                         role="organisation", places=1_000_000, takes_place=True)
            print(f"ACK {i}", flush=True)
    elif mode == "big":              # one large transaction
        ids = [f"{tag}-{i:06d}" for i in range(30_000)]
        frame = pl.DataFrame({"id": ids, "skills": [["DS0001"]] * len(ids), "occupation": ["H2102"] * len(ids)})
        print("BEGIN", flush=True)
        store.upsert_many("seekers", frame)
        print("ACK big", flush=True)
''' % {"batch": BATCH})


def run_and_kill(db: Path, mode: str, tag: str, kill_after: int, tmp_path: Path) -> list[str]:
    """Start a writer, read its lines, SIGKILL it after ``kill_after`` acknowledgements. Returns the lines."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), mode, tag], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    acks = 0
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("ACK") or line.startswith("BEGIN"):
                acks += 1
            if acks >= kill_after:
                break
        # Every line read before the kill is an acknowledgement the writer made: from here on,
        # the writer may be in the middle of its next transaction.
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the writer ended by itself: {lines[-3:]}"
    return lines


def ids_with_prefix(store: Store, prefix: str) -> set[str]:
    rows = store._db.execute("SELECT id FROM seekers WHERE id LIKE ?", (prefix + "%",)).fetchall()
    return {r[0] for r in rows}


def test_batches_acknowledged_before_kill_9_survive_and_none_is_half_applied(tmp_path):
    db = tmp_path / "store.sqlite3"
    rng = random.Random(5)
    for round_ in range(2):
        tag = f"r{round_}"
        lines = run_and_kill(db, "batches", tag, rng.randint(3, 15), tmp_path)
        assert lines[0] == "READY" and lines[1] == "ACK 0"
        acked = {int(line.split()[1]) for line in lines if line.startswith("ACK")}
        with Store(db) as store:
            assert store.integrity() == "ok"
            present = ids_with_prefix(store, tag + "-")
            by_batch: dict[int, int] = {}
            for id_ in present:
                by_batch[int(id_.split("-")[1])] = by_batch.get(int(id_.split("-")[1]), 0) + 1
            for b in acked:
                assert by_batch.get(b) == BATCH, f"acknowledged batch {b} lost rows"
            assert all(n == BATCH for n in by_batch.values()), "a batch was half-applied"
            # at most the one batch in flight at the kill is there without its acknowledgement
            assert set(by_batch) - acked <= {max(acked) + 1}


def test_single_writes_acknowledged_before_kill_9_survive(tmp_path):
    db = tmp_path / "store.sqlite3"
    lines = run_and_kill(db, "records", "one", 150, tmp_path)
    acked = [int(line.split()[1]) for line in lines if line.startswith("ACK")]
    with Store(db) as store:
        assert store.integrity() == "ok"
        present = ids_with_prefix(store, "one-")
        for i in acked:
            deleted = i % 3 == 1 and (i + 1) in acked  # deleted by write i + 1, acknowledged
            assert (f"one-{i:06d}" in present) != deleted, i
        got = store.get("seekers", f"one-{acked[0]:06d}")
        assert got["skills"] == ["DS0003"] and got["consent"] is True


def test_a_large_transaction_killed_midway_leaves_all_or_nothing(tmp_path):
    db = tmp_path / "store.sqlite3"
    lines = run_and_kill(db, "big", "big", 1, tmp_path)  # killed right after BEGIN
    with Store(db) as store:
        assert store.integrity() == "ok"
        n = len(ids_with_prefix(store, "big-"))
        assert n in (0, 30_000), n
        assert ("ACK big" in lines) <= (n == 30_000)


def test_restart_rebuilds_the_index_from_what_survived(tmp_path, demo):
    from api.services.pool_service import Pool
    from matching import SkillSpace
    from matching.bridges import BridgeModel

    db = tmp_path / "store.sqlite3"
    run_and_kill(db, "batches", "idx", 3, tmp_path)
    space = SkillSpace.from_referentiel(demo)
    with Store(db) as store:
        pool = Pool(store, demo, space, BridgeModel.fit(space))
        assert len(pool.seekers) == store.count("seekers") >= 2 * BATCH
        key = store.key_of("seekers", "idx-00000-0000")
        profile = pool.seekers.profile(key)
        assert sorted(demo.skill_codes[s] for s in profile.skills) == ["DS0001", "DS0002"]


def test_pre_registrations_acknowledged_before_kill_9_survive_with_synchronous_normal(tmp_path):
    """synchronous=NORMAL (the pre-registrations' default) loses nothing acknowledged when the process
    dies: the WAL's frames are in the OS's page cache before the commit returns; checkpoints run in
    their own thread (here every 10 ms, so kills land during them too)."""
    from api.storage.prescriptions import PrescriptionStore

    db = tmp_path / "store.sqlite3"
    lines = run_and_kill(db, "prescriptions", "pr", random.Random(7).randint(150, 400), tmp_path)
    acked = [int(line.split()[1]) for line in lines if line.startswith("ACK")]
    store = PrescriptionStore(db, checkpoint_every_s=None)
    try:
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for i in acked:
            row = store.get(f"pr-{i:06d}")
            assert row is not None, i
            answered = i % 2 == 0 and (i + 1) in acked  # accepted by write i + 1, acknowledged
            assert row["state"] == ("accepted" if answered else "submitted"), (i, row["state"])
        events = store._db.execute("SELECT count(*) FROM prescription_events").fetchone()[0]
        assert events >= len(acked) + sum(1 for i in acked if i % 2)
    finally:
        store.close()
