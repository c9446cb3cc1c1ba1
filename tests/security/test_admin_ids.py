"""Issue 17, finding 5 (data that cannot be erased): ``passerelles admin ids check|fix`` lists the
stored records whose ids break the rule (written before it) and renames or erases them, audited, so
that nothing stays unreachable through the API."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.storage.audit import AuditLog
from api.storage.store import Store
from security_helpers import bearer

# what the old API and ingest stored (issue 17): '/', NUL, U+202E, U+200B, a BOM, decomposed, 500 characters
LEGACY_SEEKERS = ["S/1", "S\x002", "S\u202e3", "S\u200b4", "\ufeffS5", "S-e\u0301", "x" * 500, "S_1", "OK-1"]
LEGACY_OFFERS = ["O/1", "O_1"]


def legacy_database(path) -> None:
    """A database holding records whose ids break the rule, written below the API (as before it)."""
    with Store(path) as store:
        for id in LEGACY_SEEKERS:
            store.put("seekers", {"id": id, "occupation": "H2102", "skills": [], "consent": True})
        for id in LEGACY_OFFERS:
            store.put("offers", {"id": id, "occupation": "H2102", "employer": "EMP"})
        store.save_trainings([{"id": "T/1", "title": "t"}, {"id": "T\u202e2", "title": "t"}])


def run(*args: str) -> int:
    from api.cli import main

    return main(list(args))


def test_check_lists_every_broken_id_and_exits_1(tmp_path, capsys):
    database = tmp_path / "legacy.sqlite3"
    legacy_database(database)
    assert run("admin", "ids", "check", "--database", str(database), "--json") == 1
    import json

    report = json.loads(capsys.readouterr().out)
    found = {(r["kind"], r["id"]) for r in report["records"]}
    assert found == ({("seekers", i) for i in LEGACY_SEEKERS if i not in ("S_1", "OK-1")}
                     | {("offers", "O/1"), ("trainings", "T/1"), ("trainings", "T\u202e2")})
    renames = {r["id"]: r["rename"] for r in report["records"]}
    assert renames["S/1"] == "S_1~2"  # 'S_1' is taken: a suffix, no collision
    assert renames["S-e\u0301"] == "S-\u00e9" and renames["x" * 500] == "x" * 100
    assert renames["O/1"] == "O_1~2" and renames["S\u202e3"] == "S_3"


def test_fix_rename_makes_every_record_reachable_and_is_audited(tmp_path, capsys):
    database = tmp_path / "legacy.sqlite3"
    legacy_database(database)
    assert run("admin", "ids", "fix", "--rename", "--database", str(database)) == 0
    assert run("admin", "ids", "check", "--database", str(database)) == 0  # nothing left
    with Store(database) as store:
        seekers = set(store.ids("seekers"))
        assert len(seekers) == len(LEGACY_SEEKERS) and {"S_1~2", "S-\u00e9", "S_2", "S_3", "S_4", "_S5"} <= seekers
        assert store.get("seekers", "S_1")["id"] == "S_1"  # the valid one kept its id
        assert set(store.ids("trainings")) == {"T_1", "T_2"}
        assert store.trainings()[1][0]["id"] in {"T_1", "T_2"}  # the record follows its id
    rows, total = AuditLog(database).list(limit=100, resource="seeker")
    assert total == len(LEGACY_SEEKERS) - 2 and {r["action"] for r in rows} == {"rename-id"}
    assert {r["resource_id"] for r in rows} == set(LEGACY_SEEKERS) - {"S_1", "OK-1"}
    # through the API now: read and delete each one
    from api.http.app import create_app
    from api.settings import Settings

    app = create_app(Settings(referentiel="demo", database=database, rate_limit_per_minute=1_000_000,
                              rate_limit_burst=100_000))
    key = app.state.security.keys.create("counsellor")[0]
    with TestClient(app) as client:
        for id in sorted(seekers):
            assert client.get(f"/seekers/{quote(id, safe='')}", headers=bearer(key)).status_code == 200, id
            assert client.delete(f"/seekers/{quote(id, safe='')}", headers=bearer(key)).status_code == 204, id


def test_fix_erase_deletes_them_and_the_index_follows(tmp_path):
    database = tmp_path / "legacy.sqlite3"
    legacy_database(database)
    assert run("admin", "ids", "fix", "--erase", "--database", str(database)) == 0
    with Store(database) as store:
        assert set(store.ids("seekers")) == {"S_1", "OK-1"} and store.ids("offers") == ["O_1"]
        assert store.ids("trainings") == []
        deleted = store.changes_since("seekers", 0).deleted
        assert len(deleted) == len(LEGACY_SEEKERS) - 2  # the pool index of a running server drops them too
    rows, _ = AuditLog(database).list(limit=100)
    assert {r["action"] for r in rows} == {"erase-id"} and len(rows) == len(LEGACY_SEEKERS) - 2 + 1 + 2


@pytest.mark.parametrize("args", [[], ["--rename", "--erase"]])
def test_fix_needs_exactly_one_action(tmp_path, args, capsys):
    database = tmp_path / "legacy.sqlite3"
    legacy_database(database)
    assert run("admin", "ids", "fix", *args, "--database", str(database)) == 2
    assert "--rename or --erase" in capsys.readouterr().err
