"""The first build of ROME's title vectors (issue 21), full runs only (``FULL_ONLY_MODULES``).

``rome_embeddings_build``: embed the 13,246 ROME labels and titles with the default encoder into
an empty cache folder, in batches of 128 (progress on stderr), and write the float16 file: once
per content in the product. Counters: ``texts`` and ``cache_bytes`` (the file's size). Baseline:
reading the cached file back (memory-mapped), what every later worker and CLI call pays. Minutes
on 2 cores: measured, not gated.
"""

from __future__ import annotations

import numpy as np

from matching.normalise import TitleNormaliser

from ..harness import scenario
from .encoder import _encoder, _rome, rome_title_vectors


def _setup_build(quick: bool) -> dict:
    import tempfile
    from pathlib import Path

    encoder = _encoder()
    referential = _rome()
    normaliser = TitleNormaliser.fit(referential)
    rome_title_vectors(referential, normaliser, encoder, quick=False)  # the baseline reads the user's cache
    return {"encoder": encoder, "referential": referential, "normaliser": normaliser,
            "tmp": Path(tempfile.mkdtemp(prefix="passerelles-embeddings-"))}


def _first_build(ctx: dict):
    import shutil

    from api.services.encoding import title_vectors

    shutil.rmtree(ctx["tmp"], ignore_errors=True)
    ctx["tmp"].mkdir()
    vectors = title_vectors(ctx["referential"], ctx["normaliser"], ctx["encoder"], cache_dir=ctx["tmp"])
    ctx["bytes"] = sum(p.stat().st_size for p in ctx["tmp"].glob("embeddings-*.npy"))
    return vectors


def _cached_read(ctx: dict):
    from api.services.encoding import title_vectors

    return np.asarray(title_vectors(ctx["referential"], ctx["normaliser"], ctx["encoder"], cache_dir=None)).sum()


def _build_counters(ctx: dict) -> dict[str, float]:
    if "bytes" not in ctx:
        _first_build(ctx)
    return {"texts": len(ctx["normaliser"].semantic_texts), "cache_bytes": ctx["bytes"]}


scenario(name="rome_embeddings_build", ours=_first_build, baseline=_cached_read,
         baseline_name="reading the cached float16 file (memory-mapped) back", target="once per content (minutes)",
         repeats=1, quick_repeats=1, alloc=False, counters=_build_counters)(_setup_build)
