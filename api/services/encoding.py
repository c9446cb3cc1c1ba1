"""The text encoder as the served app and the CLI use it (issue 21).

- :func:`encoder_status`: the encoder named by the settings, loaded once per process, or why not.
- :func:`title_vectors`: the embeddings of a title normaliser's labels and titles, read from the
  on-disk cache (``api.storage.embeddings``: float16, memory-mapped, shared by every worker) or
  built once per content, in batches, printing progress to stderr (ROME: 13,246 texts, minutes
  on 2 cores).
- :func:`skill_vectors`: the same for a skill normaliser's labels (ROME: 33,666 distinct skill
  labels, savoir-faire and savoirs; the first build takes tens of minutes on 2 busy cores).
- :class:`SemanticTitles`, :class:`SemanticSkills`: the served title and skill normalisers with
  their encoder, built in a background thread so that no request waits for a first build: until
  it is ready, or where no encoder loads, the lexical normaliser answers, and ``status()`` says
  which. Both share :class:`SemanticNormaliser`.
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
from matching.normalise import SkillNormaliser, TitleNormaliser

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
    return _normaliser_vectors("titles", "titles and labels", referentiel, normaliser, encoder, cache_dir, progress)


def _normaliser_vectors(kind: str, what: str, referentiel, normaliser, encoder, cache_dir: Path | None,
                        progress: Callable[[int, int], None] | None) -> np.ndarray:
    """The cached (or built, with progress naming ``what``) vectors of ``normaliser.semantic_texts``
    under ``kind``: the one path of :func:`title_vectors` and :func:`skill_vectors`."""
    texts = normaliser.semantic_texts
    if progress is None:
        progress = stderr_progress(f"embedding the {len(texts):,} {what} of {referentiel.source} "
                                   f"with {encoder.name} (once per content)")
    return cached_embeddings(encoder, texts, kind=kind, fingerprint=referentiel.fingerprint,
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


def skill_vectors(referentiel, normaliser: SkillNormaliser, encoder, cache_dir: Path | None,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(normaliser.semantic_texts), dim) float16 vectors of the normaliser's skill labels
    (memory-mapped from the cache when built before; role ``query``, as the titles: skill phrases
    are compared with skill labels, short texts against short texts)."""
    return _normaliser_vectors("skills", "skill labels", referentiel, normaliser, encoder, cache_dir, progress)


def _cache_info(kind: str, texts, referentiel, encoder, cache_dir: Path | None) -> dict:
    from api.storage.embeddings import embeddings_key, embeddings_path, read_embeddings

    root = cache_root(cache_dir)
    if root is None:
        return {"texts": len(texts), "cached": False, "bytes": 0, "path": None}
    path = embeddings_path(root, kind, referentiel.fingerprint, embeddings_key(encoder, "query", texts))
    cached = read_embeddings(path, len(texts), encoder.dim) is not None
    return {"texts": len(texts), "cached": cached, "bytes": path.stat().st_size if cached else 0, "path": str(path)}


def title_cache_info(referentiel, encoder, cache_dir: Path | None) -> dict:
    """Whether the title vectors of ``referentiel`` by ``encoder`` are cached: ``{"texts", "cached",
    "bytes", "path"}`` (nothing is built)."""
    return _cache_info("titles", TitleNormaliser.fit(referentiel).semantic_texts, referentiel, encoder, cache_dir)


def skill_cache_info(referentiel, encoder, cache_dir: Path | None) -> dict:
    """The same for the skill label vectors."""
    return _cache_info("skills", SkillNormaliser.fit(referentiel).semantic_texts, referentiel, encoder, cache_dir)


def describe_encoder(referentiel, spec: str, threads: int | None, cache_dir: Path | None) -> dict:
    """The encoder's status for ``referentiel`` as the CLI shows it (``passerelles referentiel info``)."""
    status = encoder_status(spec, threads)
    out = status.as_dict()
    if status.available:
        out["titles"] = title_cache_info(referentiel, status.encoder, cache_dir)
        out["skills"] = skill_cache_info(referentiel, status.encoder, cache_dir)
    return out


class SemanticNormaliser:
    """A normaliser of a served referential (titles or skills), lexical until its encoder's vectors are ready.

    ``state``: ``unavailable`` (no encoder: ``reason`` says why), ``not built`` (nothing asked
    yet), ``building`` (``done`` of ``total`` texts), ``ready``, or ``failed`` (``reason``).
    """

    kind = "titles"
    """The cache's kind and the key of this part in ``status()``."""
    what = "titles and labels"
    normaliser_type: type = TitleNormaliser

    def __init__(self, referentiel, lexical, status: EncoderStatus, cache_dir: Path | None = None) -> None:
        """``lexical``: the lexical normaliser, or a function that builds it (called once, when first needed:
        constructing this object costs nothing)."""
        self.referentiel, self.encoder_status, self.cache_dir = referentiel, status, cache_dir
        self._lexical = lexical if isinstance(lexical, self.normaliser_type) else None
        self._lexical_of = lexical if self._lexical is None else None
        self._fused = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.state = "not built" if status.available else "unavailable"
        self.reason = "" if status.available else status.reason
        self.done = 0
        self.total: int | None = len(self._lexical.semantic_texts) if self._lexical is not None else None
        self._listeners: list[Callable[[], None]] = []

    @property
    def lexical(self):
        """The lexical normaliser (built on first use when given as a function)."""
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

    def current(self):
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
            self._thread = threading.Thread(target=self._build_in_background, name=f"passerelles-{self.kind}-embeddings",
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

    def build(self):
        """Build now, in this thread (the CLI; the background thread), and return the normaliser to use."""
        if not self.encoder_status.available:
            return self.lexical
        encoder = self.encoder_status.encoder
        self.state = "building"
        lexical = self.lexical  # built first: it sets ``self.total``
        report = stderr_progress(f"embedding the {self.total:,} {self.what} of {self.referentiel.source} "
                                 f"with {encoder.name} (once per content)")

        def progress(done: int, total: int) -> None:
            self.done, self.total = done, total
            report(done, total)

        try:
            vectors = self._vectors(lexical, encoder, progress)
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

    def _vectors(self, lexical, encoder, progress: Callable[[int, int], None]) -> np.ndarray:
        return title_vectors(self.referentiel, lexical, encoder, self.cache_dir, progress)

    def part(self) -> dict:
        """``{"state", "texts", "done"}`` (and ``reason`` when it failed) of this normaliser's vectors."""
        out = {"state": self.state, "texts": self.total, "done": self.done}
        if self.reason and self.state != "unavailable":
            out["reason"] = self.reason
        if self.state == "unavailable":
            out["answers"] = "lexical only"
        return out

    def status(self) -> dict:
        """What ``GET /referentiel`` and ``passerelles referentiel info`` show under ``encoder``."""
        out = self.encoder_status.as_dict()
        out[self.kind] = self.part()
        return out


class SemanticTitles(SemanticNormaliser):
    """The title normaliser of a served referential, lexical until its encoder's vectors are ready."""


class SemanticSkills(SemanticNormaliser):
    """The skill normaliser of a served referential, lexical until its encoder's vectors of the
    skill labels are ready (the fusion: ``matching.normalise.SKILL_FUSION``)."""

    kind = "skills"
    what = "skill labels"
    normaliser_type = SkillNormaliser

    def _vectors(self, lexical, encoder, progress: Callable[[int, int], None]) -> np.ndarray:
        return skill_vectors(self.referentiel, lexical, encoder, self.cache_dir, progress)


MAX_SEMANTIC_TEXTS = 500
"""Distinct texts of one ingest (seekers' and offers' free-text skills, the phrases of an LHEO
offer's contents) that the skill normaliser's encoder reads; a larger batch is read by its words.
Measured on ROME (benchmark ``normalise_skills_fused_batch``): 88 % of free-text skills are not
lexically certain and reach the encoder, about 40 a second on 2 loaded cores against 900 by the
words: 500 is about 12 s of encoder work, the most an ingest should wait for it."""


class BoundedSemantic:
    """A normaliser whose ``batch`` asks its encoder only for batches of at most ``max_texts`` distinct
    texts, larger ones being read by their words (the encoder reads tens of texts a second, the words
    thousands): how the HTTP layer hands the skill normaliser to readers of whole ads, whose
    descriptions are cut into many sentences. Everything else is the wrapped normaliser's."""

    def __init__(self, normaliser, max_texts: int) -> None:
        self.normaliser, self.max_texts = normaliser, max_texts

    def batch(self, texts, k: int = 5, workers: int = -1, semantic: bool = True):
        semantic = semantic and len(set(texts)) <= self.max_texts
        return self.normaliser.batch(texts, k, workers, semantic=semantic)

    def __getattr__(self, name: str):
        return getattr(self.normaliser, name)
