"""The embedded database: job seekers and job offers in SQLite (WAL mode, one transaction per write).

Durability: ``journal_mode=WAL`` and ``synchronous=FULL``; a write method returns only after its
transaction has committed, so whatever it acknowledged survives ``kill -9`` (and a power cut) and
the file is never left half-written (tests/integration/test_store_durability.py kills a writer).

Every committed write takes the next value of a change sequence (``meta.seq``): rows carry the
``seq`` of their last change and deletions leave a row in ``deleted``. The pool index follows the
store with :meth:`Store.changes_since`, so writes from another process (``passerelles ingest``
while the server runs) reach the server's index too, without a rebuild.

Offer ids are per employer: an offer's key is ``(employer, id)`` (``UNIQUE (employer, id)``; an
offer without employer is stored with ``employer = ''`` and read back as None), so two employers
may both hold their own ``REF-001`` and one never meets the other's id. Methods that address one
offer take ``employer``: an employer id (or None: the offer without employer) is that exact key;
:data:`ANY_EMPLOYER` (the default) is whichever employer holds the id, and raises
:class:`Ambiguous` when several do (for counsellors and administrators, who see every employer's
offers). Databases made before (schema 1, ``id UNIQUE``) are migrated when opened
(:func:`migrate_offers`, the pattern of ``keys.migrate_keys``: the table copied into the new shape
in one transaction, keys kept).

Columns holding lists (skills, past occupations, must-have and desired skills) are JSON arrays of
codes. Records come in already validated (``api.services.pool_service`` checks codes against the referential);
the store checks only shape and uniqueness.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import polars as pl

from api.storage.sqlite import connect, immediate, utc_now as _now

SCHEMA_VERSION = 2
"""1: offer ids unique across employers; 2: unique per employer (``UNIQUE (employer, id)``)."""


class _AnyEmployer:
    def __repr__(self) -> str:
        return "ANY_EMPLOYER"


#: ``employer=`` of the methods addressing one offer: whichever employer holds the id (see the module docstring).
ANY_EMPLOYER = _AnyEmployer()

SEEKER_COLUMNS: tuple[str, ...] = ("id", "skills", "skills_text", "occupation", "past_occupations", "basin",
                                   "lat", "lon", "radius_km", "consent")
OFFER_COLUMNS: tuple[str, ...] = ("id", "employer", "occupation", "must", "desired", "basin", "lat", "lon",
                                  "contract", "opening")
LIST_COLUMNS = {"skills", "skills_text", "past_occupations", "must", "desired"}
COLUMNS = {"seekers": SEEKER_COLUMNS, "offers": OFFER_COLUMNS}

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seekers (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    skills TEXT NOT NULL DEFAULT '[]',
    skills_text TEXT NOT NULL DEFAULT '[]',
    occupation TEXT,
    past_occupations TEXT NOT NULL DEFAULT '[]',
    basin TEXT,
    lat REAL, lon REAL, radius_km REAL,
    consent INTEGER NOT NULL DEFAULT 0 CHECK (consent IN (0, 1)),
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    referentiel TEXT
);
CREATE INDEX IF NOT EXISTS seekers_seq ON seekers (seq);
CREATE TABLE IF NOT EXISTS offers (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    employer TEXT NOT NULL DEFAULT '',
    occupation TEXT NOT NULL,
    must TEXT NOT NULL DEFAULT '[]',
    desired TEXT NOT NULL DEFAULT '[]',
    basin TEXT,
    lat REAL, lon REAL,
    contract TEXT,
    opening TEXT,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    referentiel TEXT,
    UNIQUE (employer, id)
);
CREATE INDEX IF NOT EXISTS offers_seq ON offers (seq);
CREATE TABLE IF NOT EXISTS deleted (kind TEXT NOT NULL, key INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deleted_seq ON deleted (seq);
CREATE TABLE IF NOT EXISTS trainings (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    pos INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    referentiel TEXT
);
CREATE TABLE IF NOT EXISTS training_sessions (
    id TEXT PRIMARY KEY,
    training TEXT NOT NULL,
    record TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS training_sessions_training ON training_sessions (training);
CREATE TABLE IF NOT EXISTS ingests (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT, rows_taken INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL, at TEXT NOT NULL
);
"""


def _move_sessions(db, old: str, new: str | None, seq: int, now: str) -> None:
    """A training's stored sessions follow its id (``new``) or go with it (None)."""
    if new is None:
        db.execute("DELETE FROM training_sessions WHERE training = ?", (old,))
        return
    for sid, record in db.execute("SELECT id, record FROM training_sessions WHERE training = ?", (old,)).fetchall():
        data = json.loads(record)
        data["training"] = new
        db.execute("UPDATE training_sessions SET training = ?, record = ?, seq = ?, updated_at = ? WHERE id = ?",
                   (new, json.dumps(data, ensure_ascii=False), seq, now, sid))


class StoreError(Exception):
    """A write the store refuses (duplicate id in one batch, missing id, unknown kind)."""


class Conflict(StoreError):
    """Create of an id that already exists."""


class NotOwner(StoreError):
    """A write of an offer in the name of another employer than the one writing."""


class Ambiguous(StoreError):
    """An offer addressed by id alone (:data:`ANY_EMPLOYER`) that several employers hold:
    ``employers`` lists them (None: the offer without employer), so the caller can name one."""

    def __init__(self, id: str, employers: list[str | None]) -> None:
        self.id, self.employers = id, employers
        super().__init__(f"{len(employers)} employers have an offer {id!r}: name the employer")


#: The columns that key a record: an offer is ``(employer, id)``, a seeker ``id``.
KEY_COLUMNS = {"seekers": ("id",), "offers": ("employer", "id")}


def migrate_offers(db: sqlite3.Connection) -> None:
    """Bring an ``offers`` table of schema 1 (``id UNIQUE``: one id namespace for every employer) to
    schema 2 (``UNIQUE (employer, id)``, ``employer`` NOT NULL with '' for none). SQLite cannot change
    a constraint in place: the table is copied into the new shape (keys, sequences and times kept, so
    the pool index and the ``deleted`` rows stay valid). Runs inside the caller's write transaction
    (the store's opening one), so two processes opening an old database migrate it once."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'offers'").fetchone()
    if row is None or "UNIQUE (employer, id)" in row[0]:
        return
    create = next(statement for statement in DDL.split(";") if "TABLE IF NOT EXISTS offers" in statement)
    columns = ("key",) + OFFER_COLUMNS + ("seq", "updated_at", "referentiel")
    copied = ", ".join("coalesce(employer, '')" if c == "employer" else c for c in columns)
    db.execute("ALTER TABLE offers RENAME TO offers_v1")
    db.execute(create.strip())
    db.execute(f"INSERT INTO offers ({', '.join(columns)}) SELECT {copied} FROM offers_v1")
    db.execute("DROP TABLE offers_v1")  # its index offers_seq goes with it
    db.execute("CREATE INDEX IF NOT EXISTS offers_seq ON offers (seq)")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))


def _where(kind: str, id: str, employer) -> tuple[str, tuple]:
    """The WHERE clause (and its arguments) of one record: an offer by ``(employer, id)``, or by id
    alone for :data:`ANY_EMPLOYER` (the caller then checks there is one row)."""
    if kind == "offers" and employer is not ANY_EMPLOYER:
        return "employer = ? AND id = ?", (employer or "", id)
    if employer is not ANY_EMPLOYER:
        raise StoreError(f"only offers are kept per employer, not {kind}")
    return "id = ?", (id,)


def _find(db: sqlite3.Connection, kind: str, id: str, employer, columns: str = "key"):
    """The one row of ``kind`` at ``(employer, id)`` (``columns`` of it), or None; :class:`Ambiguous`
    when ``employer`` is :data:`ANY_EMPLOYER` and several employers hold the id."""
    where, args = _where(kind, id, employer)
    extra = ", employer" if kind == "offers" else ""
    rows = db.execute(f"SELECT {columns}{extra} FROM {kind} WHERE {where}", args).fetchall()
    if len(rows) > 1:
        raise Ambiguous(id, sorted((r[-1] or None for r in rows), key=lambda e: (e is not None, e or "")))
    return rows[0] if rows else None


@dataclass(frozen=True)
class Changes:
    """What changed after a sequence number: upserted rows (a polars frame with ``key``) and deleted keys."""

    seq: int
    rows: pl.DataFrame
    deleted: list[int]


def _kind(kind: str) -> str:
    if kind not in COLUMNS:
        raise StoreError(f"unknown kind {kind!r}: expected 'seekers' or 'offers'")
    return kind


def encode(record: dict, kind: str) -> tuple:
    """A record (dict of column -> value, lists as Python lists) as a row tuple of ``COLUMNS[kind]``."""
    out = []
    for column in COLUMNS[kind]:
        value = record.get(column)
        if column in LIST_COLUMNS:
            value = json.dumps(list(value or ()), ensure_ascii=False)
        elif column == "employer":
            value = value or ""
        elif column == "consent":
            value = int(bool(value))
        out.append(value)
    return tuple(out)


def decode(row: dict) -> dict:
    """A stored row as a record (JSON lists decoded, consent as bool)."""
    out = dict(row)
    for column in LIST_COLUMNS & set(out):
        out[column] = json.loads(out[column]) if out[column] is not None else []
    if "consent" in out:
        out["consent"] = bool(out["consent"])
    if "employer" in out:
        out["employer"] = out["employer"] or None
    return out


class Store:
    """One SQLite database file. Thread-safe (one connection behind a lock); open it once per process."""

    def __init__(self, path: str | Path, referentiel: str | None = None) -> None:
        self.path = Path(path)
        self.referentiel = referentiel
        """Fingerprint of the referential the written codes come from, stamped on every row written
        (column ``referentiel``; ``passerelles referentiel upgrade`` migrates rows to a new one)."""
        self._lock = threading.RLock()
        self._db = connect(path, synchronous="FULL")
        self._db.row_factory = sqlite3.Row
        # a 64 MiB page cache: a bulk upsert of a million rows keeps the id index in memory instead of
        # re-reading its pages (no effect on durability: commits still wait for the WAL's fsync)
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self.transaction() as db:
            for statement in DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('seq', '0')")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('pseudonym_secret', ?)", (secrets.token_hex(32),))
            for kind in COLUMNS:  # databases created before the column existed
                if "referentiel" not in {r[1] for r in db.execute(f"PRAGMA table_info({kind})")}:
                    db.execute(f"ALTER TABLE {kind} ADD COLUMN referentiel TEXT")
            migrate_offers(db)  # schema 1 -> 2: offer ids per employer
        self._secret = bytes.fromhex(self._meta("pseudonym_secret"))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- transactions -----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all or nothing."""
        with self._lock, immediate(self._db) as db:
            yield db

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else ""

    def _next_seq(self, db: sqlite3.Connection) -> int:
        seq = int(db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0]) + 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
        return seq

    @property
    def seq(self) -> int:
        """The sequence number of the last committed change."""
        with self._lock:
            return int(self._meta("seq"))

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits (cheap to poll)."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    # ---- single records ---------------------------------------------------------------------
    def create(self, kind: str, record: dict) -> int:
        """Insert a new record; :class:`Conflict` if its key (an offer's: employer and id) exists.
        Returns its key."""
        kind = _kind(kind)
        with self.transaction() as db:
            if _find(db, kind, record.get("id"), _record_employer(kind, record)):
                raise Conflict(f"{kind[:-1]} {record.get('id')!r} already exists")
            return self._upsert(db, kind, [encode(record, kind)], self._next_seq(db))[0]

    def put(self, kind: str, record: dict, owner: str | None = None) -> tuple[int, bool]:
        """Insert or replace a record by its key (an offer's: ``(employer, id)``). Returns (key, created).

        ``owner`` (offers): the employer writing, which must be the record's employer
        (:class:`NotOwner` otherwise). Its write can only create or replace an offer of its own: the
        key holds the employer, so another employer's offer of the same id is another row, never
        touched nor revealed. Two writers racing on a new key: one creates it, the other replaces it."""
        kind = _kind(kind)
        if owner is not None and kind != "offers":
            raise StoreError("only offers have an owner")
        if owner is not None and record.get("employer") != owner:
            raise NotOwner(f"an employer writes offers in its own name ({owner!r}), not {record.get('employer')!r}")
        with self.transaction() as db:
            existed = _find(db, kind, record.get("id"), _record_employer(kind, record)) is not None
            keys = self._upsert(db, kind, [encode(record, kind)], self._next_seq(db))
            return keys[0], not existed

    def delete(self, kind: str, id: str, owner: str | None = None, employer=ANY_EMPLOYER) -> int | None:
        """Delete by id (an offer: of ``employer``, see the module docstring); returns the key it had,
        or None when absent. ``owner`` (offers): the employer deleting, which addresses only its own
        offers (``employer = owner``)."""
        kind = _kind(kind)
        if owner is not None:
            employer = owner
        with self.transaction() as db:
            row = _find(db, kind, id, employer)
            if row is None:
                return None
            seq = self._next_seq(db)
            db.execute(f"DELETE FROM {kind} WHERE key = ?", (row[0],))
            db.execute("INSERT INTO deleted VALUES (?, ?, ?)", (kind, row[0], seq))
            return int(row[0])

    def get(self, kind: str, id: str, employer=ANY_EMPLOYER) -> dict | None:
        """The record of ``id`` (an offer: of ``employer``, see the module docstring), or None."""
        kind = _kind(kind)
        with self._lock:
            row = _find(self._db, kind, id, employer, columns="*")  # one indexed read
        return decode(dict(row)) if row else None

    def by_keys(self, kind: str, keys: Sequence[int]) -> dict[int, dict]:
        """Records by key (for the few keys of a top-k)."""
        kind = _kind(kind)
        keys = [int(k) for k in keys]
        if not keys:
            return {}
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM {kind} WHERE key IN ({','.join('?' * len(keys))})", keys).fetchall()
        return {int(r["key"]): decode(dict(r)) for r in rows}

    def key_of(self, kind: str, id: str, employer=ANY_EMPLOYER) -> int | None:
        kind = _kind(kind)
        with self._lock:
            row = _find(self._db, kind, id, employer)
        return int(row[0]) if row else None

    def offer_employers(self, id: str) -> list[str | None]:
        """The employers holding an offer ``id`` (None: the offer without employer), sorted."""
        with self._lock:
            rows = self._db.execute("SELECT employer FROM offers WHERE id = ? ORDER BY employer", (id,)).fetchall()
        return [r[0] or None for r in rows]

    def count(self, kind: str) -> int:
        kind = _kind(kind)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM {kind}").fetchone()[0])

    # ---- bulk ------------------------------------------------------------------------------
    def upsert_many(self, kind: str, records: pl.DataFrame, source: str | None = None, rejected: int = 0
                    ) -> list[int]:
        """Insert or replace many records in ONE transaction (all or nothing). Returns their keys, in order.

        ``records``: a polars frame with the columns of ``COLUMNS[kind]`` (lists as list columns or
        JSON strings); ids must be unique within the frame.
        """
        return self.upsert_many_seq(kind, records, source, rejected)[0]

    def upsert_many_seq(self, kind: str, records: pl.DataFrame, source: str | None = None, rejected: int = 0
                        ) -> tuple[list[int], int]:
        """:meth:`upsert_many`, also returning the change sequence its transaction took (so a caller
        that saw every change up to ``seq - 1`` knows these rows are the only ones since)."""
        kind = _kind(kind)
        frame = _as_rows_frame(records, kind)
        if frame["id"].null_count():
            raise StoreError("every record needs an id")
        key = list(KEY_COLUMNS[kind])
        if frame.select(key).n_unique() != frame.height:
            dup = frame.filter(pl.struct(key).is_duplicated())["id"][0]
            raise StoreError(f"id {dup!r} appears more than once in the batch"
                             + (" (for one employer)" if kind == "offers" else ""))
        rows = frame.select(COLUMNS[kind]).rows()
        with self.transaction() as db:
            seq = self._next_seq(db)
            keys = self._upsert(db, kind, rows, seq)
            db.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?)", (seq, kind, source, len(rows), rejected, _now()))
        return keys, seq

    def _upsert(self, db: sqlite3.Connection, kind: str, rows: list[tuple], seq: int) -> list[int]:
        """Insert or update ``rows`` (tuples of ``COLUMNS[kind]``; a conflict on the key updates)."""
        columns = COLUMNS[kind]
        key = KEY_COLUMNS[kind]
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        now = _now()
        db.executemany(
            f"INSERT INTO {kind} ({names}, seq, updated_at, referentiel) VALUES ({marks}, {seq}, '{now}', ?) "
            f"ON CONFLICT({', '.join(key)}) DO UPDATE SET {updates}, seq = excluded.seq, "
            "updated_at = excluded.updated_at, referentiel = excluded.referentiel",
            [tuple(r) + (self.referentiel,) for r in rows])
        at = [columns.index(c) for c in key]
        if len(rows) == 1:
            where = " AND ".join(f"{c} = ?" for c in key)
            return [int(db.execute(f"SELECT key FROM {kind} WHERE {where}",
                                   tuple(rows[0][i] for i in at)).fetchone()[0])]
        found = {tuple(r[:-1]): r[-1] for r in db.execute(
            f"SELECT {', '.join(key)}, key FROM {kind} WHERE seq = ?", (seq,)).fetchall()}
        return [int(found[tuple(r[i] for i in at)]) for r in rows]

    # ---- reading for the index -----------------------------------------------------------------
    def frame(self, kind: str, since: int = 0) -> pl.DataFrame:
        """Every row changed after ``since`` (all rows when 0) as a polars frame with ``key`` (lists decoded)."""
        kind = _kind(kind)
        columns = ("key",) + COLUMNS[kind]
        with self._lock:
            cursor = self._db.execute(f"SELECT {', '.join(columns)} FROM {kind} WHERE seq > ? ORDER BY key", (since,))
            rows = cursor.fetchall()
        schema = {"key": pl.Int64, **{c: pl.String for c in COLUMNS[kind]}}
        for c in ("lat", "lon", "radius_km"):
            if c in schema:
                schema[c] = pl.Float64
        if "consent" in schema:
            schema["consent"] = pl.Int64
        frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
        if kind == "offers":  # stored '' = no employer
            frame = frame.with_columns(pl.col("employer").replace("", None))
        return frame.with_columns([pl.col(c).str.json_decode(pl.List(pl.String)) for c in COLUMNS[kind]
                                   if c in LIST_COLUMNS])

    def changes_since(self, kind: str, seq: int) -> Changes:
        """Rows upserted and keys deleted after ``seq`` (what the index must apply to catch up)."""
        kind = _kind(kind)
        with self._lock:
            now = int(self._meta("seq"))
            deleted = [int(r[0]) for r in self._db.execute(
                "SELECT key FROM deleted WHERE kind = ? AND seq > ? AND seq <= ?", (kind, seq, now))]
            rows = self.frame(kind, since=seq) if now > seq else self.frame(kind, since=now)
        return Changes(seq=now, rows=rows, deleted=deleted)

    # ---- ingested trainings ---------------------------------------------------------------------
    def save_trainings(self, records: Sequence[dict], *, replace: bool = False, source: str | None = None,
                       sessions: Sequence[dict] | None = None) -> int:
        """Persist validated trainings (``POST /trainings:ingest``) in ONE transaction; returns its seq.

        ``records``: JSON-ready dicts with an ``id`` (a validated catalogue's rows), or ``(id, JSON
        text)`` pairs already encoded. An equal id replaces the stored one, and its stored sessions.
        ``sessions``: JSON-ready dicts with an ``id`` and the ``training`` they belong to (one of
        ``records``), or ``(id, training, JSON text)`` triples. ``replace``: the stored
        trainings become exactly these and the default catalogue is no longer served (meta
        ``trainings_mode`` = ``replace``)."""
        return self.save_training_batches([(records, sessions or [])], replace=replace, source=source)

    def save_training_batches(self, batches: Iterable[tuple[Sequence, Sequence]], *, replace: bool = False,
                              source: str | None = None) -> int:
        """:meth:`save_trainings` of trainings given in batches (``(records, sessions)`` pairs, each as
        ``save_trainings`` takes them), all in ONE transaction: the batches are consumed (and may be
        produced, e.g. by a streaming LHEO import) while it is open, so only one batch's records are
        in memory at a time. An exception raised by the iterable rolls everything back."""
        with self._lock:
            # a small page cache for this write: its rows are appended (rowid order) and its id indexes
            # are small, while the 64 MiB cache, once filled by the offer's pages, would stay allocated
            self._db.execute("PRAGMA cache_size=-8192")
            try:
                return self._save_training_batches(batches, replace=replace, source=source)
            finally:
                self._db.execute("PRAGMA cache_size=-65536")
                self._db.execute("PRAGMA shrink_memory")  # the pages this write cached are given back

    def _save_training_batches(self, batches, *, replace: bool, source: str | None) -> int:
        seen: set[str] = set()
        seen_sessions: set[str] = set()
        total = 0
        with self.transaction() as db:
            seq = self._next_seq(db)
            now = _now()
            if replace:
                db.execute("DELETE FROM trainings")
                db.execute("DELETE FROM training_sessions")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('trainings_mode', 'replace')")
            for records, sessions in batches:
                rows = [(r.get("id"), json.dumps(r, ensure_ascii=False)) if isinstance(r, dict) else (r[0], r[1])
                        for r in records]  # dicts, or (id, JSON text) already encoded (a large LHEO offer)
                ids = [i for i, _ in rows]
                if any(i is None for i in ids):
                    raise StoreError("every training needs an id")
                if len(set(ids)) != len(ids) or not seen.isdisjoint(ids):
                    raise StoreError("a training id appears more than once in the batch")
                seen.update(ids)
                session_rows = [(x.get("id"), x.get("training"), json.dumps(x, ensure_ascii=False))
                                if isinstance(x, dict) else (x[0], x[1], x[2]) for x in sessions or []]
                batch = set(ids)
                if any(sid is None or training not in batch for sid, training, _ in session_rows):
                    raise StoreError("every session needs an id and a training of the batch")
                sids = [sid for sid, _, _ in session_rows]
                if len(set(sids)) != len(sids) or not seen_sessions.isdisjoint(sids):
                    raise StoreError("a session id appears more than once in the batch")
                seen_sessions.update(sids)
                if not replace:
                    db.executemany("DELETE FROM training_sessions WHERE training = ?", [(i,) for i in ids])
                db.executemany(
                    "INSERT INTO training_sessions (id, training, record, seq, updated_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET training = excluded.training, record = excluded.record, "
                    "seq = excluded.seq, updated_at = excluded.updated_at",
                    [(sid, training, text, seq, now) for sid, training, text in session_rows])
                db.executemany(
                    "INSERT INTO trainings (id, record, pos, seq, updated_at, referentiel) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET record = excluded.record, pos = excluded.pos, seq = excluded.seq, "
                    "updated_at = excluded.updated_at, referentiel = excluded.referentiel",
                    [(i, text, total + pos, seq, now, self.referentiel) for pos, (i, text) in enumerate(rows)])
                total += len(rows)
            db.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?)",
                       (seq, "trainings" + (" (replace)" if replace else ""), source, total, 0, now))
        return seq

    def trainings_seq(self) -> int:
        """Sequence number of the last trainings ingest (0 if none): another worker's ingest moves it."""
        with self._lock:
            row = self._db.execute("SELECT max(seq) FROM ingests WHERE kind LIKE 'trainings%'").fetchone()
        return int(row[0] or 0)

    def trainings(self) -> tuple[bool, list[dict]]:
        """(replaced, stored trainings in ingest order): ``replaced`` when the last replace made the stored
        trainings the whole catalogue (else they add to the default one)."""
        with self._lock:
            replaced = self._meta("trainings_mode") == "replace"
            rows = self._db.execute("SELECT record FROM trainings ORDER BY seq, pos").fetchall()
        return replaced, [json.loads(r[0]) for r in rows]

    def training_ids(self) -> tuple[bool, list[str]]:
        """(replaced, the stored trainings' ids): as :meth:`trainings` without reading the records."""
        with self._lock:
            replaced = self._meta("trainings_mode") == "replace"
            return replaced, [r[0] for r in self._db.execute("SELECT id FROM trainings")]

    def training_texts(self) -> tuple[bool, list[str]]:
        """``trainings()`` with each record as its stored JSON text (no Python object per field)."""
        replaced, batches = self.training_text_batches()
        return replaced, [t for batch in batches for t in batch]

    def training_text_batches(self, size: int = 1_000) -> tuple[bool, Iterator[list[str]]]:
        """(replaced, the stored trainings' JSON texts in ingest order, ``size`` at a time). The
        texts are read in one read transaction; the iterator holds the store's lock until it is
        exhausted or closed: consume it at once."""
        with self._lock:
            replaced = self._meta("trainings_mode") == "replace"
        return replaced, self._batches("SELECT record FROM trainings ORDER BY seq, pos", size)

    def training_texts_of(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored JSON texts of the trainings ``ids`` (those stored), by id, read through the
        primary key (500 ids a query): what one page of trainings costs, not the whole table."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        with self._lock:
            for lo in range(0, len(wanted), 500):
                part = wanted[lo:lo + 500]
                marks = ",".join("?" * len(part))
                out.update(self._db.execute(f"SELECT id, record FROM trainings WHERE id IN ({marks})", part))
        return out

    def training_session_texts(self) -> list[str]:
        """Every stored session as its JSON text, in the order they were stored."""
        return [t for batch in self.training_session_text_batches() for t in batch]

    def training_session_text_batches(self, size: int = 20_000) -> Iterator[list[str]]:
        """The stored sessions' JSON texts in the order they were stored, ``size`` at a time (see
        :meth:`training_text_batches`)."""
        return self._batches("SELECT record FROM training_sessions ORDER BY rowid", size)

    def _batches(self, sql: str, size: int) -> Iterator[list[str]]:
        with self._lock:
            # a scan reads each page once: a small page cache, given back after (the 64 MiB one would
            # fill with the records' pages and stay allocated)
            self._db.execute("PRAGMA cache_size=-8192")
            self._db.execute("BEGIN")  # one snapshot for every batch
            try:
                cursor = self._db.execute(sql)
                while True:
                    rows = cursor.fetchmany(size)
                    if not rows:
                        break
                    yield [r[0] for r in rows]
            finally:
                self._db.execute("COMMIT")
                self._db.execute("PRAGMA cache_size=-65536")
                self._db.execute("PRAGMA shrink_memory")

    def training_sessions(self, trainings: Sequence[str] | None = None) -> list[dict]:
        """Stored sessions (of ``trainings`` only, when given), in the order they were stored."""
        with self._lock:
            rows = self._db.execute("SELECT training, record FROM training_sessions ORDER BY rowid").fetchall()
        wanted = None if trainings is None else set(trainings)
        return [json.loads(r[1]) for r in rows if wanted is None or r[0] in wanted]

    # ---- ids (``passerelles admin ids``) ------------------------------------------------------------
    def ids(self, kind: str) -> list[str]:
        """Every stored id of ``kind`` (seekers, offers, trainings), in storage order."""
        if kind != "trainings":
            kind = _kind(kind)
        with self._lock:
            order = "pos" if kind == "trainings" else "key"
            return [r[0] for r in self._db.execute(f"SELECT id FROM {kind} ORDER BY {order}")]

    def fix_ids(self, kind: str, changes: dict[str, str | None]) -> int:
        """Rename (``old -> new``) or erase (``old -> None``) records by id, in ONE transaction; returns
        the change sequence taken. Seekers and offers keep their key and take the new sequence (the
        pool index follows, as for any write); erased ones leave a ``deleted`` row. A ``new`` id that
        exists already raises :class:`Conflict` (nothing is changed)."""
        if kind != "trainings":
            kind = _kind(kind)
        with self.transaction() as db:
            seq = self._next_seq(db)
            now = _now()
            for old, new in changes.items():
                clash = (("SELECT 1 FROM offers WHERE id = ? AND employer IN (SELECT employer FROM offers "
                          "WHERE id = ?)", (new, old)) if kind == "offers"  # only an employer's own ids clash
                         else (f"SELECT 1 FROM {kind} WHERE id = ?", (new,)))
                if new is not None and new != old and db.execute(*clash).fetchone():
                    raise Conflict(f"{kind[:-1]} {new!r} already exists")
                if kind == "trainings":
                    _move_sessions(db, old, new, seq, now)
                    if new is None:
                        db.execute("DELETE FROM trainings WHERE id = ?", (old,))
                        continue
                    row = db.execute("SELECT record FROM trainings WHERE id = ?", (old,)).fetchone()
                    if row is None:
                        continue
                    record = json.loads(row[0])
                    record["id"] = new
                    db.execute("UPDATE trainings SET id = ?, record = ?, seq = ?, updated_at = ? WHERE id = ?",
                               (new, json.dumps(record, ensure_ascii=False), seq, now, old))
                    continue
                # every record of this id (offers: one per employer that holds it)
                for (found,) in db.execute(f"SELECT key FROM {kind} WHERE id = ?", (old,)).fetchall():
                    if new is None:
                        db.execute(f"DELETE FROM {kind} WHERE key = ?", (found,))
                        db.execute("INSERT INTO deleted VALUES (?, ?, ?)", (kind, found, seq))
                    else:
                        db.execute(f"UPDATE {kind} SET id = ?, seq = ?, updated_at = ? WHERE key = ?",
                                   (new, seq, now, found))
            db.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?)",
                       (seq, kind + " (ids fixed)", "passerelles admin ids fix", len(changes), 0, now))
        return seq

    # ---- pseudonyms ------------------------------------------------------------------------
    def pseudonym(self, id: str) -> str:
        """A stable pseudonymous id (HMAC-SHA256 under this database's secret): employers never see ids."""
        return "c-" + hmac.new(self._secret, id.encode(), "sha256").hexdigest()[:16]

    def integrity(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _record_employer(kind: str, record: dict):
    """The employer part of a record's key (offers), :data:`ANY_EMPLOYER` for seekers."""
    return (record.get("employer") or "") if kind == "offers" else ANY_EMPLOYER


def _as_rows_frame(records: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Columns of ``kind`` in order; list columns as JSON text; consent as 0/1."""
    exprs = []
    for column in COLUMNS[kind]:
        if column not in records.columns:
            default = "[]" if column in LIST_COLUMNS else (0 if column == "consent" else
                                                           "" if column == "employer" else None)
            exprs.append(pl.lit(default).alias(column))
            continue
        dtype = records.schema[column]
        if column in LIST_COLUMNS and isinstance(dtype, pl.List):
            exprs.append(pl.col(column).fill_null([]).list.eval(pl.element().cast(pl.String))
                         .map_batches(_json_lists, return_dtype=pl.String).alias(column))
        elif column in LIST_COLUMNS:
            exprs.append(pl.col(column).fill_null("[]").cast(pl.String))
        elif column == "consent":
            exprs.append(pl.col(column).fill_null(False).cast(pl.Boolean).cast(pl.Int64))
        elif column == "employer":
            exprs.append(pl.col(column).cast(pl.String).fill_null(""))
        elif column in ("lat", "lon", "radius_km"):
            exprs.append(pl.col(column).cast(pl.Float64))
        else:
            exprs.append(pl.col(column).cast(pl.String))
    return records.select(exprs)


def _json_lists(series: pl.Series) -> pl.Series:
    """list[str] -> JSON array text, vectorised (polars encodes a one-field struct, the wrapper is cut)."""
    encoded = pl.DataFrame({"v": series}).select(pl.struct("v").struct.json_encode())["v"]
    return encoded.str.slice(5).str.strip_suffix("}").alias(series.name)
