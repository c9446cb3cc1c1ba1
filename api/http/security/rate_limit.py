"""Per-key rate limits shared by every worker process: token buckets in a memory-mapped file."""

from __future__ import annotations

import hashlib
import mmap
import os
import sys
import threading
import time
from pathlib import Path

from api.http.problems import Problem
from api.storage.locks import BUCKET, BUCKET_SLOTS, CROSS_PROCESS, lock_bytes, unlock_bytes


class RateLimiter:
    """Token buckets per key (or per client address when anonymous): ``rate`` requests per minute
    on average, bursts of up to ``burst``.

    Shared by every process that opens the same ``path`` (every worker of ``uvicorn --workers N``
    opens ``<database>.locks``): the buckets live in a small memory-mapped file of fixed slots
    (16-byte BLAKE2b digest of the identity, tokens, time of last update; ``CLOCK_MONOTONIC``, which
    all processes of the machine share), read and written under an exclusive ``fcntl`` lock of the
    file, so a key gets its rate once, not once per worker. Cost: two system calls and a few struct
    reads per request (about 5 µs; measured in tests/api/test_security.py). ``path=None``: an
    anonymous map, this process only. Without ``fcntl`` (Windows) it is an anonymous map too, and a
    line on stderr says the rate is per worker process.

    Kept by hand rather than a rate-limit library: those keep buckets in the process (a key would
    get its rate once per worker) or in a server (Redis) this product does not require; this one
    shares exact buckets across workers for two system calls per request.

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
        if self.path is not None and not CROSS_PROCESS:  # no fcntl (Windows): per process, and say so
            print("passerelles: rate limits per worker process only (no fcntl byte-range locks on this "
                  "platform); run one worker process for a key to get exactly its rate", file=sys.stderr)
            self.path = None
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

    def take(self, identity: str, rate_per_minute: int | None = None, cost: float = 1.0,
             burst: float | None = None) -> float:
        """0.0 if the request may go (``cost`` tokens taken, one by default), else the seconds to
        wait before it may (nothing taken). ``burst``: the bucket's size, default the limiter's
        (capped by ``rate_per_minute``); a work budget (budget.py) passes its per-minute budget and
        the request's cost in characters or rows, in a bucket of its own identity."""
        rate = (rate_per_minute or self.rate) / 60.0
        if burst is None:
            burst = max(self.burst, 1) if rate_per_minute is None else max(min(self.burst, rate_per_minute), 1)
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        home = int.from_bytes(digest[:8], "little")
        slot, size, mm = self._SLOT, self._SLOT.size, self._map
        with self._lock:
            if self._fd is not None:  # the buckets' bytes only (the audit log locks a byte after them)
                lock_bytes(self._fd, self._size)
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
                if tokens >= cost:
                    slot.pack_into(mm, chosen, digest, tokens - cost, now)
                    return 0.0
                slot.pack_into(mm, chosen, digest, tokens, now)
                return (cost - tokens) / rate
            finally:
                if self._fd is not None:
                    unlock_bytes(self._fd, self._size)


def limit(limiter: RateLimiter, identity: str, rate: int | None) -> None:
    """Take one token of ``identity``'s bucket, or raise the 429 problem (with ``Retry-After``)."""
    wait = limiter.take(identity, rate)
    if wait > 0.0:
        seconds = max(1, int(wait + 0.999))
        raise Problem(429, "too-many-requests", "Too many requests",
                      f"This key (or address) sent more requests than its rate allows; retry in {seconds} s.",
                      retry_after=seconds, headers={"Retry-After": str(seconds)})
