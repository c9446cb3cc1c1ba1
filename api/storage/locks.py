"""The layout of ``<database>.locks``: the rate limiter's buckets, then one byte the audit log locks.

Every worker process of one server maps or locks this same small file (next to the SQLite database),
so the HTTP rate limiter (``api.http.security.rate_limit``) and the audit log writer
(``api.storage.audit``) must agree on where each one's bytes are: they read it here.
"""

from __future__ import annotations

import struct
from pathlib import Path

#: Number of rate-limit buckets (fixed slots, probed by the hash of an identity).
BUCKET_SLOTS = 1 << 16
#: One bucket: 16-byte BLAKE2b digest of the identity, tokens, last update (monotonic seconds).
BUCKET = struct.Struct("<16sdd")
#: Bytes the buckets take, from offset 0.
BUCKETS_BYTES = BUCKET_SLOTS * BUCKET.size
#: The byte the audit log's writers lock in turn (just past the buckets).
AUDIT_LOCK_BYTE = BUCKETS_BYTES


def locks_path(database: str | Path) -> Path:
    """``<database>.locks``: the lock file beside a SQLite database file."""
    return Path(f"{database}.locks")
