"""The labelled free-text skills set (benchmarks/labels/free_text_skills.csv) and its measures.

    phrases = load_skill_set()                          # list[LabelledSkill], the split checked
    counts = skill_accuracy(normaliser.batch([p.phrase for p in phrases], k=5), phrases)

Measures (per split): ``top1`` / ``top5``: share of the phrases that have codes whose first
candidate (any of the first five) is one of them; ``precision``: among all phrases (``none``
ones included) answered ``confident``, the share whose best candidate is right (a confident
answer to a ``none`` phrase is wrong); ``claims`` / ``claim_precision``: the same at
``claim_score`` (0.75, the score at which matching/offers.py and matching/training_skills.py
claim a skill from a sentence). See benchmarks/labels/free_text_skills.md for the rule.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

SET_PATH = Path(__file__).resolve().parent / "labels" / "free_text_skills.csv"
SPLITS = ("dev", "held-out")
CLAIM_SCORE = 0.75


class SkillSetError(Exception):
    """The labelled file is not what the rule says (the message names the line and the field)."""


@dataclass(frozen=True)
class LabelledSkill:
    phrase: str
    origin: str
    codes: frozenset[str]     # empty: "none"
    split: str


def split_of(phrase: str) -> str:
    """``dev`` when the first hex digit of sha256(phrase) is 0-7, else ``held-out``."""
    return "dev" if hashlib.sha256(phrase.encode("utf-8")).hexdigest()[0] in "01234567" else "held-out"


def load_skill_set(path: Path = SET_PATH) -> list[LabelledSkill]:
    """The phrases of ``path``; raises :class:`SkillSetError` where a split differs from the hash
    rule, a code is not a number, or a phrase repeats."""
    out: list[LabelledSkill] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            phrase, codes, split = row["phrase"], row["codes"].strip(), row["split"]
            if phrase in seen:
                raise SkillSetError(f"{path}:{line}: phrase {phrase!r} appears twice")
            seen.add(phrase)
            if split != split_of(phrase):
                raise SkillSetError(f"{path}:{line}: split {split!r}, the hash rule says {split_of(phrase)!r}")
            parsed = frozenset() if codes == "none" else frozenset(c.strip() for c in codes.split(";"))
            if any(not c.isdigit() for c in parsed):
                raise SkillSetError(f"{path}:{line}: codes {codes!r}: expected ';'-separated ROME codes or 'none'")
            out.append(LabelledSkill(phrase, row["origin"], parsed, split))
    return out


def skill_accuracy(matches: Sequence, phrases: Sequence[LabelledSkill], claim_score: float = CLAIM_SCORE
                   ) -> dict[str, dict[str, float]]:
    """Per split (and ``"all"``): ``{"phrases", "coded", "top1", "top5", "confident", "precision",
    "claims", "claim_precision"}`` (shares in [0, 1]; ``matches[i]`` answers ``phrases[i]``)."""
    raw: dict[str, dict[str, int]] = {}
    for match, item in zip(matches, phrases):
        found = [c.code for c in match.candidates]
        right_first = bool(found) and found[0] in item.codes
        for key in ("all", item.split):
            c = raw.setdefault(key, dict.fromkeys(("phrases", "coded", "top1", "top5", "confident", "right",
                                                   "claims", "claims_right"), 0))
            c["phrases"] += 1
            if item.codes:
                c["coded"] += 1
                c["top1"] += right_first
                c["top5"] += bool(item.codes & set(found[:5]))
            if match.confident:
                c["confident"] += 1
                c["right"] += right_first
            if found and match.candidates[0].score >= claim_score:
                c["claims"] += 1
                c["claims_right"] += right_first
    out = {}
    for key, c in raw.items():
        out[key] = {"phrases": c["phrases"], "coded": c["coded"],
                    "top1": c["top1"] / max(c["coded"], 1), "top5": c["top5"] / max(c["coded"], 1),
                    "confident": c["confident"], "precision": c["right"] / max(c["confident"], 1),
                    "claims": c["claims"], "claim_precision": c["claims_right"] / max(c["claims"], 1)}
    return out
