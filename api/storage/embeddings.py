"""On-disk cache of text embeddings: float16, one ``.npy`` per (encoder, role, texts), memory-mapped.

Embedding ROME's 13,246 titles and labels takes minutes on 2 cores (DESIGN.md); every worker and
every CLI call after the first reads the file back instead, with ``np.load(mmap_mode="r")``: the
pages are shared by all the workers through the page cache. File name:
``embeddings-<kind>-<referential fingerprint[:16]>-<key>.npy`` where the key hashes the encoder's
name and dimension, the role and the texts themselves, so the same texts embedded by the same
encoder are found again whatever their referential, and a new encoder or a changed label never
reads stale vectors. One process builds while the others wait on a lock file (``fcntl.flock``),
then read what it wrote; writes are atomic (temporary file, then rename). A file that cannot be
read, or has the wrong shape, is rebuilt; a read-only cache folder only costs the build.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from matching.encoder import DEFAULT_BATCH, Encoder, encode_batched

from api.storage.files import atomic_path

try:
    import fcntl
except ImportError:  # Windows: concurrent first builds are then not serialised (each builds once)
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
"""Bumped when the layout of the files changes."""


def embeddings_key(encoder: Encoder, role: str, texts: Sequence[str]) -> str:
    """20 hex digits identifying (format, encoder name and dim, role, the texts in order)."""
    digest = hashlib.sha256(f"{FORMAT}\n{encoder.name}\n{encoder.dim}\n{role}\n".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:20]


def cache_root(cache_dir: Path | None) -> Path | None:
    """The folder to cache in (``cache_dir``, else the referentials' default), or None if unusable."""
    from api.storage.bridges_cache import cache_root as bridges_root

    return bridges_root(cache_dir)


def embeddings_path(root: Path, kind: str, fingerprint: str, key: str) -> Path:
    """``<root>/embeddings-<kind>-<fingerprint[:16]>-<key>.npy``."""
    return root / f"embeddings-{kind}-{fingerprint[:16]}-{key}.npy"


def read_embeddings(path: Path, n: int, dim: int) -> np.ndarray | None:
    """The (n, dim) float16 memory-mapped matrix at ``path``, or None if absent or not that."""
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if vectors.dtype != np.float16 or vectors.shape != (n, dim):
        return None
    return vectors


@contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (no-op where locks are unavailable or not writable)."""
    if fcntl is None:
        yield
        return
    try:
        handle = open(path.with_name(path.name + ".lock"), "a+b")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write(path: Path, vectors: np.ndarray) -> bool:
    """Write atomically; False when the folder cannot be written (the vectors are still used)."""
    try:
        with atomic_path(path) as tmp:
            with tmp.open("wb") as handle:
                np.save(handle, vectors, allow_pickle=False)
        return True
    except OSError:
        return False


def cached_embeddings(encoder: Encoder, texts: Sequence[str], *, kind: str, fingerprint: str,
                      root: Path | None, role: str = "query", batch_size: int = DEFAULT_BATCH,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(texts), encoder.dim) float16 embeddings of ``texts`` (rows of norm 1 to float16 precision).

    Read from ``root`` when built before (memory-mapped, read-only); else built in batches
    (``progress(done, total)`` after each), written, and read back mapped. ``root`` None: no cache.
    """
    texts = list(texts)
    if root is None:
        return encode_batched(encoder, texts, role, batch_size, progress).astype(np.float16)
    path = embeddings_path(root, kind, fingerprint, embeddings_key(encoder, role, texts))
    found = read_embeddings(path, len(texts), encoder.dim)
    if found is not None:
        return found
    with _build_lock(path):
        found = read_embeddings(path, len(texts), encoder.dim)  # built by another process meanwhile
        if found is not None:
            return found
        vectors = encode_batched(encoder, texts, role, batch_size, progress).astype(np.float16)
        if _write(path, vectors):
            mapped = read_embeddings(path, len(texts), encoder.dim)
            if mapped is not None:
                return mapped
        return vectors
