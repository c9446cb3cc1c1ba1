"""The SQLite store (api/storage/store.py) and bulk ingest with validation (api/services/pool_service.py): behaviour by example."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from api.services.pool_service import IngestError, Pool, RecordError, read_records
from api.storage.store import Conflict, Store, StoreError
from matching import SkillSpace
from matching.bridges import BridgeModel
from referentiels.territories import default_basins


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "s.sqlite3") as s:
        yield s


@pytest.fixture(scope="module")
def model(demo):
    space = SkillSpace.from_referentiel(demo)
    return demo, space, BridgeModel.fit(space)


@pytest.fixture()
def pool(tmp_path, model):
    r, space, bridges = model
    return Pool(Store(tmp_path / "p.sqlite3"), r, space, bridges, basins=default_basins())


def test_wal_mode_and_full_sync(store):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_create_get_put_delete(store):
    key = store.create("seekers", {"id": "S1", "skills": ["DS0001"], "consent": True})
    got = store.get("seekers", "S1")
    assert got["key"] == key and got["skills"] == ["DS0001"] and got["consent"] is True
    with pytest.raises(Conflict):
        store.create("seekers", {"id": "S1"})
    assert store.put("seekers", {"id": "S1", "skills": ["DS0002"]}) == (key, False)
    assert store.get("seekers", "S1")["skills"] == ["DS0002"]
    assert store.put("seekers", {"id": "S2"})[1] is True
    assert store.delete("seekers", "S1") == key and store.delete("seekers", "S1") is None
    assert store.get("seekers", "S1") is None and store.count("seekers") == 1
    with pytest.raises(StoreError, match="unknown kind"):
        store.get("people", "S1")


def test_bulk_upsert_is_one_transaction(store):
    store.create("seekers", {"id": "keep", "skills": ["DS0001"]})
    frame = pl.DataFrame({"id": ["A", "B", "A"], "skills": [["DS0001"], [], ["DS0002"]]})
    with pytest.raises(StoreError, match="'A' appears more than once"):
        store.upsert_many("seekers", frame)
    assert store.count("seekers") == 1
    keys = store.upsert_many("seekers", pl.DataFrame({"id": ["A", "keep"], "skills": [["DS0003"], ["DS0004"]]}))
    assert store.get("seekers", "keep")["skills"] == ["DS0004"] and keys[1] == store.key_of("seekers", "keep")
    assert store.count("seekers") == 2


def test_changes_since_lists_upserts_and_deletions(store):
    store.create("offers", {"id": "O1", "occupation": "H2102", "must": ["DS0001"]})
    seq = store.seq
    store.put("offers", {"id": "O2", "occupation": "H2913"})
    store.delete("offers", "O1")
    changes = store.changes_since("offers", seq)
    assert changes.rows["id"].to_list() == ["O2"] and len(changes.deleted) == 1 and changes.seq == store.seq
    assert store.changes_since("offers", changes.seq).rows.height == 0


def test_pseudonyms_are_stable_per_database_and_differ_across_databases(tmp_path):
    with Store(tmp_path / "a.sqlite3") as a:
        first = a.pseudonym("S1")
    with Store(tmp_path / "a.sqlite3") as a, Store(tmp_path / "b.sqlite3") as b:
        assert a.pseudonym("S1") == first != b.pseudonym("S1")
        assert first.startswith("c-") and "S1" not in first


def test_rejected_rows_carry_their_csv_line_and_mode_all_writes_nothing(pool):
    csv = ("id,skills,occupation,basin,radius_km,consent\n"
           "S1,DS0001|DS0002,H2102,beauvais,30,true\n"
           "S2,DS9999,H2102,beauvais,30,true\n"
           ",DS0001,H2102,,,\n"
           "S4,DS0001,Z9999,beauvais,30,oui\n"
           "S5,DS0001,H2102,atlantis,30,true\n"
           "S6,DS0001,H2102,beauvais,-3,true\n"
           "S7,DS0001,H2102,beauvais,30,maybe\n"
           "S1,DS0003,H2102,beauvais,30,true\n")
    frame, first = read_records(io.BytesIO(csv.encode()).getvalue(), "csv")
    report = pool.ingest("seekers", frame, mode="all", first_line=first)
    assert not report.written and report.taken == 0 and pool.store.count("seekers") == 0
    reasons = {r["line"]: r["reason"] for r in report.rejected}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9}
    assert "DS9999" in reasons[3] and "id is missing" in reasons[4] and "Z9999" in reasons[5]
    assert "atlantis" in reasons[6] and "radius_km" in reasons[7] and "consent" in reasons[8]
    assert "appears again" in reasons[9]
    report = pool.ingest("seekers", frame, mode="valid", first_line=first)
    assert report.written and report.taken == 1 and pool.store.count("seekers") == 1
    stored = pool.store.get("seekers", "S1")
    basin = default_basins().filter(pl.col("id") == "beauvais")
    assert stored["lat"] == pytest.approx(basin["lat"][0]) and stored["consent"] is True  # from the basin
    assert len(pool.seekers) == 1


def test_jsonl_and_parquet_and_json_arrays(pool, tmp_path):
    records = [{"id": f"O{i}", "occupation": "H2913", "must": ["DS0001"], "desired": ["DS0002"],
                "lat": 49.4, "lon": 2.1, "opening": "2026-03-01"} for i in range(3)]
    jsonl = "\n".join(json.dumps(r) for r in records).encode()
    frame, first = read_records(jsonl, "jsonl")
    assert pool.ingest("offers", frame, first_line=first).taken == 3
    path = tmp_path / "offers.parquet"
    pl.DataFrame(records).with_columns(pl.col("id") + "p").write_parquet(path)
    frame, first = read_records(path)
    assert pool.ingest("offers", frame, first_line=first).taken == 3
    frame, _ = read_records(json.dumps([{**records[0], "id": "bad", "opening": "soon"}]).encode(), "json")
    report = pool.ingest("offers", frame)
    assert report.rejected == [{"line": 1, "id": "bad", "reason": "opening must be a date YYYY-MM-DD, got 'soon'"}]
    assert len(pool.offers) == 6
    with pytest.raises(IngestError, match="cannot read"):
        read_records(b'{"id": "x"\n', "jsonl")
    with pytest.raises(IngestError, match="no 'id' column"):
        pool.ingest("offers", pl.DataFrame({"name": ["x"]}))


def test_single_records_are_validated(pool):
    with pytest.raises(RecordError, match="unknown skill code 'NOPE'"):
        pool.put("seekers", {"id": "S1", "skills": ["NOPE"], "occupation": "H2102"})
    with pytest.raises(RecordError, match="a seeker needs skills or an occupation"):
        pool.put("seekers", {"id": "S1"})
    stored, created = pool.put("seekers", {"id": "S1", "occupation": "H2102", "lat": 45.0, "lon": 5.0})
    assert created and stored["lat"] == 45.0
    with pytest.raises(Conflict):
        pool.put("seekers", {"id": "S1", "occupation": "H2102"}, create=True)


# ---- schema 1 -> 2: offer ids per employer ------------------------------------------------------------

#: The offers table as schema 1 made it (one id namespace for every employer), with what the store
#: needs around it; the store creates the other tables when it opens the file.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE offers (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    employer TEXT,
    occupation TEXT NOT NULL,
    must TEXT NOT NULL DEFAULT '[]',
    desired TEXT NOT NULL DEFAULT '[]',
    basin TEXT,
    lat REAL, lon REAL,
    contract TEXT,
    opening TEXT,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    referentiel TEXT
);
CREATE INDEX offers_seq ON offers (seq);
CREATE TABLE deleted (kind TEXT NOT NULL, key INTEGER NOT NULL, seq INTEGER NOT NULL);
INSERT INTO meta VALUES ('schema', '1'), ('seq', '3'), ('pseudonym_secret', '00112233445566778899aabbccddeeff');
INSERT INTO offers (key, id, employer, occupation, must, seq, updated_at, referentiel)
    VALUES (7, 'REF-001', 'EMP-A', 'H2102', '["DS0001"]', 1, '2026-01-01T00:00:00.000+00:00', 'fp'),
           (9, 'O-2', NULL, 'H2913', '[]', 2, '2026-01-02T00:00:00.000+00:00', 'fp');
INSERT INTO deleted VALUES ('offers', 8, 3);
"""


def test_a_schema_1_database_opens_migrated_and_keeps_its_offers(tmp_path):
    import sqlite3

    from api.storage.store import Ambiguous

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(SCHEMA_1)
    old.close()
    with Store(path) as store:
        a = store.get("offers", "REF-001")
        assert (a["key"], a["employer"], a["must"], a["seq"], a["referentiel"]) == (7, "EMP-A", ["DS0001"], 1, "fp")
        none = store.get("offers", "O-2")
        assert none["key"] == 9 and none["employer"] is None and store.get("offers", "O-2", employer=None) == none
        assert store.seq == 3 and store._meta("schema") == "2" and store.pseudonym("S") == store.pseudonym("S")
        assert store.changes_since("offers", 0).deleted == [8]  # the index's history is kept
        frame = store.frame("offers")
        assert frame["key"].to_list() == [7, 9] and frame["employer"].to_list() == ["EMP-A", None]
        table = store._db.execute("SELECT sql FROM sqlite_master WHERE name = 'offers'").fetchone()[0]
        assert "UNIQUE (employer, id)" in table and "offers_v1" not in str(store._db.execute(
            "SELECT group_concat(name) FROM sqlite_master").fetchone()[0])
        # another employer may now hold REF-001 too
        key_b, created = store.put("offers", {"id": "REF-001", "employer": "EMP-B", "occupation": "H2913"}, owner="EMP-B")
        assert created and key_b not in (7, 9)
        with pytest.raises(Ambiguous):
            store.get("offers", "REF-001")
        assert store.get("offers", "REF-001", employer="EMP-A")["key"] == 7
        with pytest.raises(Conflict):
            store.create("offers", {"id": "REF-001", "employer": "EMP-A", "occupation": "H2102"})
        assert store.integrity() == "ok"
    with Store(path) as again:  # opening a migrated database changes nothing
        assert again.count("offers") == 3 and again.get("offers", "O-2")["key"] == 9


def test_bulk_offers_are_unique_per_employer(store):
    frame = pl.DataFrame({"id": ["R1", "R1", "R2"], "employer": ["A", "B", None], "occupation": ["H2102"] * 3})
    keys = store.upsert_many("offers", frame)
    assert len(set(keys)) == 3 and store.offer_employers("R1") == ["A", "B"]
    again = store.upsert_many("offers", frame.with_columns(pl.lit("H2913").alias("occupation")))
    assert again == keys and store.get("offers", "R1", employer="B")["occupation"] == "H2913"
    with pytest.raises(StoreError, match="'R1' appears more than once in the batch"):
        store.upsert_many("offers", pl.DataFrame({"id": ["R1", "R1"], "employer": ["A", "A"], "occupation": ["H2102"] * 2}))


def test_pool_ingest_rejects_an_id_twice_for_one_employer_only(pool):
    frame = pl.DataFrame({"id": ["R1", "R1", "R1"], "employer": ["A", "B", "A"], "occupation": ["H2102"] * 3})
    report = pool.ingest("offers", frame, mode="valid")
    assert report.taken == 2 and [r["line"] for r in report.rejected] == [3]
    assert "for the same employer" in report.rejected[0]["reason"]


def test_an_audit_log_without_resource_employer_gains_the_column(tmp_path):
    import sqlite3

    from api.storage.audit import AuditLog
    from api.storage.keys import Principal

    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, key_id TEXT, "
                    "role TEXT, employer TEXT, action TEXT NOT NULL, resource TEXT NOT NULL, resource_id TEXT, "
                    "method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, client TEXT)")
        old.execute("INSERT INTO audit_log (at, action, resource, resource_id, method, path, status) "
                    "VALUES ('t', 'read', 'offer', 'O1', 'GET', '/offers/O1', 200)")
    old.close()
    log = AuditLog(path)
    try:
        log.record(Principal("k1", "counsellor"), "offer", "GET", "/offers/O1", 200, resource_id="O1",
                   resource_employer="EMP-A")
        rows, total = log.list(resource_id="O1")
        assert total == 2 and [r["resource_employer"] for r in rows] == [None, "EMP-A"]
        assert log.list(resource_employer="EMP-A")[1] == 1
    finally:
        log.close()
