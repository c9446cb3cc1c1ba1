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


try:  # POSIX; absent on Windows, where every lock below is this process's only
    import fcntl
except ImportError:  # pragma: no cover - exercised by tests/api/test_off_posix.py in a subprocess
    fcntl = None  # type: ignore[assignment]

#: True where byte-range locks exclude other processes (POSIX ``fcntl``). False on Windows: the rate
#: limiter keeps its buckets in this process (a key's rate applies per worker process) and the audit
#: log's writers rely on SQLite's busy handler alone.
CROSS_PROCESS = fcntl is not None


def lock_bytes(fd: int, length: int, start: int = 0) -> None:
    """Take the exclusive lock of bytes ``[start, start + length)`` of ``fd`` (waits for it); a no-op
    without ``fcntl``. Byte ranges, not the whole file: the rate limiter and the audit log lock
    different bytes of the same file and must not wait for each other."""
    if fcntl is not None:
        fcntl.lockf(fd, fcntl.LOCK_EX, length, start)


def unlock_bytes(fd: int, length: int, start: int = 0) -> None:
    """Release what :func:`lock_bytes` took."""
    if fcntl is not None:
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
