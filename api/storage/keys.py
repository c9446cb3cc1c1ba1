"""API keys in SQLite (table ``api_keys``): roles, hashed keys, the :class:`Principal` a key proves.

A key is ``psl_<id>_<secret>``: 8 hex characters of public id, then 256 random bits. Only the SHA-256
of the whole key is stored; a key is shown once, when ``passerelles keys create`` (or ``POST /keys``)
makes it. A fast hash is right here: the secret is random, not a password, so there is nothing to
brute-force.

Revocation is seen at once by every worker process: a key is cached in memory after its first
check, and the cache is trusted only while the keys' generation (``api_keys_generation``, raised
by triggers on every INSERT, UPDATE and DELETE of ``api_keys``, whoever makes it) has not moved;
otherwise the key's row is read again (one indexed lookup). The generation, not SQLite's
``PRAGMA data_version``: the keys share their database with the store, the pre-registrations and
the audit log, whose every commit moves ``data_version``, so under writes that cache never held.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from api.storage.sqlite import connect, immediate, utc_now as _now

ROLES = ("counsellor", "employer", "federation", "admin", "organisation", "funder")
#: Who a counsellor works for (``--prescriber``), counted in the funders' statistics.
PRESCRIBERS = ("france-travail", "mission-locale", "cap-emploi", "other")
KEY_PATTERN = re.compile(r"^psl_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")

KEYS_DDL = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('counsellor', 'employer', 'federation', 'admin', 'organisation', 'funder')),
    employer TEXT,
    name TEXT,
    rate_per_minute INTEGER,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    prescriber TEXT CHECK (prescriber IN ('france-travail', 'mission-locale', 'cap-emploi', 'other')),
    organisation TEXT,
    CHECK ((role = 'employer') = (employer IS NOT NULL)),
    CHECK ((role = 'organisation') = (organisation IS NOT NULL)),
    CHECK (prescriber IS NULL OR role = 'counsellor')
);
"""

#: The keys' generation: one row, raised by the triggers on any change of ``api_keys`` (created after
#: :func:`migrate_keys`, since the table's rebuild drops the triggers of the old one).
GENERATION_DDL = """
CREATE TABLE IF NOT EXISTS api_keys_generation (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);
INSERT OR IGNORE INTO api_keys_generation VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS api_keys_generation_insert AFTER INSERT ON api_keys
BEGIN UPDATE api_keys_generation SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS api_keys_generation_update AFTER UPDATE ON api_keys
BEGIN UPDATE api_keys_generation SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS api_keys_generation_delete AFTER DELETE ON api_keys
BEGIN UPDATE api_keys_generation SET n = n + 1 WHERE id = 0; END;
"""

_COLUMNS = "id, hash, role, employer, name, rate_per_minute, created_at, revoked_at"


def migrate_keys(conn) -> None:
    """Bring an ``api_keys`` table of an older database to :data:`KEYS_DDL` (roles organisation and
    funder, columns prescriber and organisation). SQLite cannot change a CHECK in place: the table
    is copied into the new shape in one transaction (keys, hashes and revocations kept)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").fetchone()
    if row is None:
        conn.executescript(KEYS_DDL)
        return
    if "prescriber" in row[0]:
        return
    with immediate(conn):
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").fetchone()
        if "prescriber" not in row[0]:  # another process may have migrated while we waited
            conn.execute("ALTER TABLE api_keys RENAME TO api_keys_v1")
            conn.execute(KEYS_DDL.strip().rstrip(";"))
            conn.execute(f"INSERT INTO api_keys ({_COLUMNS}) SELECT {_COLUMNS} FROM api_keys_v1")
            conn.execute("DROP TABLE api_keys_v1")

def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's id, role, (employer key) employer id, (counsellor key) prescriber
    type, (organisation key) the training organisation's SIRET or id; all None when anonymous."""

    key_id: str | None
    role: str | None
    employer: str | None = None
    name: str | None = None
    rate_per_minute: int | None = None
    prescriber: str | None = None
    organisation: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None


ANONYMOUS = Principal(None, None)


class KeyError_(Exception):
    """A key cannot be created or revoked as asked (unknown role, missing employer id, unknown key)."""


class KeyStore:
    """API keys in SQLite, hashed; ``authenticate`` is cached and sees revocations at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        migrate_keys(self._conn)
        if self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
                              "name LIKE 'api_keys_generation_%'").fetchone()[0] < 3:
            with immediate(self._conn):  # once per database (and after a migration rebuilt the table)
                for statement in GENERATION_DDL.split(";\n"):
                    if statement.strip():
                        self._conn.execute(statement)
        self._version = -1
        self._cache: dict[str, Principal | None] = {}

    def close(self) -> None:
        self._conn.close()

    # -- administration -------------------------------------------------------------------
    def create(self, role: str, employer: str | None = None, name: str | None = None,
               rate_per_minute: int | None = None, prescriber: str | None = None,
               organisation: str | None = None) -> tuple[str, dict]:
        """A new key: returns ``(key, record)``; the key itself is not stored and cannot be shown again."""
        if role not in ROLES:
            raise KeyError_(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        if role == "employer" and not (employer and employer.strip()):
            raise KeyError_("an employer key needs the employer id (--employer ID)")
        if role != "employer" and employer:
            raise KeyError_(f"only employer keys carry an employer id, not {role} keys")
        if prescriber is not None and role != "counsellor":
            raise KeyError_(f"only counsellor keys carry a prescriber type, not {role} keys")
        if prescriber is not None and prescriber not in PRESCRIBERS:
            raise KeyError_(f"unknown prescriber type {prescriber!r}: choose one of {', '.join(PRESCRIBERS)}")
        if role == "organisation" and not (organisation and organisation.strip()):
            raise KeyError_("an organisation key needs the training organisation's SIRET or id (--organisation ID)")
        if role != "organisation" and organisation:
            raise KeyError_(f"only organisation keys carry an organisation, not {role} keys")
        if organisation is not None:  # the id rule: compared with the sessions' SIRET or organisation
            from referentiels.ids import id_problem

            organisation, reason = id_problem(organisation)
            if reason is not None:
                raise KeyError_(f"the organisation id {reason}")
        if rate_per_minute is not None and rate_per_minute < 1:
            raise KeyError_("the rate limit is a number of requests per minute, at least 1")
        if employer is not None:  # the id rule (referentiels.ids): the employer id is compared with offers'
            from referentiels.ids import id_problem

            employer, reason = id_problem(employer)
            if reason is not None:
                raise KeyError_(f"the employer id {reason}")
        key_id = secrets.token_hex(4)
        key = f"psl_{key_id}_{secrets.token_urlsafe(32)}"
        record = {"id": key_id, "role": role, "employer": employer.strip() if employer else None, "name": name,
                  "rate_per_minute": rate_per_minute, "created_at": _now(), "revoked_at": None,
                  "prescriber": prescriber, "organisation": organisation.strip() if organisation else None}
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (id, hash, role, employer, name, rate_per_minute, created_at, prescriber, "
                "organisation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key_id, hash_key(key), role, record["employer"], name, rate_per_minute, record["created_at"],
                 prescriber, record["organisation"]))
            self._cache.clear()
        return key, record

    def revoke(self, key_id: str) -> dict:
        """Revoke a key by its id (idempotent); the record as it is now."""
        with self._lock:
            self._conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (_now(), key_id))
            self._cache.clear()
        record = self.get(key_id)
        if record is None:
            raise KeyError_(f"no key has the id {key_id!r}")
        return record

    def get(self, key_id: str) -> dict | None:
        rows = self.list(key_id=key_id)
        return rows[0] if rows else None

    def list(self, limit: int = 1000, offset: int = 0, key_id: str | None = None) -> list[dict]:
        sql = ("SELECT id, role, employer, name, rate_per_minute, created_at, revoked_at, prescriber, organisation "
               "FROM api_keys")
        args: tuple = ()
        if key_id is not None:
            sql, args = sql + " WHERE id = ?", (key_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, id LIMIT ? OFFSET ?", (*args, limit, offset))
            names = [d[0] for d in rows.description]
            return [dict(zip(names, row)) for row in rows.fetchall()]

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]

    # -- per request -----------------------------------------------------------------------
    def authenticate(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None. Cost: one read of the keys' generation
        (microseconds) when cached, one indexed SELECT after any change to the keys."""
        if not KEY_PATTERN.match(key):
            return None
        digest = hash_key(key)
        with self._lock:
            version = self._conn.execute("SELECT n FROM api_keys_generation WHERE id = 0").fetchone()[0]
            if version != self._version:
                self._cache.clear()
                self._version = version
            elif digest in self._cache:
                return self._cache[digest]
            row = self._conn.execute(
                "SELECT id, role, employer, name, rate_per_minute, prescriber, organisation FROM api_keys "
                "WHERE hash = ? AND revoked_at IS NULL",
                (digest,)).fetchone()
            principal = Principal(*row) if row else None
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[digest] = principal
            return principal
