"""What a training teaches, derived with its evidence, for offers that list no skill codes (LHEO).

    normaliser = SkillNormaliser.fit(referentiel)
    teaching = derive_teaching(referentiel, occupations=[["H2913"], ...],
                               texts=[{"objective": "...", "content": "..."}, ...], normaliser=normaliser)
    teaching.skills[i]     # sorted skill codes training i teaches
    teaching.evidence[i]   # why: one dict per (skill, reason)

A regional training offer says what a training prepares for (the ROME codes of its formation)
and what it is about (its objective and content, free text), never the referential's skill codes.
Two sources, each kept as evidence so a counsellor sees why a training is said to teach a skill:

1. **ROME**: the *core* skills (``coeur_metier`` Principale, ``links.core``) of each occupation the
   training prepares for — ``{"skill", "via": "rome", "occupation": "H2913"}``. Non-core skills of
   an occupation are not claimed: a training for welders is not said to teach every soft skill
   of the welder's card.
2. **Text**: the objective and content are cut into phrases (lines, bullets, sentences, ``;``
   and ``:``), each of 2 words and more, and the skill normaliser (``matching.normalise``) matches
   each phrase; its best skill is kept when the score is at least ``TEXT_MIN_SCORE``, the next
   candidates when at least ``TEXT_MORE_SCORE`` (a phrase may name two skills: "souder au TIG et
   au MIG-MAG") — ``{"skill", "via": "text", "field": "objective", "phrase": "...", "score": 0.87}``.
   Distinct phrases are matched once for the whole offer (formations repeat their text in every
   action).

Pure: no file, network or database access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

TEXT_MIN_SCORE = 0.75
"""Lowest normaliser score for a phrase's best skill to be claimed (0.6 is the normaliser's own
confidence threshold; measured on the fixtures, 0.69 still matched "contrôler la conformité d'une
pièce" to "Contrôler la dureté d'une pièce")."""
TEXT_MORE_SCORE = 0.8
"""Lowest score for a phrase's further candidates (a phrase naming two skills)."""
MAX_PHRASE_CHARS = 500
MIN_PHRASE_WORDS = 2
FIELDS = ("objective", "content")

_SPLIT = re.compile(r"(?:\r?\n|[;:•·▪◦]|(?<=[.!?])\s+)")
_BULLET = re.compile(r"^[\s\-*–—>\d.)]+")


def phrases(text: str | None) -> list[str]:
    """The phrases of a free text: cut at line ends, bullets, sentence ends, ``;`` and ``:``;
    bullets and numbering dropped; each of at least 2 words, at most 500 characters."""
    if not text:
        return []
    out = []
    for part in _SPLIT.split(text):
        p = _BULLET.sub("", part).strip(" .!?,\t")
        if len(p.split()) < MIN_PHRASE_WORDS:
            continue
        if len(p) > MAX_PHRASE_CHARS:
            p = p[:MAX_PHRASE_CHARS].rsplit(" ", 1)[0]
        if p not in out:
            out.append(p)
    return out


@dataclass(frozen=True)
class Teaching:
    """Per training: ``skills`` (sorted codes) and ``evidence`` (list of dicts, ROME first, then text
    by field and phrase order); ``phrases`` / ``matched``: distinct phrases read and those that gave
    a skill (over the whole offer)."""

    skills: list[list[str]]
    evidence: list[list[dict]]
    phrases: int = 0
    matched: int = 0


def derive_teaching(referentiel, occupations: Sequence[Sequence[str]], texts: Sequence[dict],
                    normaliser=None, *, min_score: float = TEXT_MIN_SCORE, more_score: float = TEXT_MORE_SCORE
                    ) -> Teaching:
    """Skills and evidence of ``n`` trainings (see the module doc).

    ``occupations``: n lists of ROME codes (codes the referential does not know are ignored);
    ``texts``: n dicts with ``objective`` and ``content`` (str or None); ``normaliser``: a fitted
    ``SkillNormaliser`` or None (then only the ROME source is used).
    """
    n = len(occupations)
    codes = referentiel.skill_codes
    index = referentiel.occupation_index
    core = referentiel.core_matrix
    core.sort_indices()
    evidence: list[list[dict]] = [[] for _ in range(n)]
    skills: list[set[str]] = [set() for _ in range(n)]
    core_of: dict[str, list[str]] = {}
    for i, occs in enumerate(occupations):
        for occ in occs or []:
            row = index.get(occ)
            if row is None:
                continue
            if occ not in core_of:
                lo, hi = core.indptr[row], core.indptr[row + 1]
                cols = core.indices[lo:hi][core.data[lo:hi] > 0]
                core_of[occ] = [str(codes[c]) for c in np.sort(cols)]
            for code in core_of[occ]:
                skills[i].add(code)
                evidence[i].append({"skill": code, "via": "rome", "occupation": occ})
    per_training: list[list[tuple[str, str]]] = []
    distinct: dict[str, int] = {}
    for t in texts:
        found = []
        for name in FIELDS:
            for p in phrases((t or {}).get(name)):
                found.append((name, p))
                distinct.setdefault(p, len(distinct))
        per_training.append(found)
    hits: dict[str, list[tuple[str, float]]] = {}
    if normaliser is not None and distinct:
        for p, m in zip(distinct, normaliser.batch(list(distinct), k=3)):
            keep = []
            for rank, c in enumerate(m.candidates):
                if c.score >= (min_score if rank == 0 else max(more_score, min_score)):
                    keep.append((c.code, round(float(c.score), 4)))
                elif rank == 0:
                    break
            if keep:
                hits[p] = keep
    for i, found in enumerate(per_training):
        for name, p in found:
            for code, score in hits.get(p, []):
                skills[i].add(code)
                evidence[i].append({"skill": code, "via": "text", "field": name, "phrase": p, "score": score})
    return Teaching(skills=[sorted(s) for s in skills], evidence=evidence, phrases=len(distinct), matched=len(hits))


__all__ = ["FIELDS", "TEXT_MIN_SCORE", "TEXT_MORE_SCORE", "Teaching", "derive_teaching", "phrases"]
