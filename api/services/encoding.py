"""The text encoder as the served app and the CLI use it (issue 21).

- :func:`encoder_status`: the encoder named by the settings, loaded once per process, or why not.
- :func:`title_vectors`: the embeddings of a title normaliser's labels and titles, read from the
  on-disk cache (``api.storage.embeddings``: float16, memory-mapped, shared by every worker) or
  built once per content, in batches, printing progress to stderr (ROME: 13,246 texts, minutes
  on 2 cores).
- :class:`SemanticTitles`: the served title normaliser with its encoder, built in a background
  thread so that no request waits for a first build: until it is ready, or where no encoder
  loads, the lexical normaliser answers, and :meth:`SemanticTitles.status` says which.
- :func:`skill_label_signal`: the encoder's cosine of two skills' labels, as the skill relation's
  extra signal (``SkillRelation.with_signal``, issue 19): the labels of the skills it may be asked
  about are embedded once per content and cached like the titles.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from matching.encoder import EncoderError, EncoderStatus, load_encoder
from matching.normalise import TitleNormaliser

from api.storage.embeddings import cache_root, cached_embeddings

_STATUSES: dict[tuple[str, int | None], EncoderStatus] = {}
_STATUS_LOCK = threading.Lock()


def encoder_status(spec: str, threads: int | None = None) -> EncoderStatus:
    """``matching.encoder.load_encoder(spec, threads)``, once per process (the engine loads once)."""
    key = (spec, threads)
    with _STATUS_LOCK:
        if key not in _STATUSES:
            _STATUSES[key] = load_encoder(spec, threads)
        return _STATUSES[key]


def stderr_progress(what: str, every_s: float = 5.0) -> Callable[[int, int], None]:
    """A progress callback printing ``what: done / total (pct, elapsed)`` to stderr, at most every ``every_s``."""
    start = time.monotonic()
    last = [start]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= every_s:
            last[0] = now
            print(f"{what}: {done:,} / {total:,} ({100 * done // max(total, 1)} %, {now - start:.0f} s)",
                  file=sys.stderr, flush=True)

    return report


def title_vectors(referentiel, normaliser: TitleNormaliser, encoder, cache_dir: Path | None,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(normaliser.semantic_texts), dim) float16 vectors of the normaliser's labels and titles
    (memory-mapped from the cache when built before)."""
    texts = normaliser.semantic_texts
    if progress is None:
        progress = stderr_progress(f"embedding the {len(texts):,} titles and labels of {referentiel.source} "
                                   f"with {encoder.name} (once per content)")
    return cached_embeddings(encoder, texts, kind="titles", fingerprint=referentiel.fingerprint,
                             root=cache_root(cache_dir), role="query", progress=progress)


def skill_label_signal(referentiel, encoder, columns, cache_dir: Path | None,
                       progress: Callable[[int, int], None] | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``function(targets, sources) -> (p,) float32`` cosine of the two skills' labels by ``encoder``,
    for skill columns among ``columns`` (their labels embedded once, cached on disk under kind
    ``skill-labels``: the first call on ROME's 1,700 labelled-set skills takes about 1.5 minutes
    on 2 loaded cores, later calls read the file). A column outside ``columns`` raises
    ``EncoderError`` naming it: the caller says which skills it will ask about."""
    cols = np.unique(np.asarray(columns, dtype=np.int64))
    labels = referentiel.skills["label"].to_list()
    if len(cols) and (cols[0] < 0 or cols[-1] >= len(labels)):
        raise EncoderError(f"skill columns must be in [0, {len(labels)}); got {int(cols[0])}..{int(cols[-1])}")
    if progress is None:
        progress = stderr_progress(f"embedding {len(cols):,} skill labels of {referentiel.source} with {encoder.name}")
    vectors = cached_embeddings(encoder, [labels[c] for c in cols.tolist()], kind="skill-labels",
                                fingerprint=referentiel.fingerprint, root=cache_root(cache_dir), role="query",
                                progress=progress)
    vectors = np.asarray(vectors, dtype=np.float32)
    position = np.full(len(labels), -1, dtype=np.int64)
    position[cols] = np.arange(len(cols))

    def cosine(targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        pt, ps = position[np.asarray(targets, dtype=np.int64)], position[np.asarray(sources, dtype=np.int64)]
        if (pt < 0).any() or (ps < 0).any():
            missing = sorted(set(np.asarray(targets)[pt < 0].tolist()) | set(np.asarray(sources)[ps < 0].tolist()))
            raise EncoderError(f"no label vector for skill column(s) {missing[:5]}: embed them first")
        return np.einsum("ij,ij->i", vectors[pt], vectors[ps]).astype(np.float32)

    return cosine


def title_cache_info(referentiel, encoder, cache_dir: Path | None) -> dict:
    """Whether the title vectors of ``referentiel`` by ``encoder`` are cached: ``{"texts", "cached",
    "bytes", "path"}`` (nothing is built)."""
    from api.storage.embeddings import embeddings_key, embeddings_path, read_embeddings

    texts = TitleNormaliser.fit(referentiel).semantic_texts
    root = cache_root(cache_dir)
    if root is None:
        return {"texts": len(texts), "cached": False, "bytes": 0, "path": None}
    path = embeddings_path(root, "titles", referentiel.fingerprint, embeddings_key(encoder, "query", texts))
    cached = read_embeddings(path, len(texts), encoder.dim) is not None
    return {"texts": len(texts), "cached": cached, "bytes": path.stat().st_size if cached else 0, "path": str(path)}


def describe_encoder(referentiel, spec: str, threads: int | None, cache_dir: Path | None) -> dict:
    """The encoder's status for ``referentiel`` as the CLI shows it (``passerelles referentiel info``)."""
    status = encoder_status(spec, threads)
    out = status.as_dict()
    if status.available:
        out["titles"] = title_cache_info(referentiel, status.encoder, cache_dir)
    return out


class SemanticTitles:
    """The title normaliser of a served referential, lexical until its encoder's vectors are ready.

    ``state``: ``unavailable`` (no encoder: ``reason`` says why), ``not built`` (nothing asked
    yet), ``building`` (``done`` of ``total`` texts), ``ready``, or ``failed`` (``reason``).
    """

    def __init__(self, referentiel, lexical: TitleNormaliser | Callable[[], TitleNormaliser], status: EncoderStatus,
                 cache_dir: Path | None = None) -> None:
        """``lexical``: the lexical normaliser, or a function that builds it (called once, when first needed:
        constructing this object costs nothing)."""
        self.referentiel, self.encoder_status, self.cache_dir = referentiel, status, cache_dir
        self._lexical = lexical if isinstance(lexical, TitleNormaliser) else None
        self._lexical_of = lexical if self._lexical is None else None
        self._fused: TitleNormaliser | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.state = "not built" if status.available else "unavailable"
        self.reason = "" if status.available else status.reason
        self.done = 0
        self.total: int | None = len(self._lexical.semantic_texts) if self._lexical is not None else None
        self._listeners: list[Callable[[], None]] = []

    @property
    def lexical(self) -> TitleNormaliser:
        """The lexical title normaliser (built on first use when given as a function)."""
        if self._lexical is None:
            with self._lock:
                if self._lexical is None:
                    self._lexical = self._lexical_of()
                    self.total = len(self._lexical.semantic_texts)
        return self._lexical

    def on_ready(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` when the fused normaliser replaces the lexical one (e.g. to drop
        cached answers computed without it)."""
        self._listeners.append(listener)

    def current(self) -> TitleNormaliser:
        """The fused normaliser when ready, else the lexical one (and the build starts in the background)."""
        if self._fused is not None:
            return self._fused
        self.start()
        return self._fused or self.lexical

    def start(self) -> None:
        """Start the build in a daemon thread (once; nothing without an encoder)."""
        with self._lock:
            if self._thread is not None or self.state != "not built":
                return
            self.state = "building"
            self._thread = threading.Thread(target=self._build_in_background, name="passerelles-title-embeddings",
                                            daemon=True)
            self._thread.start()

    def _build_in_background(self) -> None:
        """:meth:`build` in the background thread: a bug there is still raised (and printed by the
        thread), but the status says "failed" and waiters are released instead of hanging."""
        try:
            self.build()
        except Exception as error:
            self.state, self.reason = "failed", f"{type(error).__name__}: {error}"
            self._ready.set()
            raise

    def build(self) -> TitleNormaliser:
        """Build now, in this thread (the CLI; the background thread), and return the normaliser to use."""
        if not self.encoder_status.available:
            return self.lexical
        encoder = self.encoder_status.encoder
        self.state = "building"
        lexical = self.lexical  # built first: it sets ``self.total``
        report = stderr_progress(f"embedding the {self.total:,} titles and labels of {self.referentiel.source} "
                                 f"with {encoder.name} (once per content)")

        def progress(done: int, total: int) -> None:
            self.done, self.total = done, total
            report(done, total)

        try:
            vectors = title_vectors(self.referentiel, lexical, encoder, self.cache_dir, progress)
            self._fused = lexical.with_encoder(encoder, vectors)
        except (EncoderError, OSError, ValueError) as error:
            self.state, self.reason = "failed", f"{type(error).__name__}: {error}"
            self._ready.set()
            return self.lexical
        self.state, self.done = "ready", self.total
        for listener in self._listeners:
            listener()
        self._ready.set()
        return self._fused

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background build ends (True when ready)."""
        if self.state in ("unavailable", "not built"):
            return self.state == "ready"
        self._ready.wait(timeout)
        return self.state == "ready"

    def status(self) -> dict:
        """What ``GET /referentiel`` and ``passerelles referentiel info`` show under ``encoder``."""
        out = self.encoder_status.as_dict()
        out["titles"] = {"state": self.state, "texts": self.total, "done": self.done}
        if self.reason and self.state != "unavailable":
            out["titles"]["reason"] = self.reason
        return out
