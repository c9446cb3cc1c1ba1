"""The append-only audit log in SQLite (table ``audit_log``): who read or changed which personal data."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from api.storage.keys import Principal
from api.storage.locks import AUDIT_LOCK_BYTE, CROSS_PROCESS, lock_bytes, locks_path, unlock_bytes
from api.storage.sqlite import BackgroundCheckpoints, connect, utc_now as _now

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_id TEXT,
    role TEXT,
    employer TEXT,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT,
    resource_employer TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    client TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_resource ON audit_log (resource, resource_id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


_ACTIONS = {"GET": "read", "HEAD": "read", "POST": "create", "PUT": "replace", "PATCH": "change",
            "DELETE": "delete"}

#: One audit row; its values come from :func:`audit_row`. Also run by a store inside its own write
#: transaction (a pre-registration and its audit row committed together: one commit, not two).
AUDIT_INSERT = ("INSERT INTO audit_log (at, key_id, role, employer, action, resource, resource_id, method, path, "
                "status, client, resource_employer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def audit_row(principal: Principal, resource: str, method: str, path: str, status: int,
              resource_id: str | None = None, client: str | None = None, action: str | None = None,
              resource_employer: str | None = None) -> tuple:
    """The values of :data:`AUDIT_INSERT` for one audited call (``action``: by default from the
    method, ``ingest`` for a ``:ingest`` path; ``resource_employer``: the employer of the offer named
    by ``resource_id``, offer ids being per employer; None for other resources)."""
    action = action or ("ingest" if path.endswith(":ingest") else _ACTIONS.get(method, method.lower()))
    return (_now(), principal.key_id, principal.role, principal.employer, action, resource, resource_id, method, path,
            status, client, resource_employer)


class AuditLog:
    """Append-only log of reads and changes of personal data (table ``audit_log``; triggers refuse
    UPDATE and DELETE). One committed INSERT per audited request (WAL, synchronous=NORMAL; the WAL
    checkpointed by a background thread, not inside the INSERT that the middleware makes on the
    event loop, where SQLite's automatic checkpoint held every request of the worker).

    The workers' INSERTs take turns on an ``fcntl`` lock (one byte of ``<database>.locks``, past the
    rate buckets) before SQLite's own write lock: a worker that found the database busy would
    otherwise sleep in SQLite's busy handler (1, 2, 5, 10 ... ms), which made the p99 of audited
    reads under load ~100 ms; a kernel lock wakes the next writer as soon as the first commits. This is
    kept by hand rather than a file-lock library: it locks one byte of a file the rate limiter also
    maps (whole-file locks would make the two wait for each other). Without ``fcntl`` (Windows) the
    writers rely on SQLite's busy handler alone."""

    LOCK_BYTE = AUDIT_LOCK_BYTE

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = connect(path, synchronous="NORMAL")
        self._conn.executescript(AUDIT_DDL)
        if "resource_employer" not in {r[1] for r in self._conn.execute("PRAGMA table_info(audit_log)")}:
            try:  # a log written before offer ids were per employer: the column is added (no row changes)
                self._conn.execute("ALTER TABLE audit_log ADD COLUMN resource_employer TEXT")
            except sqlite3.OperationalError as error:  # another process added it meanwhile
                if "duplicate column" not in str(error):
                    raise
        self._checkpoints: BackgroundCheckpoints | None = None
        if str(path) != ":memory:":
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpoints = BackgroundCheckpoints(path)
        self._fd: int | None = None
        if CROSS_PROCESS:
            try:
                self._fd = os.open(locks_path(path), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # read-only folder: SQLite's busy handler alone
                self._fd = None

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        try:
            self._conn.execute("PRAGMA wal_autocheckpoint = 1000")  # the last connection's close checkpoints
        except sqlite3.ProgrammingError:  # closed already
            pass
        self._conn.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def record(self, principal: Principal, resource: str, method: str, path: str, status: int,
               resource_id: str | None = None, client: str | None = None, action: str | None = None,
               resource_employer: str | None = None) -> None:
        """Append one row. ``resource_employer``: the employer of the offer named by ``resource_id``
        (offer ids are per employer; None for other resources and the offer without employer)."""
        row = audit_row(principal, resource, method, path, status, resource_id, client, action, resource_employer)
        with self._lock:
            if self._fd is not None:
                lock_bytes(self._fd, 1, self.LOCK_BYTE)
            try:
                self._conn.execute(AUDIT_INSERT, row)
            finally:
                if self._fd is not None:
                    unlock_bytes(self._fd, 1, self.LOCK_BYTE)

    def list(self, limit: int = 100, offset: int = 0, resource: str | None = None,
             resource_id: str | None = None, key_id: str | None = None, resource_employer: str | None = None
             ) -> tuple[list[dict], int]:
        where, args = [], []
        for column, value in (("resource", resource), ("resource_id", resource_id), ("key_id", key_id),
                              ("resource_employer", resource_employer)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._conn.execute("SELECT count(*) FROM audit_log" + clause, args).fetchone()[0]
            cursor = self._conn.execute("SELECT * FROM audit_log" + clause + " ORDER BY seq LIMIT ? OFFSET ?",
                                        (*args, limit, offset))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()], total
