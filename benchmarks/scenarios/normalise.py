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
- ``normalise_offers_batch`` (issue 21): whole job ads through ``matching.offers.read_offers``
  (lexical: the title, and every sentence of the description through the skill normaliser), 400
  ads (quick: 40). Target >= 50 ads/s on 2 cores (measured 49.5 on 2 shared, busy cores). Baseline: the titles alone through
  ``TitleNormaliser.batch`` (what the description costs on top). The ads (:func:`whole_ads`) are
  built from ROME so that they exist wherever ROME does: a noisy title of an occupation, and a
  description of about 1,900 characters (the median of offers-dev's real texts) mixing the
  occupation's skill labels as list items, sentences around them, and the boilerplate of real ads.
"""

from __future__ import annotations

import itertools

import numpy as np
from rapidfuzz import fuzz, process, utils

import referentiels
from matching.normalise import SkillNormaliser, TitleNormaliser
from matching.offers import OfferText, read_offers
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


BOILERPLATE = [
    "Rattaché(e) au responsable de site, vous intégrez une équipe de {n} personnes.",
    "Poste en CDI à temps plein ({n} heures par mois), du lundi au vendredi, horaires en 2x8.",
    "Rémunération : {n} 000 euros brut annuel selon profil, mutuelle, tickets restaurant.",
    "Vous êtes rigoureux(se), autonome et avez le sens du travail en équipe (équipe de {n}).",
    "Une première expérience de {n} mois sur un poste similaire est appréciée ; débutant(e) formé(e) {n} jours.",
    "Merci d'adresser votre candidature (CV et lettre de motivation, référence {n}) à [courriel].",
    "Notre entreprise, implantée depuis {n} ans dans la région, accompagne ses clients au quotidien.",
    "Vous rejoignez un groupe de {n} établissements, leader sur son marché.",
]
"""Lines of real ads, each with a number that varies: 15 % of the sentences of 400 :func:`whole_ads`
repeat (soft skills, colliding numbers), fewer than in offers-dev's real texts (23 % of the
sentences of its first 1,000 ads), so the distinct sentences read once do not flatter the figure."""


def whole_ads(referential, n_ads: int, seed: int = SEED) -> list[OfferText]:
    """``n_ads`` job ads built from the referential (deterministic): a noisy title of an occupation,
    and a description mixing its skill labels (list items and sentences) with real ads' boilerplate."""
    import random

    rng = random.Random(seed)
    pairs = list(zip(referential.titles["title"].to_list(), referential.titles["occupation"].to_list()))
    every_kind = noisy_titles(pairs, n_ads, seed=seed)   # n_ads titles, each in every noise kind
    kinds = len(every_kind) // max(1, min(n_ads, len(pairs)))
    titles = [every_kind[i * kinds + i % kinds] for i in range(len(every_kind) // kinds)]  # one kind each, in turn
    label = dict(zip(referential.skills["code"].to_list(), referential.skills["label"].to_list()))
    skills_of: dict[str, list[str]] = {}
    for occupation, skill in referential.links.select("occupation", "skill").iter_rows():
        skills_of.setdefault(occupation, []).append(label[skill])
    ads = []
    for noisy in titles:
        own = skills_of.get(noisy.code, [])
        picked = rng.sample(own, min(12, len(own)))
        filler = lambda: rng.choice(BOILERPLATE).format(n=rng.randint(2, 5000))  # noqa: E731
        lines = [filler(), "Vos missions :"]
        lines += [f"- {s[0].lower()}{s[1:]}" if i % 3 else f"Vous serez amené(e) à {s[0].lower()}{s[1:]}."
                  for i, s in enumerate(picked)]
        lines += ["Profil recherché :"] + [filler() for _ in range(5)]
        text = "\n".join(lines)
        while len(text) < 1900:
            text += "\n" + filler()
        ads.append(OfferText(noisy.text, text))
    return ads


def _setup_offers(quick: bool) -> dict:
    referential = _referential()
    ads = whole_ads(referential, 40 if quick else 400)
    return {"titles": TitleNormaliser.fit(referential), "skills": SkillNormaliser.fit(referential), "ads": ads,
            "ad_titles": [a.title for a in ads]}


scenario(name="normalise_offers_batch", ours=lambda c: read_offers(c["titles"], c["skills"], c["ads"], k=5),
         baseline=lambda c: c["titles"].batch(c["ad_titles"], k=5),
         baseline_name="the same ads' titles alone (TitleNormaliser.batch)",
         target=">= 50 ads/s (400 ads <= 8 s)", repeats=5, quick_repeats=3,
         counters=lambda c: {"ads": len(c["ads"]), "description_chars": sum(len(a.description) for a in c["ads"])}
         )(_setup_offers)
