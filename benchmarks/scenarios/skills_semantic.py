"""The skill normaliser's semantic path (issue 21 item 5) on the full ROME v460 (33,671 skills).

- ``normalise_skills_fused_batch``: ``SkillNormaliser.batch`` with the encoder attached over the
  340 labelled free-text skills (quick: the first 40) (benchmarks/labels/free_text_skills.csv): the phrases whose
  lexical answer is certain never reach the encoder, the others are encoded (every run: no memo)
  and fused. Skills/s with the encoder; baseline: the lexical normaliser on the same phrases
  (skills/s without it). rapidfuzz and the encoder on every core in both.
- ``semantic_skill_search``: one ``search`` of a phrase whose lexical answer is uncertain, with
  the encoder: the phrase encoded, a float32 product over the (33,671 x 384) label matrix, the
  fusion, the top 5 — p50. Baseline: the lexical ``search`` of the same phrases in the same
  process (the ratio is what the semantic signal costs one query).
- ``semantic_skill_vectors``: the same search without the encoder's share (the phrase already
  encoded): the product over the 33,671 label vectors, best label per skill, top 5. Baseline:
  the lexical top-50 pool of one phrase. The encoder's share is the difference with the above.

Full size: the real cached ROME skill vectors (built on first use: ``python -m
benchmarks.normalise_eval --skills`` builds and caches them, tens of minutes on 2 cores); quick:
random unit vectors of the same shape (the arithmetic is the same, the answers are not).
Skipped (reported) without the ROME data or where the encoder cannot load.
"""

from __future__ import annotations

import itertools

import numpy as np

from matching.normalise import SkillNormaliser

from ..harness import scenario
from ..skills_set import load_skill_set
from .encoder import _encoder, _rome, random_unit_vectors


def rome_skill_vectors(referential, normaliser: SkillNormaliser, encoder, quick: bool) -> np.ndarray:
    """The ROME skill label vectors: cached real ones (built and printed on first use), or random ones (quick)."""
    if quick:
        return random_unit_vectors(len(normaliser.semantic_texts), encoder.dim)
    from api.services.encoding import skill_vectors

    return skill_vectors(referential, normaliser, encoder, cache_dir=None)


def _setup(quick: bool) -> dict:
    encoder = _encoder()
    referential = _rome()
    lexical = SkillNormaliser.fit(referential)
    fused = lexical.with_encoder(encoder, rome_skill_vectors(referential, lexical, encoder, quick))
    phrases = [p.phrase for p in load_skill_set()][: 40 if quick else None]  # quick: the gate's budget
    uncertain = [t for t, m in zip(phrases, lexical.batch(phrases, k=5)) if not fused.fusion.certain(m)]
    encoder.encode(phrases[:4], "query")  # load the engine's pages outside the timing
    return {"lexical": lexical, "fused": fused, "phrases": phrases, "uncertain": uncertain,
            "ours_next": itertools.cycle(uncertain).__next__, "base_next": itertools.cycle(uncertain).__next__}


scenario(name="normalise_skills_fused_batch", ours=lambda c: c["fused"].batch(c["phrases"], k=5),
         baseline=lambda c: c["lexical"].batch(c["phrases"], k=5),
         baseline_name="the lexical normaliser on the same phrases", target="measured: skills/s with and without",
         repeats=5, quick_repeats=3, alloc=False,
         counters=lambda c: {"phrases": len(c["phrases"]), "reach_the_encoder": len(c["uncertain"])})(_setup)

scenario(name="semantic_skill_search", ours=lambda c: c["fused"].search(c["ours_next"](), k=5),
         baseline=lambda c: c["lexical"].search(c["base_next"](), k=5),
         baseline_name="the lexical search of the same phrases", target="measured: p50 and ratio to lexical",
         repeats=61, quick_repeats=21, alloc=False,
         counters=lambda c: {"skills": len(c["lexical"].semantic_texts)})(_setup)


def _setup_vectors(quick: bool) -> dict:
    ctx = _setup(quick)
    ctx["query_vectors"] = ctx["fused"].encoder.encode(ctx["uncertain"][:40], "query")
    ctx["ours_vec"] = itertools.cycle(ctx["query_vectors"][:, None, :]).__next__
    ctx["base_vec"] = itertools.cycle(ctx["query_vectors"][:, None, :]).__next__
    return ctx


def _lexical_pool(ctx: dict):
    # What the fusion asks of the words for one phrase: its lexical top ``pool`` (50) candidates.
    fused = ctx["fused"]
    return fused._index.rank([ctx["base_next"]()], fused.fusion.pool, fused.threshold, 1)


scenario(name="semantic_skill_vectors", ours=lambda c: c["fused"]._semantic.top(c["ours_vec"](), 5),
         baseline=_lexical_pool, baseline_name="the lexical top-50 pool of one phrase (what the fusion adds it to)",
         target="measured: the encoder's share excluded", repeats=61, quick_repeats=21, alloc=False,
         counters=lambda c: {"skills": len(c["lexical"].semantic_texts)})(_setup_vectors)
