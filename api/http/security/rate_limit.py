"""Per-key rate limits shared by every worker process: token buckets in a memory-mapped file."""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import sys
import threading
import time
from pathlib import Path

from api.http.problems import Problem
from api.storage.locks import BUCKET, BUCKET_SLOTS


class RateLimiter:
    """Token buckets per key (or per client address when anonymous): ``rate`` requests per minute
    on average, bursts of up to ``burst``.

    Shared by every process that opens the same ``path`` (every worker of ``uvicorn --workers N``
    opens ``<database>.locks``): the buckets live in a small memory-mapped file of fixed slots
    (16-byte BLAKE2b digest of the identity, tokens, time of last update; ``CLOCK_MONOTONIC``, which
    all processes of the machine share), read and written under an exclusive ``fcntl`` lock of the
    file, so a key gets its rate once, not once per worker. Cost: two system calls and a few struct
    reads per request (about 5 µs; measured in tests/api/test_security.py). ``path=None``: an
    anonymous map, this process only.

    An identity hashes to one of ``SLOTS`` slots and probes ``PROBES`` of them; when all are taken
    by other identities, the one idle longest is replaced (it starts again from a full bucket if it
    comes back: with 65,536 slots this needs tens of thousands of identities active within minutes).
    """

    SLOTS = BUCKET_SLOTS
    PROBES = 8
    _SLOT = BUCKET  # digest, tokens, last (monotonic seconds)
    _EMPTY = bytes(16)
    _locks: dict[str, threading.Lock] = {}  # one per file: fcntl locks do not exclude within a process
    _locks_lock = threading.Lock()

    def __init__(self, rate_per_minute: int, burst: int, path: Path | None = None) -> None:
        self.rate, self.burst = rate_per_minute, burst
        size = self._size = self.SLOTS * self._SLOT.size
        self._fd: int | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)  # zeros (sparse): every slot empty
                self._map = mmap.mmap(fd, size)
                self._fd = fd
            except OSError as error:  # read-only folder: per process, and say so
                print(f"passerelles: rate limits per worker process only, {self.path}: {error}", file=sys.stderr)
                self.path = None
        if self._fd is None:
            self._map = mmap.mmap(-1, size)
        name = str(self.path.resolve()) if self.path is not None else f"anonymous-{id(self)}"
        with self._locks_lock:
            self._lock = self._locks.setdefault(name, threading.Lock())

    def close(self) -> None:
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def take(self, identity: str, rate_per_minute: int | None = None) -> float:
        """0.0 if the request may go (one token taken), else the seconds to wait before the next one
        may (nothing taken)."""
        rate = (rate_per_minute or self.rate) / 60.0
        burst = max(self.burst, 1) if rate_per_minute is None else max(min(self.burst, rate_per_minute), 1)
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        home = int.from_bytes(digest[:8], "little")
        slot, size, mm = self._SLOT, self._SLOT.size, self._map
        with self._lock:
            if self._fd is not None:  # the buckets' bytes only (the audit log locks a byte after them)
                fcntl.lockf(self._fd, fcntl.LOCK_EX, self._size)
            try:
                now = time.monotonic()
                chosen, tokens, last, idlest = -1, float(burst), now, float("inf")
                for probe in range(self.PROBES):
                    offset = ((home + probe) % self.SLOTS) * size
                    owner, held, at = slot.unpack_from(mm, offset)
                    if owner == digest:
                        chosen, tokens, last = offset, held, min(at, now)
                        break
                    if owner == self._EMPTY:
                        if idlest != float("-inf"):  # the first empty slot
                            chosen, idlest = offset, float("-inf")
                    elif at < idlest:
                        chosen, idlest = offset, at
                tokens = min(burst, tokens + (now - last) * rate)
                if tokens >= 1.0:
                    slot.pack_into(mm, chosen, digest, tokens - 1.0, now)
                    return 0.0
                slot.pack_into(mm, chosen, digest, tokens, now)
                return (1.0 - tokens) / rate
            finally:
                if self._fd is not None:
                    fcntl.lockf(self._fd, fcntl.LOCK_UN, self._size)


def limit(limiter: RateLimiter, identity: str, rate: int | None) -> None:
    """Take one token of ``identity``'s bucket, or raise the 429 problem (with ``Retry-After``)."""
    wait = limiter.take(identity, rate)
    if wait > 0.0:
        seconds = max(1, int(wait + 0.999))
        raise Problem(429, "too-many-requests", "Too many requests",
                      f"This key (or address) sent more requests than its rate allows; retry in {seconds} s.",
                      retry_after=seconds, headers={"Retry-After": str(seconds)})
