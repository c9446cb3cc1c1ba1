"""The one way this project opens a SQLite database: the store, the API keys and the audit log."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Literal

#: Seconds a writer waits for another connection's write lock before SQLite gives up.
BUSY_TIMEOUT_S = 30.0


def connect(path: str | Path, *, synchronous: Literal["NORMAL", "FULL"] = "FULL") -> sqlite3.Connection:
    """A connection to the database file ``path`` (its folder created; ``":memory:"`` allowed) in
    autocommit mode (``isolation_level=None``: transactions are explicit), shareable across threads
    (callers hold their own lock), in WAL mode with a 30 s busy timeout. ``synchronous``: ``FULL``
    (every commit waits for the WAL's fsync: the store, the keys) or ``NORMAL`` (the audit log:
    durable against a process crash, not a power loss)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception (all or nothing) on an
    autocommit connection of :func:`connect`: the write lock is taken first, so a read-then-write
    inside cannot be overtaken by another connection. Callers sharing ``conn`` hold their own lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds: the one clock of every stored time (records' and
    trainings' ``updated_at``, ingests, migrations, keys, the audit log)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class BackgroundCheckpoints:
    """Copies the WAL of the database file ``path`` back into it every ``every_s`` seconds, in a
    thread of its own on a connection of its own (``PRAGMA wal_checkpoint(PASSIVE)``: it never waits
    for a writer nor blocks one). A connection whose commits must stay short sets
    ``PRAGMA wal_autocheckpoint = 0`` and starts one of these: SQLite's automatic checkpoint runs
    inside the commit that crosses 1,000 WAL pages (the copy, and its fsync), a spike every few
    hundred writes for the request that made it. Two of them on one file are harmless (one finds
    the other's checkpoint running and skips its turn). ``close()`` stops the thread."""

    def __init__(self, path: str | Path, every_s: float = 1.0) -> None:
        self.path = Path(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), name=f"checkpoints:{self.path.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        conn = connect(self.path, synchronous="NORMAL")
        try:
            while not self._stop.wait(every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy or locked: the next round copies what this one could not
                    pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
