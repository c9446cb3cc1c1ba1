"""Free text to codes on the full ROME v460 (1,584 labels + 13,114 titles): batch throughput, search latency.

Inputs are the accuracy test set's noisy titles (matching/normalise_noise.py, seed 0): typos,
dropped accents, swapped words, abbreviations, one gender only, truncations — not the referential's
own titles, which an exact-match shortcut would make trivially fast.

- ``normalise_titles_batch``: ``TitleNormaliser.batch`` over 14,000 noisy titles (quick: 3,500),
  rapidfuzz threads on every core. Target >= 10,000 titles/s. Baseline: the direct use of
  rapidfuzz for a batch, ``process.cdist`` (``fuzz.ratio``, every core) of the same titles against
  every folded label and title, then the best column of each row.
- ``normalise_titles_vs_extractone``: the same batch code on 1,000 noisy titles (quick: 200) against
  the naive loop, ``process.extractOne`` (default ``WRatio`` scorer and processor) per title over
  every label and title as written — the ratio the issue asks for.
- ``normalise_search_latency``: one search-as-you-type query (``TitleNormaliser.search``, one
  thread), cycling over 200 noisy titles. Target <= 2 ms p50. Baseline: one ``extractOne`` call.
"""

from __future__ import annotations

import itertools

import numpy as np
from rapidfuzz import fuzz, process, utils

import referentiels
from matching.normalise import TitleNormaliser
from matching.normalise_noise import noisy_titles

from ..data import rome_dir
from ..harness import scenario

SEED = 0


def _referential():
    return referentiels.load(f"rome:{rome_dir()}")


def _noisy(referential, n_titles: int) -> list[str]:
    pairs = list(zip(referential.titles["title"].to_list(), referential.titles["occupation"].to_list()))
    return [noisy.text for noisy in noisy_titles(pairs, n_titles, seed=SEED)]


def _choices(referential) -> list[str]:
    return referential.occupations["label"].to_list() + referential.titles["title"].to_list()


def _counters(ctx: dict) -> dict[str, float]:
    normaliser: TitleNormaliser = ctx["normaliser"]
    return {"titles": len(ctx["texts"]), "index_entries": normaliser.n_entries}


def _setup_batch(quick: bool) -> dict:
    referential = _referential()
    normaliser = TitleNormaliser.fit(referential)
    texts = _noisy(referential, 500 if quick else 2000)  # x 7 noise kinds
    folded_choices = [normaliser.fold(c) for c in _choices(referential)]
    return {"normaliser": normaliser, "texts": texts, "folded_choices": folded_choices}


def _cdist_best(ctx: dict) -> np.ndarray:
    scores = process.cdist([ctx["normaliser"].fold(t) for t in ctx["texts"]], ctx["folded_choices"],
                           scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
    return scores.argmax(axis=1)


scenario(name="normalise_titles_batch", ours=lambda c: c["normaliser"].batch(c["texts"], k=5),
         baseline=_cdist_best, baseline_name="rapidfuzz cdist(ratio, all cores) + argmax, same titles",
         target=">= 10,000 titles/s (14,000 titles in <= 1,400 ms)", repeats=7, quick_repeats=3,
         counters=_counters)(_setup_batch)


def _setup_vs_extractone(quick: bool) -> dict:
    referential = _referential()
    texts = _noisy(referential, 2000)
    step = len(texts) // (200 if quick else 1000)
    return {"normaliser": TitleNormaliser.fit(referential), "texts": texts[::step][: 200 if quick else 1000],
            "choices": _choices(referential)}


def _extract_one_loop(ctx: dict) -> list:
    return [process.extractOne(t, ctx["choices"], scorer=fuzz.WRatio, processor=utils.default_process)
            for t in ctx["texts"]]


scenario(name="normalise_titles_vs_extractone", ours=lambda c: c["normaliser"].batch(c["texts"], k=5),
         baseline=_extract_one_loop, baseline_name="naive loop of rapidfuzz process.extractOne (WRatio)",
         target="ratio << 1", repeats=3, quick_repeats=3, counters=_counters)(_setup_vs_extractone)


def _setup_search(quick: bool) -> dict:
    referential = _referential()
    texts = _noisy(referential, 2000)[::70][:200]
    return {"normaliser": TitleNormaliser.fit(referential), "texts": texts, "choices": _choices(referential),
            "ours_next": itertools.cycle(texts).__next__, "base_next": itertools.cycle(texts).__next__}


scenario(name="normalise_search_latency", ours=lambda c: c["normaliser"].search(c["ours_next"](), k=5),
         baseline=lambda c: process.extractOne(c["base_next"](), c["choices"], scorer=fuzz.WRatio,
                                               processor=utils.default_process),
         baseline_name="one rapidfuzz process.extractOne (WRatio) call", target="<= 2 ms p50",
         repeats=201, quick_repeats=41, counters=lambda c: {"index_entries": c["normaliser"].n_entries})(_setup_search)
