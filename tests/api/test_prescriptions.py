"""Pre-registrations (issue 20 item 3): places under real concurrent answers, idempotent retries, the
timeline and its state machine, the waiting list, erasure, and the funders' figures on a known set."""

from __future__ import annotations

import io
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from api.services.prescription_service import PrescriptionService


def body(seeker: str, session: str = "S1", training: str = "T-SOUD", **extra) -> dict:
    return {"seeker": seeker, "training": training, "session": session, "target": "H2913", "origin": "gap-plan",
            **extra}


@pytest.fixture
def env(prescription_env):
    with TestClient(prescription_env["app"]) as client:
        yield {**prescription_env, "client": client}


def submit(env, seeker, key="counsellor", **kw) -> dict:
    r = env["client"].post("/prescriptions", json=body(seeker, **kw), headers=env["auth"](env["keys"][key]))
    assert r.status_code == 201, r.text
    return r.json()


def move(env, id, to, key="org-a", expect=200, **extra):
    r = env["client"].post(f"/prescriptions/{id}/transitions", json={"to": to, **extra},
                           headers=env["auth"](env["keys"][key]))
    assert r.status_code == expect, r.text
    return r.json()


# ---- places under real concurrency ------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(prescription_env):
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(prescription_env["app"], host="127.0.0.1", port=port, log_level="error",
                            access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield {**prescription_env, "url": f"http://127.0.0.1:{port}"}
    srv.should_exit = True
    thread.join(10)


def test_accepted_never_exceeds_places_under_concurrent_answers(server):
    """Real concurrent clients (threads with httpx on a real uvicorn): every round pre-registers 6
    people on a 2-place session (S1) and sends the 6 acceptances at once, plus 3 withdrawals racing
    them in the later rounds; never more than 2 hold a place, the others get 409 session-full."""
    auth, keys, url = server["auth"], server["keys"], server["url"]
    database = server["database"]
    with httpx.Client(base_url=url, timeout=30) as c:
        for round_ in range(4):
            ids = []
            for i in range(6):
                r = c.post("/prescriptions", json=body(f"P{i}"), headers=auth(keys["counsellor"]))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            barrier = threading.Barrier(6)

            def accept(id: str) -> int:
                with httpx.Client(base_url=url, timeout=30) as own:
                    barrier.wait()
                    return own.post(f"/prescriptions/{id}/transitions", json={"to": "accepted"},
                                    headers=auth(keys["org-a"])).status_code

            with ThreadPoolExecutor(6) as pool:
                statuses = list(pool.map(accept, ids))
            assert sorted(statuses) == [200, 200, 409, 409, 409, 409], statuses
            with sqlite3.connect(database) as db:
                held = db.execute("SELECT count(*) FROM prescriptions WHERE training = 'T-SOUD' AND session = 'S1' "
                                  "AND state = 'accepted'").fetchone()[0]
                counted = db.execute("SELECT accepted FROM prescription_sessions WHERE session = 'S1'").fetchone()[0]
            assert held == counted == 2
            # the losers go on the waiting list; withdrawals of both holders race each other: each
            # freed place goes to one waitlisted person, never more than 2 accepted
            losers = [id for id, s in zip(ids, statuses) if s == 409]
            for id in losers:
                assert c.post(f"/prescriptions/{id}/transitions", json={"to": "waitlisted"},
                              headers=auth(keys["org-a"])).status_code == 200
            holders = [id for id, s in zip(ids, statuses) if s == 200]
            with ThreadPoolExecutor(2) as pool:
                assert list(pool.map(lambda id: c.post(f"/prescriptions/{id}/transitions", json={"to": "withdrawn"},
                                                       headers=auth(keys["counsellor"])).status_code, holders)) == [200, 200]
            with sqlite3.connect(database) as db:
                states = dict(db.execute("SELECT state, count(*) FROM prescriptions WHERE session = 'S1' AND id IN "
                                         f"({','.join('?' * 6)}) GROUP BY state", ids).fetchall())
            assert states == {"withdrawn": 2, "accepted": 2, "waitlisted": 2}
            # clear the session for the next round: everyone still open withdraws
            for id in ids:
                r = c.get(f"/prescriptions/{id}", headers=auth(keys["counsellor"])).json()
                if r["state"] in ("accepted", "waitlisted"):
                    assert c.post(f"/prescriptions/{id}/transitions", json={"to": "withdrawn"},
                                  headers=auth(keys["counsellor"])).status_code == 200
            with sqlite3.connect(database) as db:
                assert db.execute("SELECT accepted FROM prescription_sessions WHERE session = 'S1'").fetchone()[0] == 0


# ---- idempotency ------------------------------------------------------------------------------------

def test_a_retried_post_with_the_same_key_gives_the_same_answer_and_one_record(env):
    c, auth, keys = env["client"], env["auth"], env["keys"]
    headers = auth(keys["counsellor"], **{"Idempotency-Key": "retry-1"})
    first = c.post("/prescriptions", json=body("P1", note="n"), headers=headers)
    again = c.post("/prescriptions", json=body("P1", note="n"), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.json()["id"] == first.json()["id"]
    listed = c.get("/prescriptions?seeker=P1", headers=auth(keys["counsellor"])).json()
    assert listed["total"] == 1
    other = c.post("/prescriptions", json=body("P1", note="another"), headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    assert other.json()["field"] == "Idempotency-Key"
    # the key is scoped to the API key: another counsellor's same key is another request (here a duplicate)
    dup = c.post("/prescriptions", json=body("P1", note="n"),
                 headers=auth(keys["counsellor-ml"], **{"Idempotency-Key": "retry-1"}))
    assert dup.status_code == 409 and dup.json()["prescription"] == first.json()["id"]
    bad = c.post("/prescriptions", json=body("P2"), headers=auth(keys["counsellor"], **{"Idempotency-Key": "a/b"}))
    assert bad.status_code == 422 and bad.json()["field"] == "Idempotency-Key"


# ---- the timeline and the state machine ----------------------------------------------------------

def test_the_whole_path_and_wrong_moves(env):
    p = submit(env, "P3", session="S2")
    assert p["state"] == "submitted" and p["allowed"] == ["withdrawn"]
    wrong = move(env, p["id"], "entered", expect=409)
    assert wrong["current"] == "submitted" and wrong["allowed"] == ["accepted", "refused", "waitlisted", "withdrawn"]
    refused_role = move(env, p["id"], "accepted", key="counsellor", expect=403)
    assert refused_role["allowed"] == ["withdrawn"]
    move(env, p["id"], "refused", expect=422)  # a refusal needs a reason
    assert move(env, p["id"], "refused", reason="because", expect=422)["field"] == "reason"
    move(env, p["id"], "accepted")
    today = date.today()
    move(env, p["id"], "entered", at=today.isoformat())
    move(env, p["id"], "employed-target", key="counsellor", expect=409)
    move(env, p["id"], "completed", key="counsellor", at=(today + timedelta(days=3)).isoformat(), expect=422)
    move(env, p["id"], "completed", key="counsellor", at=today.isoformat())
    move(env, p["id"], "employed-other", key="org-a", expect=403)
    last = move(env, p["id"], "employed-target", key="counsellor", at=today.isoformat())
    assert [e["state"] for e in last["timeline"]] == ["submitted", "accepted", "entered", "completed", "employed-target"]
    assert last["allowed"] == [] and last["outcome_at"].startswith(today.isoformat())
    final = move(env, p["id"], "withdrawn", key="counsellor", expect=409)
    assert final["current"] == "employed-target" and final["allowed"] == []
    # every transition is in the audit log
    rows = env["app"].state.security.audit._conn.execute(
        "SELECT action FROM audit_log WHERE resource = 'prescription' AND resource_id = ? AND action LIKE "
        "'transition:%' ORDER BY seq", (p["id"],)).fetchall()
    assert [r[0] for r in rows] == ["transition:submitted", "transition:accepted", "transition:entered",
                                    "transition:completed", "transition:employed-target"]


def test_a_refusal_after_acceptance_gives_the_place_to_the_first_waitlisted(env):
    a, b, w1, w2 = (submit(env, f"P{i}")["id"] for i in range(4))  # S1: 2 places
    move(env, a, "accepted")
    move(env, b, "accepted")
    full = move(env, w1, "accepted", expect=409)
    assert full["type"].endswith("/session-full")
    move(env, w1, "waitlisted")
    move(env, w2, "waitlisted")
    out = move(env, a, "refused", reason="prerequisites-not-met")
    assert out["changed"] == [{"id": a, "state": "refused"}, {"id": w1, "state": "accepted"}]
    promoted = env["client"].get(f"/prescriptions/{w1}", headers=env["auth"](env["keys"]["org-a"])).json()
    assert promoted["state"] == "accepted" and "place freed by" in promoted["timeline"][-1]["detail"]
    assert promoted["timeline"][-1]["role"] == "system"
    out = move(env, b, "withdrawn", key="counsellor")
    assert out["changed"][1] == {"id": w2, "state": "accepted"}


def test_closed_sessions_unknown_sessions_and_duplicates(env):
    c, auth, keys = env["client"], env["auth"], env["keys"]
    r = c.post("/prescriptions", json=body("P1", training="T-MAINT", session="S4"), headers=auth(keys["counsellor"]))
    assert r.status_code == 422 and r.json()["field"] == "session"
    r = c.post("/prescriptions", json=body("P1", session="S9"), headers=auth(keys["counsellor"]))
    assert r.status_code == 404 and r.json()["field"] == "session"
    r = c.post("/prescriptions", json=body("NOBODY"), headers=auth(keys["counsellor"]))
    assert r.status_code == 422 and r.json()["field"] == "seeker"
    r = c.post("/prescriptions", json={**body("P1"), "target": "H29l3"}, headers=auth(keys["counsellor"]))
    assert r.status_code == 422 and r.json()["field"] == "target"
    submit(env, "P1")
    r = c.post("/prescriptions", json=body("P1"), headers=auth(keys["counsellor"]))
    assert r.status_code == 409 and r.json()["type"].endswith("/already-pre-registered")


# ---- erasure ------------------------------------------------------------------------------------

def test_erasing_a_seeker_erases_its_pre_registrations_and_frees_its_place(env):
    c, auth, keys = env["client"], env["auth"], env["keys"]
    mine = submit(env, "P5")["id"]
    other = submit(env, "P6")["id"]
    third = submit(env, "P7")["id"]
    move(env, mine, "accepted")
    move(env, other, "accepted")
    move(env, third, "waitlisted")
    assert c.delete("/seekers/P5", headers=auth(keys["counsellor"])).status_code == 204
    assert c.get(f"/prescriptions/{mine}", headers=auth(keys["counsellor"])).status_code == 404
    assert c.get("/prescriptions?seeker=P5", headers=auth(keys["counsellor"])).json()["total"] == 0
    assert c.get(f"/prescriptions/{third}", headers=auth(keys["counsellor"])).json()["state"] == "accepted"
    with sqlite3.connect(env["database"]) as db:
        assert db.execute("SELECT count(*) FROM prescription_events WHERE prescription = ?", (mine,)).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM prescriptions WHERE seeker = 'P5'").fetchone()[0] == 0
    dash = c.get("/funders/dashboard", headers=auth(keys["funder"])).json()
    assert dash["pre_registrations"] is None and dash["secret"] == ["pre_registrations"]  # 2 people: secret
    assert PrescriptionService.of(env["app"].state.passerelles).dashboard(threshold=1)["pre_registrations"] == 2


# ---- the funders' figures ----------------------------------------------------------------------

def test_funder_figures_on_a_known_set_and_the_xlsx(env):
    """7 pre-registrations: 4 by France Travail, 3 by a mission locale; 5 on T-SOUD (Beauvais, where
    H2913 is in tension) and 2 on T-MAINT (Saint-Quentin); targets H2913 except two H2102."""
    c, auth, keys = env["client"], env["auth"], env["keys"]
    ids = [submit(env, "P0")["id"], submit(env, "P1")["id"], submit(env, "P2", session="S2")["id"],
           submit(env, "P3", session="S2", key="counsellor-ml")["id"],
           c.post("/prescriptions", json={**body("P4", session="S2"), "target": "H2102"},
                  headers=auth(keys["counsellor-ml"])).json()["id"],
           submit(env, "P5", training="T-MAINT", session="S3")["id"],
           c.post("/prescriptions", json={**body("P6", training="T-MAINT", session="S3"), "target": "H2102"},
                  headers=auth(keys["counsellor-ml"])).json()["id"]]
    move(env, ids[0], "accepted")
    move(env, ids[1], "accepted")
    move(env, ids[2], "refused", reason="funding-not-granted")
    move(env, ids[5], "accepted", key="org-b")
    today = date.today()
    move(env, ids[0], "entered", at=today.isoformat())
    move(env, ids[0], "completed", at=today.isoformat())
    move(env, ids[0], "employed-target", key="counsellor", at=today.isoformat())
    move(env, ids[1], "entered", at=today.isoformat())
    move(env, ids[1], "abandoned", at=today.isoformat())
    d = c.get("/funders/dashboard", headers=auth(keys["funder"])).json()
    # over HTTP, under the statistical secret (5 people): 7 in all, 4 and 3 by prescriber both hidden
    assert d["pre_registrations"] == 7 and d["statistical_secret"]["threshold"] == 5
    assert [(p["pre_registrations"], p["secret"]) for p in d["by_prescriber_type"]] == [
        (None, ["pre_registrations", "in_tension"])] * 2
    assert d["in_tension"]["pre_registrations"] is None and d["in_tension"]["share"] is None
    # the arithmetic, with the secret off (only inside the process)
    http = d
    d = PrescriptionService.of(env["app"].state.passerelles).dashboard(threshold=1)
    assert d["pre_registrations"] == 7
    assert [{k: v for k, v in p.items() if k != "secret"} for p in d["by_prescriber_type"]] == [
        {"prescriber_type": "france-travail", "pre_registrations": 4, "in_tension": 3},
        {"prescriber_type": "mission-locale", "pre_registrations": 3, "in_tension": 1}]
    assert [{k: v for k, v in b.items() if k != "secret"} for b in d["by_basin"]] == [{"basin": "beauvais", "pre_registrations": 5, "in_tension": 4},
                             {"basin": "saint-quentin", "pre_registrations": 2, "in_tension": 0}]
    assert [(o["occupation"], o["pre_registrations"]) for o in d["by_occupation"]] == [("H2913", 5), ("H2102", 2)]
    assert d["in_tension"]["pre_registrations"] == 4 and d["in_tension"]["share"] == round(4 / 7, 4)
    assert d["answers"] == {**d["answers"], "answered": 4, "median_days_to_answer": 0}
    sessions = {(s["training"], s["session"]): s for s in d["sessions"]["items"]}
    assert sessions[("T-SOUD", "S1")] == {**sessions[("T-SOUD", "S1")], "places": 2, "submitted": 2, "accepted": 2,
                                          "fill_rate": 1.0}
    assert sessions[("T-SOUD", "S2")]["places"] == 8 and sessions[("T-SOUD", "S2")]["fill_rate"] == 0.0
    assert sessions[("T-MAINT", "S3")]["fill_rate"] == round(1 / 3, 4)
    assert d["outcomes_at_six_months"]["employed-target"] == 0  # ended today: not six months yet
    later = PrescriptionService.of(env["app"].state.passerelles).dashboard(today=today + timedelta(days=200),
                                                                         threshold=1)
    assert {k: later["outcomes_at_six_months"][k] for k in ("employed-target", "employed-other", "none")} == {
        "employed-target": 1, "employed-other": 0, "none": 1}
    # the tallies kept on write are exactly what a recount of the rows gives
    service = PrescriptionService.of(env["app"].state.passerelles)
    before = service.dashboard(today=today + timedelta(days=200), threshold=1)
    service.store.rebuild()
    assert service.dashboard(today=today + timedelta(days=200), threshold=1) == before
    # no personal data anywhere in the funders' answer
    text = c.get("/funders/dashboard", headers=auth(keys["funder"])).text
    assert not any(i in text for i in ids) and not any(f'"P{i}"' in text for i in range(12))

    def keys_of(value):
        if isinstance(value, dict):
            return set(value) | set().union(*map(keys_of, value.values()))
        if isinstance(value, list):
            return set().union(*map(keys_of, value)) if value else set()
        return set()
    assert not (keys_of(d) | keys_of(http)) & {"seeker", "id", "contact", "note", "prescriber_key"}

    import openpyxl

    r = c.get("/funders/dashboard?format=xlsx", headers=auth(keys["funder"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    summary = {row[0]: row[1] for row in book["summary"].iter_rows(values_only=True)}
    assert summary["pre-registrations"] == 7 and summary["aimed at occupations in tension"] == "secret"
    assert summary["statistical secret threshold (people)"] == 5
    rows = list(book["by prescriber type"].iter_rows(values_only=True))
    assert rows == [("prescriber_type", "pre_registrations", "in_tension"), ("france-travail", "secret", "secret"),
                    ("mission-locale", "secret", "secret")]
    from api.services.prescription_service import dashboard_xlsx
    book = openpyxl.load_workbook(io.BytesIO(dashboard_xlsx(d)))
    summary = {row[0]: row[1] for row in book["summary"].iter_rows(values_only=True)}
    assert summary["pre-registrations"] == 7 and summary["aimed at occupations in tension"] == 4
    rows = list(book["by prescriber type"].iter_rows(values_only=True))
    assert rows == [("prescriber_type", "pre_registrations", "in_tension"), ("france-travail", 4, 3),
                    ("mission-locale", 3, 1)]
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)


def test_a_formula_like_value_stays_text_in_the_xlsx(env):
    """Basins and occupations come from the catalogue and the referential, but a hostile training
    catalogue could name a session '=1+1': the workbook keeps it as a string cell."""
    from api.services.prescription_service import dashboard_xlsx
    import openpyxl

    body_ = PrescriptionService.of(env["app"].state.passerelles).dashboard()
    body_["sessions"]["items"] = [{"training": "=HYPERLINK(\"http://x\")", "session": "+1", "basin": "@a",
                                   "places": 1, "submitted": 1, "accepted": 0, "fill_rate": 0.0}]
    book = openpyxl.load_workbook(io.BytesIO(dashboard_xlsx(body_)))
    cells = [c for c in next(book["sessions"].iter_rows(min_row=2, max_row=2))]
    assert cells[0].value == "=HYPERLINK(\"http://x\")" and cells[0].data_type == "s"


# ---- the command line -----------------------------------------------------------------------------

def test_cli_list_show_answer(env, capsys):
    import json

    from api.cli.root import main

    db = str(env["database"])
    first = submit(env, "P8")["id"]
    assert main(["keys", "create", "--role", "counsellor", "--prescriber", "cap-emploi", "--database", db,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prescriber"] == "cap-emploi"
    assert main(["keys", "create", "--role", "counsellor", "--prescriber", "pole-emploi", "--database", db]) == 2
    capsys.readouterr()
    assert main(["prescriptions", "list", "--database", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in listed["items"]] == [first] and listed["items"][0]["seeker"] == "P8"
    assert main(["prescriptions", "list", "--organisation", "22222222200022", "--database", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0
    # an organisation answers only on its own sessions, the state machine holds
    assert main(["prescriptions", "answer", first, "--to", "accepted", "--as", "organisation",
                 "--organisation", "22222222200022", "--database", db]) == 2
    assert main(["prescriptions", "answer", first, "--to", "entered", "--as", "organisation",
                 "--organisation", "11111111100011", "--database", db]) == 2
    assert "cannot become 'entered'" in capsys.readouterr().err
    assert main(["prescriptions", "answer", first, "--to", "accepted", "--as", "organisation",
                 "--organisation", "11111111100011", "--database", db]) == 0
    assert capsys.readouterr().out.strip() == f"{first}: accepted"
    assert main(["prescriptions", "show", first, "--database", db]) == 0
    out = capsys.readouterr().out
    assert "accepted" in out and "next: entered, withdrawn" in out
    with sqlite3.connect(env["database"]) as db_:
        assert db_.execute("SELECT count(*) FROM audit_log WHERE path = 'cli:prescriptions answer' AND "
                           "action = 'transition:accepted' AND resource_id = ?", (first,)).fetchone()[0] == 1


def test_two_connections_racing_never_exceed_the_places(tmp_path):
    """Two worker processes hold two connections: the place check is SQLite's (BEGIN IMMEDIATE and a
    conditional UPDATE), not a Python lock. Two stores on one file, 16 threads accepting at once on
    a 3-place session, 5 rounds."""
    from api.storage.prescriptions import NoPlaceLeft, PrescriptionStore

    path = tmp_path / "p.sqlite3"
    stores = [PrescriptionStore(path), PrescriptionStore(path)]
    for round_ in range(5):
        ids = []
        for i in range(16):
            row, _ = stores[0].create({"seeker": f"R{round_}-{i}", "training": "T", "session": f"S{round_}",
                                       "organisation": "O", "prescriber_type": "other", "origin": "search",
                                       "target": "H2913", "basin": "b", "in_tension": 0},
                                      places=3, key_id="k", role="counsellor")
            ids.append(row["id"])
        barrier = threading.Barrier(16)

        def accept(i: int) -> bool:
            barrier.wait()
            try:
                stores[i % 2].transition(ids[i], expected="submitted", to="accepted", at="2026-12-05T00:00:00",
                                         reason=None, key_id="o", role="organisation", places=3, takes_place=True)
                return True
            except NoPlaceLeft:
                return False

        with ThreadPoolExecutor(16) as pool:
            won = sum(pool.map(accept, range(16)))
        assert won == 3
        assert stores[1].session_row("T", f"S{round_}")["accepted"] == 3
    for store in stores:
        store.close()


def test_pre_registration_on_an_ingested_lheo_session_survives_a_restart(tmp_path):
    """The real path: an LHEO flux ingested over HTTP, its session pre-registered, answered by the
    organisation whose key carries the action's SIRET, and still there (with its places) after a
    restart on the same database."""
    from pathlib import Path

    from api.http.app import create_app
    from api.settings import Settings

    settings = Settings(referentiel="demo", database=tmp_path / "p.sqlite3", rate_limit_per_minute=1_000_000,
                        rate_limit_burst=100_000)
    app = create_app(settings)
    create = app.state.security.keys.create
    admin, counsellor = create("admin")[0], create("counsellor", prescriber="cap-emploi")[0]
    organisation, other = create("organisation", organisation="12345678900017")[0], create(
        "organisation", organisation="98765432100028")[0]
    xml = (Path(__file__).parents[1] / "data" / "lheo" / "valid-2.3.xml").read_bytes()
    with TestClient(app) as c:
        r = c.post("/trainings:ingest", content=xml, headers={"Authorization": f"Bearer {admin}",
                                                              "Content-Type": "application/xml"})
        assert r.status_code == 200, r.text
        assert c.put("/seekers/L1", json={"id": "L1", "occupation": "H2102", "basin": "beauvais"},
                     headers={"Authorization": f"Bearer {counsellor}"}).status_code == 201
        r = c.post("/prescriptions", json={"seeker": "L1", "training": "AF-SOUD-BVS", "session": "SE-BVS-2703",
                                           "target": "H2913", "origin": "gap-plan"},
                   headers={"Authorization": f"Bearer {counsellor}"})
        assert r.status_code == 201, r.text
        id = r.json()["id"]
        assert r.json()["organisation"] == "12345678900017"
        assert c.get(f"/prescriptions/{id}", headers={"Authorization": f"Bearer {other}"}).status_code == 404
        assert c.post(f"/prescriptions/{id}/transitions", json={"to": "accepted"},
                      headers={"Authorization": f"Bearer {organisation}"}).status_code == 200
    again = create_app(settings)
    with TestClient(again) as c:
        body = c.get(f"/prescriptions/{id}", headers={"Authorization": f"Bearer {organisation}"}).json()
        assert body["state"] == "accepted" and [e["state"] for e in body["timeline"]] == ["submitted", "accepted"]
        funder = again.state.security.keys.create("funder")[0]
        sessions = c.get("/funders/dashboard", headers={"Authorization": f"Bearer {funder}"}).json()["sessions"]
        assert sessions["items"][0]["accepted"] is None and sessions["items"][0]["places"] is not None  # 1: secret
        figures = PrescriptionService.of(again.state.passerelles).dashboard(threshold=1)["sessions"]
        assert figures["items"][0]["accepted"] == 1


def test_purge_keeps_open_pre_registrations(env, capsys):
    from api.cli.root import main

    done = submit(env, "P9")["id"]
    move(env, done, "refused", reason="not-reachable")
    open_one = submit(env, "P10")["id"]
    before = (date.today() + timedelta(days=1)).isoformat()
    assert main(["prescriptions", "purge", "--before", before, "--database", str(env["database"])]) == 0
    assert "deleted 1 " in capsys.readouterr().out
    c, auth, keys = env["client"], env["auth"], env["keys"]
    assert c.get(f"/prescriptions/{done}", headers=auth(keys["counsellor"])).status_code == 404
    assert c.get(f"/prescriptions/{open_one}", headers=auth(keys["counsellor"])).status_code == 200
    d = PrescriptionService.of(env["app"].state.passerelles).dashboard(threshold=1)
    assert d["pre_registrations"] == 1 and d["answers"]["answered"] == 0


def test_places_left_in_plans_and_sessions_subtract_the_accepted_pre_registrations(env):
    """S1 has 2 places: each acceptance lowers its places left (GET /trainings/{id} and the plan's
    chosen session); once both are taken the plan chooses another session, and a withdrawal gives
    the place back."""
    import numpy as np
    from types import SimpleNamespace

    from api.services.training_service import TrainingService

    c, auth, keys = env["client"], env["auth"], env["keys"]
    state = env["app"].state.passerelles
    skill = state.referentiel.skill_index[state.referentiel.skills["code"][0]]
    gap = SimpleNamespace(missing=np.array([skill]), missing_weight=np.array([1.0]), missing_close=np.array([-1]))
    service = TrainingService.of(state)

    def left(training: str = "T-SOUD") -> dict:
        return {s["id"]: (s["places"], s["places_left"])
                for s in c.get(f"/trainings/{training}", headers=auth(keys["counsellor"])).json()["sessions"]}

    def planned() -> dict:
        sessions = [t["session"] for t in service.plan(gap)["trainings"]]
        return {s["id"]: s["places_left"] for s in sessions if s is not None}

    assert left() == {"S1": (2, 2), "S2": (8, 8)}
    assert planned() == {"S1": 2}, "the plan chooses the soonest session, S1 (ties by row)"
    a, b = submit(env, "P0")["id"], submit(env, "P1")["id"]
    assert left()["S1"] == (2, 2), "submitted is not accepted: no place is held yet"
    move(env, a, "accepted")
    assert left()["S1"] == (2, 1)
    assert planned() == {"S1": 1}
    move(env, b, "accepted")
    assert left() == {"S1": (2, 0), "S2": (8, 8)}
    assert planned() == {"S2": 8}, "a full session is never offered: the next one of the training is"
    index, full = service.index, service.places_left()  # one training's places left: the slice of all of them
    for i in range(len(service.catalogue)):
        lo, hi = index.session_indptr[i], index.session_indptr[i + 1]
        mine = service.places_left(training=i)
        assert np.array_equal(index.session_places[lo:hi] if mine is None else mine, full[lo:hi], equal_nan=True)
    move(env, b, "withdrawn", key="counsellor")
    assert left()["S1"] == (2, 1)
    assert planned() == {"S1": 1}


def test_each_write_has_exactly_one_audit_row_with_its_status(env):
    """The submission's and the answer's audit rows are written in the write's own transaction (one
    commit): exactly one row per change, none twice (the middleware does not add its own), a
    promotion from the waiting list its own row; a replay and a refused move are still audited, by
    the middleware, with their status, and a refused move leaves no transition row."""
    db = env["app"].state.security.audit._conn

    def rows(id: str) -> list[tuple]:
        return db.execute("SELECT action, method, path, status FROM audit_log WHERE resource = 'prescription' AND "
                          "resource_id = ? ORDER BY seq", (id,)).fetchall()

    headers = {**env["auth"](env["keys"]["counsellor"]), "Idempotency-Key": "audit-once"}
    first = env["client"].post("/prescriptions", json=body("P7", session="S1"), headers=headers)
    assert first.status_code == 201
    pid = first.json()["id"]
    assert rows(pid) == [("transition:submitted", "POST", "/prescriptions", 201)]
    replay = env["client"].post("/prescriptions", json=body("P7", session="S1"), headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    # the replay names no id in its audit row (the middleware's, as before): the first one stays alone
    assert rows(pid) == [("transition:submitted", "POST", "/prescriptions", 201)]
    assert db.execute("SELECT count(*) FROM audit_log WHERE path = '/prescriptions' AND status = 201").fetchone()[0] == 2
    move(env, pid, "entered", expect=409)
    assert rows(pid)[-1] == ("create", "POST", f"/prescriptions/{pid}/transitions", 409)  # no transition named
    a, w = submit(env, "P8")["id"], submit(env, "P9")["id"]
    move(env, pid, "accepted")
    move(env, a, "accepted")  # S1 has 2 places: full
    move(env, w, "waitlisted")
    move(env, a, "withdrawn", key="counsellor")  # frees a place: w is promoted in the same transaction
    path = f"/prescriptions/{a}/transitions"
    assert [r for r in rows(a) if r[2] == path] == [("transition:accepted", "POST", path, 200),
                                                     ("transition:withdrawn", "POST", path, 200)]
    assert rows(w)[-1] == ("transition:accepted", "POST", path, 200)
    assert [r[0] for r in rows(pid) if r[3] < 300] == ["transition:submitted", "transition:accepted"]
