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

import json
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
    """Per training: ``skills`` (sorted codes) and ``evidence_json`` (a JSON array of the *text*
    evidence, by field and phrase order: what a catalogue stores, since the ROME evidence follows
    from the training's occupations and the referential; :meth:`evidence` gives both);
    ``phrases`` / ``matched``: distinct phrases read and those that gave a skill (whole offer)."""

    skills: list[list[str]]
    evidence_json: list[str]
    occupations: list[list[str]]
    phrases: int = 0
    matched: int = 0

    def evidence(self, i: int, referentiel) -> list[dict]:
        """Training ``i``'s evidence: ROME first, then text (see :func:`explain`)."""
        return explain(referentiel, self.occupations[i], self.evidence_json[i])


def explain(referentiel, occupations: Sequence[str], text_evidence: str | list | None) -> list[dict]:
    """Why a training teaches what it teaches: ``{"skill", "via": "rome", "occupation"}`` for each
    core skill of each of its ``occupations`` the referential knows, then its text evidence (a JSON
    array as stored in the catalogue's ``evidence`` column, or a list)."""
    out = []
    core = referentiel.core_matrix
    codes = referentiel.skill_codes
    for occ in occupations or []:
        row = referentiel.occupation_index.get(occ)
        if row is None:
            continue
        lo, hi = core.indptr[row], core.indptr[row + 1]
        for c in np.sort(core.indices[lo:hi][core.data[lo:hi] > 0]):
            out.append({"skill": str(codes[c]), "via": "rome", "occupation": occ})
    if isinstance(text_evidence, str):
        text_evidence = json.loads(text_evidence)
    return out + list(text_evidence or [])


def derive_teaching(referentiel, occupations: Sequence[Sequence[str]], texts: Sequence[dict],
                    normaliser=None, *, min_score: float = TEXT_MIN_SCORE, more_score: float = TEXT_MORE_SCORE,
                    cache: dict | None = None) -> Teaching:
    """Skills and evidence of ``n`` trainings (see the module doc).

    ``occupations``: n lists of ROME codes (codes the referential does not know are ignored);
    ``texts``: n dicts with ``objective`` and ``content`` (str or None); ``normaliser``: a fitted
    ``SkillNormaliser`` or None (then only the ROME source is used). Trainings with the same
    codes and texts (the actions of one formation) are derived once; the text evidence is
    assembled from JSON fragments per phrase, never one Python object per claim. ``cache``: a dict
    kept by the caller across calls on batches of one offer (same referential, normaliser and
    scores): phrases already matched, and each occupation's core skills, are not matched again
    (the results are those of one call over the whole offer). ``phrases`` / ``matched`` count the
    phrases new to the cache.
    """
    import orjson

    codes = referentiel.skill_codes
    index = referentiel.occupation_index
    core = referentiel.core_matrix
    core.sort_indices()
    signatures = [(tuple(occs or ()), (t or {}).get("objective") or "", (t or {}).get("content") or "")
                  for occs, t in zip(occupations, texts)]
    distinct_sig = list(dict.fromkeys(signatures))
    cut: dict[str, list[str]] = {}
    distinct: dict[str, None] = {}
    for _, objective, content in distinct_sig:
        for text in (objective, content):
            if text not in cut:
                cut[text] = phrases(text)
                distinct.update(dict.fromkeys(cut[text]))
    cache = {} if cache is None else cache
    hits: dict[str, list[tuple[str, float]]] = cache.setdefault("hits", {})
    seen: set[str] = cache.setdefault("seen", set())
    fresh = [p for p in distinct if p not in seen]
    matched = 0
    if normaliser is not None and fresh:
        seen.update(fresh)
        for p, m in zip(fresh, normaliser.batch(fresh, k=3)):
            keep = []
            for rank, c in enumerate(m.candidates):
                if c.score >= (min_score if rank == 0 else max(more_score, min_score)):
                    keep.append((c.code, round(float(c.score), 4)))
                elif rank == 0:
                    break
            if keep:
                hits[p] = keep
                matched += 1
    rome_part: dict[str, list[str]] = cache.setdefault("rome", {})
    text_part: dict[tuple[str, str], bytes] = {}
    derived: dict[tuple, tuple[list[str], str]] = {}
    for sig in distinct_sig:
        occs, objective, content = sig
        skills: set[str] = set()
        parts: list[bytes] = []
        for occ in occs:
            if occ not in rome_part:
                row = index.get(occ)
                found: list[str] = []
                if row is not None:
                    lo, hi = core.indptr[row], core.indptr[row + 1]
                    found = [str(codes[c]) for c in np.sort(core.indices[lo:hi][core.data[lo:hi] > 0])]
                rome_part[occ] = found
            skills.update(rome_part[occ])
        for name, text in zip(FIELDS, (objective, content)):
            for p in cut[text]:
                got = hits.get(p)
                if not got:
                    continue
                key = (name, p)
                if key not in text_part:
                    text_part[key] = b",".join(orjson.dumps({"skill": c, "via": "text", "field": name, "phrase": p,
                                                             "score": score}) for c, score in got)
                skills.update(c for c, _ in got)
                parts.append(text_part[key])
        derived[sig] = (sorted(skills), (b"[" + b",".join(parts) + b"]").decode())
    out = [derived[sig] for sig in signatures]
    return Teaching(skills=[s for s, _ in out], evidence_json=[e for _, e in out],
                    occupations=[list(o or ()) for o in occupations], phrases=len(fresh), matched=matched)


__all__ = ["FIELDS", "TEXT_MIN_SCORE", "TEXT_MORE_SCORE", "Teaching", "derive_teaching", "explain", "phrases"]
