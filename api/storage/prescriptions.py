"""Pre-registrations (prescriptions) in SQLite: the records, their timelines, the places, the tallies.

Tables (created on first use in the database file the store uses, ``settings.database``):

- ``prescriptions``: one row per pre-registration (seeker id, session, organisation, prescriber
  type, origin, target occupation, basin, tension flag, state, dates of each step, outcome).
- ``prescription_events``: the timeline, one row per transition (state, when, which key and role).
- ``prescription_sessions``: per session its places (capacity, else financed places; NULL =
  unknown, then not bounded) and its counts of pre-registrations and accepted ones. The accepted
  count is raised by a conditional ``UPDATE ... WHERE accepted < places`` inside the answer's
  ``BEGIN IMMEDIATE`` transaction: two answers arriving at once, from two threads or two server
  processes, cannot both take the last place.
- ``prescription_tallies`` (year, dimension ``prescriber_type`` | ``basin`` | ``occupation``, value
  -> pre-registrations, of which aimed at an occupation in tension), ``prescription_answer_days``
  (whole days to the first answer -> n) and ``prescription_exits`` (day a training ended, outcome
  recorded within six months -> n): kept on every write in the same transaction, so the funders'
  dashboard reads a few thousand rows instead of grouping millions.
- ``prescription_idempotency``: (key id, Idempotency-Key) -> hash of the body and the answer given.

Every write is one transaction; readers see committed states only (WAL).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterator, Literal

from api.storage.audit import AUDIT_INSERT
from api.storage.sqlite import BackgroundCheckpoints, connect, immediate, utc_now

#: What a write may be asked to audit in its own transaction: (prescription id, new state) of every
#: change it made -> the rows of :data:`api.storage.audit.AUDIT_INSERT` (the table ``audit_log``
#: must exist: ``api.storage.audit.AuditLog`` creates it).
AuditRows = Callable[[list[tuple[str, str]]], list[tuple]]

DDL = """
CREATE TABLE IF NOT EXISTS prescriptions (
    id TEXT PRIMARY KEY,
    seeker TEXT NOT NULL,
    training TEXT NOT NULL,
    session TEXT NOT NULL,
    organisation TEXT,
    prescriber_key TEXT,
    prescriber_type TEXT NOT NULL,
    origin TEXT NOT NULL,
    target TEXT NOT NULL,
    note TEXT,
    contact TEXT,
    basin TEXT NOT NULL,
    in_tension INTEGER NOT NULL,
    year INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    submitted_at TEXT NOT NULL,
    answered_at TEXT,
    waitlisted_at TEXT,
    entered_at TEXT,
    exited_at TEXT,
    outcome_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prescriptions_seeker ON prescriptions (seeker);
CREATE INDEX IF NOT EXISTS prescriptions_session ON prescriptions (training, session, state, waitlisted_at);
CREATE INDEX IF NOT EXISTS prescriptions_organisation ON prescriptions (organisation, submitted_at, id);
CREATE INDEX IF NOT EXISTS prescriptions_submitted ON prescriptions (submitted_at, id);
CREATE INDEX IF NOT EXISTS prescriptions_state ON prescriptions (state, submitted_at, id);
CREATE TABLE IF NOT EXISTS prescription_events (
    prescription TEXT NOT NULL,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    role TEXT,
    key_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS prescription_events_of ON prescription_events (prescription);
CREATE TABLE IF NOT EXISTS prescription_sessions (
    training TEXT NOT NULL,
    session TEXT NOT NULL,
    organisation TEXT,
    basin TEXT,
    places INTEGER,
    submitted INTEGER NOT NULL DEFAULT 0,
    accepted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (training, session),
    CHECK (places IS NULL OR accepted <= places)
);
CREATE TABLE IF NOT EXISTS prescription_tallies (
    year INTEGER NOT NULL,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    in_tension INTEGER NOT NULL,
    PRIMARY KEY (year, dim, value)
);
CREATE TABLE IF NOT EXISTS prescription_exits (
    exit_day TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (exit_day, outcome)
);
CREATE TABLE IF NOT EXISTS prescription_answer_days (days INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS prescription_idempotency (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    prescription TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS prescription_idempotency_of ON prescription_idempotency (prescription);
"""

COLUMNS = ("id", "seeker", "training", "session", "organisation", "prescriber_key", "prescriber_type", "origin",
           "target", "note", "contact", "basin", "in_tension", "year", "state", "reason", "submitted_at",
           "answered_at", "waitlisted_at", "entered_at", "exited_at", "outcome_at", "updated_at")

SIX_MONTHS_DAYS = 183
DIMENSIONS = (("prescriber_type", "prescriber_type"), ("basin", "basin"), ("occupation", "target"))


def six_month_outcome(row) -> str:
    """``employed-target`` / ``employed-other`` when that outcome was recorded within 183 days of
    the end of the training, else ``none``."""
    if row["state"] in ("employed-target", "employed-other") and row["outcome_at"] and row["exited_at"]:
        if _days_between(row["exited_at"][:10], row["outcome_at"][:10]) <= SIX_MONTHS_DAYS:
            return row["state"]
    return "none"


class PrescriptionStoreError(Exception):
    """A write refused by the store's own conditions (see the subclasses)."""


class NoPlaceLeft(PrescriptionStoreError):
    """Every place of the session is taken (the conditional UPDATE changed no row)."""


class StaleState(PrescriptionStoreError):
    """The record's state changed since it was read (another answer came first)."""

    def __init__(self, current: str) -> None:
        super().__init__(current)
        self.current = current


class IdempotencyMismatch(PrescriptionStoreError):
    """The Idempotency-Key was used before with another body."""


class Duplicate(PrescriptionStoreError):
    """The seeker already has an open pre-registration on this session."""

    def __init__(self, existing: str) -> None:
        super().__init__(existing)
        self.existing = existing


def _days_between(start: str, end: str) -> int:
    """Calendar days from the date of ``start`` to the date of ``end`` (ISO texts, UTC), at least 0."""
    return max(0, (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days)


CHECKPOINT_EVERY_S = 1.0
"""Seconds between two background WAL checkpoints of the pre-registration tables."""


class PrescriptionStore:
    """The pre-registration tables on one connection (behind a lock; one instance per process)."""

    def __init__(self, path: str | Path, synchronous: Literal["FULL", "NORMAL"] = "FULL", *,
                 checkpoint_every_s: float | None = CHECKPOINT_EVERY_S) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self._lock = threading.RLock()
        self._db = connect(path, synchronous=synchronous)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA cache_size=-65536")
        with self.transaction() as db:
            for statement in DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
        self._checkpoints: BackgroundCheckpoints | None = None
        if checkpoint_every_s and str(path) != ":memory:":
            # the WAL is copied back into the database by a thread of its own, off the requests' path
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpoints = BackgroundCheckpoints(path, checkpoint_every_s)

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_autocheckpoint = 1000")  # the last connection's close checkpoints
            except sqlite3.ProgrammingError:  # closed already
                pass
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception): the write lock is taken first,
        so a read-then-write inside cannot be overtaken by another connection."""
        with self._lock, immediate(self._db) as db:
            yield db

    # ---- reading -------------------------------------------------------------------------------
    def get(self, id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM prescriptions WHERE id = ?", (id,)).fetchone()
        return dict(row) if row else None

    def events(self, id: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT at, state, role, key_id, detail FROM prescription_events "
                                    "WHERE prescription = ? ORDER BY rowid", (id,)).fetchall()
        return [dict(r) for r in rows]

    def session_row(self, training: str, session: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM prescription_sessions WHERE training = ? AND session = ?",
                                   (training, session)).fetchone()
        return dict(row) if row else None

    def taken(self, training: str | None = None) -> dict[tuple[str, str], int]:
        """(training, session) -> places held (accepted and after: entered, completed, ...), for the
        sessions where at least one is held (one row per such session); with ``training``, that
        training's sessions only (read through the primary key: the cost of its sessions)."""
        where, args = ("training = ? AND accepted > 0", (training,)) if training is not None else ("accepted > 0", ())
        with self._lock:
            rows = self._db.execute(f"SELECT training, session, accepted FROM prescription_sessions WHERE {where}",
                                    args).fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def list(self, *, organisation: str | None = None, seeker: str | None = None, state: str | None = None,
             training: str | None = None, session: str | None = None, limit: int = 50, offset: int = 0
             ) -> tuple[list[dict], int]:
        """(a page of records, newest first, and the total) matching every filter given."""
        where, args = [], []
        for column, value in (("organisation", organisation), ("seeker", seeker), ("state", state),
                              ("training", training), ("session", session)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        # every filter has an index that also gives the order (organisation, state, or submitted_at),
        # or a few rows (seeker, session): a page never sorts the whole table
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM prescriptions{clause}", args).fetchone()[0]
            rows = self._db.execute(f"SELECT * FROM prescriptions{clause} ORDER BY submitted_at DESC, id DESC "
                                    "LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [dict(r) for r in rows], int(total)

    # ---- writing -------------------------------------------------------------------------------
    def create(self, record: dict, *, places: int | None, key_id: str | None, role: str | None,
               idempotency: tuple[str, str] | None = None, audit: AuditRows | None = None) -> tuple[dict, bool]:
        """Insert a submitted pre-registration (``record``: the columns of :data:`COLUMNS` but the
        dates and state) in one transaction: its session's row (places refreshed), tallies, first
        event. ``idempotency``: (Idempotency-Key, body hash): a key seen before with the same hash
        returns the record it made, ``(record, False)``; with another hash raises
        :class:`IdempotencyMismatch`. Raises :class:`Duplicate` when the seeker already has an open
        pre-registration (submitted, waitlisted, accepted, entered) on the session. ``audit``: the
        audit rows of the creation, written in the same transaction (not for a replay)."""
        now = utc_now()
        with self.transaction() as db:
            if idempotency is not None:
                seen = db.execute("SELECT body_hash, prescription FROM prescription_idempotency "
                                  "WHERE key_id = ? AND idempotency_key = ?", (key_id or "", idempotency[0])).fetchone()
                if seen is not None:
                    if seen[0] != idempotency[1]:
                        raise IdempotencyMismatch(seen[1])
                    row = db.execute("SELECT * FROM prescriptions WHERE id = ?", (seen[1],)).fetchone()
                    if row is not None:
                        return dict(row), False
            open_one = db.execute(
                "SELECT id FROM prescriptions WHERE seeker = ? AND training = ? AND session = ? "
                "AND state IN ('submitted', 'waitlisted', 'accepted', 'entered')",
                (record["seeker"], record["training"], record["session"])).fetchone()
            if open_one is not None:
                raise Duplicate(open_one[0])
            row = {**{c: None for c in COLUMNS}, **record, "id": record.get("id") or "pr-" + secrets.token_hex(8),
                   "state": "submitted", "submitted_at": record.get("submitted_at") or now, "updated_at": now}
            row["year"] = int(row["submitted_at"][:4])
            db.execute(f"INSERT INTO prescriptions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       tuple(row[c] for c in COLUMNS))
            db.execute("INSERT INTO prescription_sessions (training, session, organisation, basin, places, submitted) "
                       "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (training, session) DO UPDATE SET "
                       "submitted = submitted + 1, places = max(excluded.places, accepted), "
                       "organisation = excluded.organisation, basin = excluded.basin",
                       (row["training"], row["session"], row["organisation"], row["basin"], places))
            self._tally(db, row, +1)
            db.execute("INSERT INTO prescription_events VALUES (?, ?, 'submitted', ?, ?, ?)",
                       (row["id"], row["submitted_at"], role, key_id, row["origin"]))
            if idempotency is not None:
                db.execute("INSERT INTO prescription_idempotency VALUES (?, ?, ?, ?, ?)",
                           (key_id or "", idempotency[0], idempotency[1], row["id"], now))
            if audit is not None:
                db.executemany(AUDIT_INSERT, audit([(row["id"], "submitted")]))
        return row, True

    @staticmethod
    def _tally(db: sqlite3.Connection, row: dict, sign: int) -> None:
        tension = sign * int(row["in_tension"])
        db.executemany("INSERT INTO prescription_tallies VALUES (?, ?, ?, ?, ?) ON CONFLICT (year, dim, value) "
                       "DO UPDATE SET n = n + excluded.n, in_tension = in_tension + excluded.in_tension",
                       [(row["year"], dim, row[column], sign, tension) for dim, column in DIMENSIONS])

    @staticmethod
    def _exit(db: sqlite3.Connection, exited_at: str | None, outcome: str, sign: int) -> None:
        if exited_at is None:
            return
        db.execute("INSERT INTO prescription_exits VALUES (?, ?, ?) ON CONFLICT (exit_day, outcome) "
                   "DO UPDATE SET n = n + excluded.n", (exited_at[:10], outcome, sign))

    def transition(self, id: str, *, expected: str, to: str, at: str, reason: str | None, key_id: str | None,
                   role: str | None, places: int | None = None, frees_place: bool = False,
                   takes_place: bool = False, detail: str | None = None, audit: AuditRows | None = None
                   ) -> list[tuple[str, str]]:
        """Move ``id`` from ``expected`` to ``to`` in one transaction; returns every change made as
        ``(prescription id, new state)`` (the waitlisted person promoted when a place is freed).

        ``takes_place``: the accepted count of the session rises only if a place is left
        (:class:`NoPlaceLeft` otherwise; ``places``: the catalogue's current number, stored first).
        ``frees_place``: the count falls and the first waitlisted pre-registration of the session
        (earliest ``waitlisted_at``, then id) becomes accepted at once, with an event saying so.
        :class:`StaleState` when the record is no longer in ``expected``. ``audit``: the audit rows
        of every change, written in the same transaction."""
        changes: list[tuple[str, str]] = []
        with self.transaction() as db:
            row = db.execute("SELECT * FROM prescriptions WHERE id = ?", (id,)).fetchone()
            if row is None or row["state"] != expected:
                raise StaleState(row["state"] if row is not None else "erased")
            training, session = row["training"], row["session"]
            if places is not None:
                db.execute("UPDATE prescription_sessions SET places = max(?, accepted) WHERE training = ? "
                           "AND session = ?", (places, training, session))
            if takes_place:
                taken = db.execute("UPDATE prescription_sessions SET accepted = accepted + 1 WHERE training = ? "
                                   "AND session = ? AND (places IS NULL OR accepted < places)",
                                   (training, session)).rowcount
                if taken != 1:
                    raise NoPlaceLeft(id)
            self._set_state(db, row, to, at, reason)
            db.execute("INSERT INTO prescription_events VALUES (?, ?, ?, ?, ?, ?)",
                       (id, at, to, role, key_id, detail if detail is not None else reason))
            changes.append((id, to))
            if frees_place:
                changes += self._free_place(db, training, session, at, id)
            if audit is not None:
                db.executemany(AUDIT_INSERT, audit(changes))
        return changes

    def _set_state(self, db: sqlite3.Connection, row: sqlite3.Row, to: str, at: str, reason: str | None) -> None:
        sets = {"state": to, "updated_at": utc_now()}
        if to in ("accepted", "refused", "waitlisted") and row["answered_at"] is None:
            sets["answered_at"] = at
            days = _days_between(row["submitted_at"], at)
            db.execute("INSERT INTO prescription_answer_days VALUES (?, 1) ON CONFLICT (days) DO UPDATE SET n = n + 1",
                       (days,))
        if to == "waitlisted":
            sets["waitlisted_at"] = at
        if to == "refused":
            sets["reason"] = reason
        if to == "entered":
            sets["entered_at"] = at
        if to in ("completed", "abandoned"):
            sets["exited_at"] = at
            self._exit(db, at, "none", +1)
        if to in ("employed-target", "employed-other"):
            sets["outcome_at"] = at
            outcome = six_month_outcome({"state": to, "outcome_at": at, "exited_at": row["exited_at"]})
            if outcome != "none":
                self._exit(db, row["exited_at"], "none", -1)
                self._exit(db, row["exited_at"], outcome, +1)
        db.execute(f"UPDATE prescriptions SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                   (*sets.values(), row["id"]))

    def _free_place(self, db: sqlite3.Connection, training: str, session: str, at: str, freed_by: str
                    ) -> list[tuple[str, str]]:
        db.execute("UPDATE prescription_sessions SET accepted = max(accepted - 1, 0) WHERE training = ? "
                   "AND session = ?", (training, session))
        first = db.execute("SELECT * FROM prescriptions WHERE training = ? AND session = ? AND state = 'waitlisted' "
                           "ORDER BY waitlisted_at, id LIMIT 1", (training, session)).fetchone()
        if first is None:
            return []
        taken = db.execute("UPDATE prescription_sessions SET accepted = accepted + 1 WHERE training = ? AND "
                           "session = ? AND (places IS NULL OR accepted < places)", (training, session)).rowcount
        if taken != 1:
            return []
        self._set_state(db, first, "accepted", at, None)
        db.execute("INSERT INTO prescription_events VALUES (?, ?, 'accepted', 'system', NULL, ?)",
                   (first["id"], at, f"place freed by {freed_by}: first on the waiting list"))
        return [(first["id"], "accepted")]

    def erase_seeker(self, seeker: str, at: str | None = None) -> list[str]:
        """Delete every pre-registration of ``seeker`` with its timeline and idempotency records, in
        one transaction; tallies fall with them, and each accepted place freed goes to the first
        waitlisted person of its session. Returns the erased ids."""
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM prescriptions WHERE seeker = ?", (seeker,)).fetchall()
            self._erase(db, rows, at or utc_now())
        return [r["id"] for r in rows]

    def purge(self, before: str) -> list[str]:
        """Delete the pre-registrations submitted before ``before`` (ISO date) that are over
        (refused, withdrawn, completed, abandoned, employed-*), as :meth:`erase_seeker` does: the
        retention rule (five years kept). Open ones stay. Returns the deleted ids."""
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM prescriptions WHERE submitted_at < ? AND state IN ('refused', "
                              "'withdrawn', 'completed', 'abandoned', 'employed-target', 'employed-other')",
                              (before,)).fetchall()
            self._erase(db, rows, utc_now())
        return [r["id"] for r in rows]

    def _erase(self, db: sqlite3.Connection, rows: list, at: str) -> None:
        for row in rows:
            self._tally(db, dict(row), -1)
            self._exit(db, row["exited_at"], six_month_outcome(row), -1)
            db.execute("UPDATE prescription_sessions SET submitted = max(submitted - 1, 0) WHERE training = ? "
                       "AND session = ?", (row["training"], row["session"]))
            if row["answered_at"] is not None:
                days = _days_between(row["submitted_at"], row["answered_at"])
                db.execute("UPDATE prescription_answer_days SET n = n - 1 WHERE days = ?", (days,))
            db.execute("DELETE FROM prescriptions WHERE id = ?", (row["id"],))
            db.execute("DELETE FROM prescription_events WHERE prescription = ?", (row["id"],))
            db.execute("DELETE FROM prescription_idempotency WHERE prescription = ?", (row["id"],))
        for row in rows:
            if row["state"] in ("accepted", "entered"):
                self._free_place(db, row["training"], row["session"], at, "an erased pre-registration")
        db.execute("DELETE FROM prescription_tallies WHERE n <= 0")
        db.execute("DELETE FROM prescription_answer_days WHERE n <= 0")
        db.execute("DELETE FROM prescription_exits WHERE n <= 0")

    # ---- aggregates (funders) ------------------------------------------------------------------
    def tallies(self, year: int | None = None) -> dict[str, list[tuple[str, int, int]]]:
        """Per dimension (``prescriber_type``, ``basin``, ``occupation``): [(value, pre-registrations,
        of which in tension)], most first then by value; of one year or all."""
        where, args = ("WHERE year = ? ", (year,)) if year is not None else ("", ())
        with self._lock:
            rows = self._db.execute(f"SELECT dim, value, sum(n), sum(in_tension) FROM prescription_tallies {where}"
                                    "GROUP BY dim, value HAVING sum(n) > 0 ORDER BY dim, 3 DESC, value", args).fetchall()
        out: dict[str, list[tuple[str, int, int]]] = {dim: [] for dim, _ in DIMENSIONS}
        for dim, value, n, tension in rows:
            out[dim].append((value, int(n), int(tension)))
        return out

    def tallies_by_year(self) -> dict[str, dict[str, dict[int, tuple[int, int]]]]:
        """Per dimension, per value, per year: (pre-registrations, of which in tension); every year
        kept (the funders' statistical secret protects every year and all years together)."""
        with self._lock:
            rows = self._db.execute("SELECT dim, value, year, n, in_tension FROM prescription_tallies "
                                    "WHERE n > 0").fetchall()
        out: dict[str, dict[str, dict[int, tuple[int, int]]]] = {dim: {} for dim, _ in DIMENSIONS}
        for dim, value, year, n, tension in rows:
            out.setdefault(dim, {}).setdefault(value, {})[int(year)] = (int(n), int(tension))
        return out

    def answer_days(self) -> list[tuple[int, int]]:
        with self._lock:
            return [tuple(r) for r in self._db.execute("SELECT days, n FROM prescription_answer_days ORDER BY days")]

    def sessions_all(self) -> list[tuple]:
        """Every session with pre-registrations, by training then session: (training, session, basin,
        places, submitted, accepted) tuples (the funders' dashboard hides small counts before it
        orders and pages them, so that neither the order nor a page leaks one)."""
        with self._lock:
            cursor = self._db.cursor()
            cursor.row_factory = None
            return cursor.execute("SELECT training, session, basin, places, submitted, accepted "
                                  "FROM prescription_sessions ORDER BY training, session").fetchall()

    def version(self) -> tuple[int, int]:
        """Changes to the tables since: (commits by other connections, rows changed by this one);
        equal versions, equal figures."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0], self._db.total_changes

    def outcomes_at_six_months(self, today: date) -> dict[str, int]:
        """Pre-registrations whose training ended (completed or abandoned) at least six months
        (183 days) before ``today``, by what was recorded within 183 days of that end:
        ``employed-target``, ``employed-other``, ``none`` (from the exits tally: one row per day)."""
        cutoff = (today - timedelta(days=SIX_MONTHS_DAYS)).isoformat()
        with self._lock:
            rows = self._db.execute("SELECT outcome, sum(n) FROM prescription_exits WHERE exit_day <= ? GROUP BY 1",
                                    (cutoff,)).fetchall()
        out = {"employed-target": 0, "employed-other": 0, "none": 0}
        out.update({r[0]: int(r[1]) for r in rows})
        return out

    def rebuild(self) -> None:
        """Recompute the tallies, the answer-days histogram, the exits tally and the per-session
        counts from the rows, in one transaction (after rows were written directly, as the
        benchmark does with ``executemany``)."""
        with self.transaction() as db:
            self._rebuild(db)

    @staticmethod
    def _rebuild(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM prescription_tallies")
        for dim, column in DIMENSIONS:
            db.execute(f"INSERT INTO prescription_tallies SELECT year, '{dim}', {column}, count(*), sum(in_tension) "
                       "FROM prescriptions GROUP BY 1, 3")
        db.execute("DELETE FROM prescription_exits")
        db.execute("INSERT INTO prescription_exits SELECT substr(exited_at, 1, 10), CASE WHEN state IN "
                   "('employed-target', 'employed-other') AND julianday(substr(outcome_at, 1, 10)) - "
                   f"julianday(substr(exited_at, 1, 10)) <= {SIX_MONTHS_DAYS} THEN state ELSE 'none' END, count(*) "
                   "FROM prescriptions WHERE exited_at IS NOT NULL GROUP BY 1, 2")
        db.execute("DELETE FROM prescription_answer_days")
        db.execute("INSERT INTO prescription_answer_days SELECT max(0, CAST(julianday(substr(answered_at, 1, 10)) - "
                   "julianday(substr(submitted_at, 1, 10)) AS INTEGER)), count(*) FROM prescriptions WHERE answered_at IS NOT NULL "
                   "GROUP BY 1")
        db.execute("INSERT INTO prescription_sessions (training, session, organisation, basin, places, submitted, "
                   "accepted) SELECT training, session, max(organisation), max(basin), NULL, count(*), "
                   "sum(state IN ('accepted', 'entered', 'completed', 'abandoned', 'employed-target', "
                   "'employed-other')) FROM prescriptions GROUP BY 1, 2 ON CONFLICT (training, session) DO UPDATE SET "
                   "submitted = excluded.submitted, accepted = excluded.accepted")


def dumps_contact(contact: dict | None) -> str | None:
    return json.dumps(contact, ensure_ascii=False) if contact else None
