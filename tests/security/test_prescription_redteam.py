"""Red team of the pre-registration surfaces (after the pages and ``places_left``): free text that one
party writes and another reads, the Idempotency-Key used against its rules, places under mixed
concurrent answers and withdrawals, and hostile list filters. Real requests through the app."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

NEW = {"seeker": "P1", "training": "T-SOUD", "session": "S1", "target": "H2913", "origin": "bridge"}


@pytest.fixture
def env(prescription_env):
    with TestClient(prescription_env["app"], raise_server_exceptions=False) as client:
        yield {**prescription_env, "client": client}


def post(env, path: str, body, who: str = "counsellor", **headers):
    return env["client"].post(path, json=body, headers=env["auth"](env["keys"][who], **headers))


def listed(env, who: str = "counsellor", **query) -> list[dict]:
    r = env["client"].get("/prescriptions", params={"limit": 500, **query}, headers=env["auth"](env["keys"][who]))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# ---- free text: a note or a name is read by another party (page, CLI, logs) -------------------------
HOSTILE = [("\x00", "U+0000"), ("\x1b[2J\x1b[31m", "U+001B"), ("\x85", "U+0085"), ("\u202e", "U+202E"),
           ("\u2066", "U+2066"), ("\ufffd", "U+FFFD")]


@pytest.mark.parametrize("character, code", HOSTILE)
@pytest.mark.parametrize("where", ["note", "contact.name"])
def test_a_note_or_contact_name_with_control_or_bidi_characters_is_refused(env, where, character, code):
    """Before: 201, the NUL / ESC sequence / bidi override stored and shown to the organisation (a
    transition note even reached the terminal through ``passerelles prescriptions show``)."""
    text = f"Projet confirmé{character} suite"
    body = {**NEW, "note": text} if where == "note" else {**NEW, "contact": {"name": text}}
    r = post(env, "/prescriptions", body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == where and code in problem["detail"] and "printable" in problem["detail"], problem
    assert listed(env) == [], "nothing stored"


def test_a_transition_note_with_a_control_character_is_refused(env):
    created = post(env, "/prescriptions", NEW)
    assert created.status_code == 201
    r = post(env, f"/prescriptions/{created.json()['id']}/transitions", {"to": "waitlisted", "note": "vu\x00"}, "org-a")
    assert r.status_code == 422 and r.json()["field"] == "note", r.text
    assert listed(env)[0]["state"] == "submitted", "the move was not made"


def test_ordinary_text_with_line_breaks_tabs_and_right_to_left_script_still_passes(env):
    note = "Projet confirmé.\n\tDisponible dès janvier — مرحبا (=SUM(A1) reste du texte)"
    r = post(env, "/prescriptions", {**NEW, "note": note, "contact": {"name": "Zoë O'Brien-Łukasz"}})
    assert r.status_code == 201, r.text
    assert r.json()["note"] == note


# ---- Idempotency-Key against its rules --------------------------------------------------------------
@pytest.mark.parametrize("value, field_says", [("k" * 101, "at most 100"), ("ab\x01cd", "U+0001"), ("  ", "empty"),
                                               ("a/b", "/")])
def test_a_malformed_idempotency_key_is_a_clear_422(env, value, field_says):
    r = post(env, "/prescriptions", NEW, **{"Idempotency-Key": value})
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key" and field_says in r.json()["detail"], r.text
    assert listed(env) == []


def test_the_same_key_with_another_body_is_refused_and_never_replays_the_first(env):
    first = post(env, "/prescriptions", NEW, **{"Idempotency-Key": "K-1"})
    assert first.status_code == 201
    for other in ({**NEW, "seeker": "P2"}, {**NEW, "note": "autre"}, {**NEW, "session": "S2"}):
        r = post(env, "/prescriptions", other, **{"Idempotency-Key": "K-1"})
        assert r.status_code == 422 and r.json()["type"].endswith("idempotency-key-reused"), r.text
        assert "Idempotent-Replayed" not in r.headers
    assert [p["seeker"] for p in listed(env)] == ["P1"], "nothing created for the other bodies"


def test_the_same_key_from_another_counsellor_is_that_counsellors_own(env):
    """Keys are scoped by API key: another counsellor's K-1 neither replays nor is refused as reused."""
    mine = post(env, "/prescriptions", NEW, **{"Idempotency-Key": "K-1"})
    theirs = post(env, "/prescriptions", {**NEW, "seeker": "P2"}, "counsellor-ml", **{"Idempotency-Key": "K-1"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers, theirs.text
    assert theirs.json()["id"] != mine.json()["id"] and theirs.json()["seeker"] == "P2"
    again = post(env, "/prescriptions", NEW, "counsellor-ml", **{"Idempotency-Key": "K-1"})
    assert again.status_code == 422, "their key now names their body, not mine"


# ---- places under mixed concurrent accepts and withdrawals ------------------------------------------
def test_places_left_never_negative_and_the_count_exact_under_concurrent_accepts_and_withdrawals(env):
    """S1 has 2 places: 8 seekers, every one accepted by the organisation while the counsellor
    withdraws half of them, all at once; places_left read meanwhile never below 0, and at the end the
    places held are exactly the accepted records."""
    ids = [post(env, "/prescriptions", {**NEW, "seeker": f"P{i}"}).json()["id"] for i in range(8)]
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def answer(id: str, to: str, who: str) -> None:
        r = post(env, f"/prescriptions/{id}/transitions", {"to": to}, who)
        if r.status_code not in (200, 409):
            errors.append(r.text)

    def watch() -> None:
        while not stop.is_set():
            r = env["client"].get("/trainings/T-SOUD", headers=env["auth"](env["keys"]["counsellor"]))
            seen.extend(s["places_left"] for s in r.json()["sessions"] if s["id"] == "S1")

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=answer, args=(id, "accepted", "org-a")) for id in ids]
    threads += [threading.Thread(target=answer, args=(id, "withdrawn", "counsellor")) for id in ids[::2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert seen and min(seen) >= 0, seen
    held = [p for p in listed(env, session="S1") if p["state"] == "accepted"]
    assert len(held) <= 2
    r = env["client"].get("/trainings/T-SOUD", headers=env["auth"](env["keys"]["counsellor"]))
    left = next(s["places_left"] for s in r.json()["sessions"] if s["id"] == "S1")
    assert left == 2 - len(held), (left, held)


# ---- hostile list filters: one request costs one bounded page ---------------------------------------
@pytest.mark.parametrize("query, field", [({"limit": 501}, "limit"), ({"offset": 10**12}, "offset"),
                                          ({"state": "x" * 41}, "state"), ({"seeker": "a/b"}, "seeker"),
                                          ({"training": "t" * 101}, "training"), ({"session": "\x00"}, "session")])
def test_hostile_list_filters_are_422_naming_the_field(env, query, field):
    r = env["client"].get("/prescriptions", params=query, headers=env["auth"](env["keys"]["counsellor"]))
    assert r.status_code == 422 and r.json()["field"] == field, r.text


# ---- pseudonyms: an organisation's are its own ------------------------------------------------------
def test_an_organisation_pseudonym_links_to_no_other_organisation_nor_to_employers_matches(env):
    """Before: every organisation saw ``pseudonym(seeker)``, the very value employers see for a matched
    candidate (``/offers/{id}/candidates``): two organisations, or an organisation and an employer,
    could join their records of the same person."""
    assert post(env, "/prescriptions", NEW).status_code == 201                                   # org-a's S1
    assert post(env, "/prescriptions", {**NEW, "training": "T-MAINT", "session": "S3"}).status_code == 201  # org-b's
    seen_by_a = listed(env, "org-a")[0]["seeker"]
    seen_by_b = listed(env, "org-b")[0]["seeker"]
    employers_see = env["app"].state.passerelles.pool.store.pseudonym("P1")
    assert len({seen_by_a, seen_by_b, employers_see}) == 3, (seen_by_a, seen_by_b, employers_see)
    assert seen_by_a.startswith("c-") and listed(env, "org-a")[0]["seeker"] == seen_by_a, "stable for its holder"


def test_the_cli_never_prints_a_stored_control_sequence_to_the_terminal(env, capsys):
    """A row written before the API refused control characters (or straight into the database): its
    transition note reached the terminal as is (an ESC sequence can rewrite the screen)."""
    import sqlite3

    from api.cli.root import main

    id = post(env, "/prescriptions", NEW).json()["id"]
    with sqlite3.connect(env["database"]) as db:
        db.execute("UPDATE prescription_events SET detail = ? WHERE prescription = ?", ("vu\x1b[2J\x1b]0;pwned\x07", id))
    assert main(["prescriptions", "show", id, "--database", str(env["database"])]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "vu\ufffd[2J" in out, out


def test_an_idempotency_key_given_twice_is_refused(env):
    """Before: the second header was silently ignored (201 under key 'a'): a proxy reading the other
    one would replay or refuse a different request than the app does."""
    headers = [("Authorization", f"Bearer {env['keys']['counsellor']}"), ("Idempotency-Key", "a"),
               ("Idempotency-Key", "b")]
    r = env["client"].post("/prescriptions", json=NEW, headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key" and "more than once" in r.json()["detail"]
    assert listed(env) == []


def test_a_step_cannot_be_dated_before_the_step_it_follows(env):
    """Before: only 'after the submission' was checked: an entry dated before the acceptance, an end
    before the entry, which the six-month outcomes then counted from a date before the training began."""
    import sqlite3
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).date()
    id = post(env, "/prescriptions", NEW).json()["id"]
    with sqlite3.connect(env["database"]) as db:
        db.execute("UPDATE prescriptions SET submitted_at = ? WHERE id = ?",
                   ((today - timedelta(days=60)).isoformat() + "T09:00:00.000+00:00", id))
    assert post(env, f"/prescriptions/{id}/transitions", {"to": "accepted"}, "org-a").status_code == 200
    early = (today - timedelta(days=30)).isoformat()
    r = post(env, f"/prescriptions/{id}/transitions", {"to": "entered", "at": early}, "org-a")
    assert r.status_code == 422 and r.json()["field"] == "at" and "answered on" in r.json()["detail"], r.text
    assert post(env, f"/prescriptions/{id}/transitions", {"to": "entered", "at": today.isoformat()},
                "org-a").status_code == 200
    r = post(env, f"/prescriptions/{id}/transitions", {"to": "completed", "at": early}, "org-a")
    assert r.status_code == 422 and "entered on" in r.json()["detail"], r.text
    assert listed(env)[0]["state"] == "entered"
