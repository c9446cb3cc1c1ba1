"""A seeded generator of job titles as people type them, for measuring the normaliser's accuracy.

From real titles of a referential, each noise kind writes one variant the way a counsellor, a
seeker or a job ad would:

- ``masculine`` / ``feminine``: one gendered form only ("Soudeuse TIG" for "Soudeur / Soudeuse TIG");
- ``no_accents``: accents dropped and the case changed ("CONDUCTEUR DE LIGNE", "electricien");
- ``typo``: one or two keyboard slips (a letter dropped, doubled, swapped with its neighbour,
  replaced) in words of four letters or more;
- ``swapped``: two neighbouring words exchanged ("ligne conducteur de");
- ``abbreviated``: words replaced by their job-ad abbreviation ("resp. prod"), else an ad-style
  "(H/F)" suffix;
- ``truncated``: the first 60 to 85 % of the characters, cut anywhere, as typed before finishing.

Deterministic for a given seed (``random.Random``); pure, no I/O.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from .normalise import ABBREVIATIONS, split_gendered, strip_accents

NOISE_KINDS: tuple[str, ...] = ("masculine", "feminine", "no_accents", "typo", "swapped", "abbreviated",
                                "truncated")

# Folded word -> its abbreviation (single-word expansions only, shortest abbreviation wins).
_ABBREVIATE: dict[str, str] = {}
for _abbr, _full in sorted(ABBREVIATIONS.items(), key=lambda kv: (len(kv[0]), kv[0])):
    if " " not in _full:
        _ABBREVIATE.setdefault(_full, _abbr)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class NoisyTitle:
    text: str      # what the person typed
    kind: str      # one of NOISE_KINDS
    source: str    # the referential's title it was written from
    code: str      # the occupation code of that title


def gender_forms(title: str) -> tuple[str, str]:
    """(masculine, feminine) forms of a title; the title twice when it is not gendered."""
    pair = split_gendered(title)
    return pair if pair is not None else (title, title)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "double", "swap", "replace"))
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice(_LETTERS) + word[i + 1:]


def add_noise(title: str, kind: str, rng: random.Random) -> str:
    """One noisy variant of ``title`` of the given ``kind`` (see the module docstring)."""
    masc, fem = gender_forms(title)
    form = rng.choice((masc, fem))
    if kind == "masculine":
        return masc
    if kind == "feminine":
        return fem
    if kind == "no_accents":
        plain = "".join(c for c in unicodedata.normalize("NFKD", form) if not unicodedata.combining(c))
        return rng.choice((plain.lower(), plain.upper(), plain))
    words = form.split()
    if kind == "typo":
        long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if not long_words:
            return form
        n = 2 if len(form) > 30 and len(long_words) > 1 else 1
        for i in rng.sample(long_words, n):
            words[i] = _typo(words[i], rng)
        return " ".join(words)
    if kind == "swapped":
        if len(words) < 2:
            return form
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)
    if kind == "abbreviated":
        out, changed = [], False
        for w in words:
            abbr = _ABBREVIATE.get(strip_accents(w))
            if abbr and rng.random() < 0.8:
                out.append(abbr + rng.choice(("", ".")))
                changed = True
            else:
                out.append(w)
        text = " ".join(out)
        return text if changed else text + rng.choice((" (H/F)", " H/F", " F/H"))
    if kind == "truncated":
        cut = max(3, round(len(form) * rng.uniform(0.6, 0.85)))
        return form[:cut].rstrip()
    raise ValueError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")


def noisy_titles(titles: Sequence[tuple[str, str]], n_titles: int, seed: int = 0,
                 kinds: Sequence[str] = NOISE_KINDS) -> list[NoisyTitle]:
    """``n_titles`` (title, code) pairs drawn without replacement, each written once in every kind."""
    rng = random.Random(seed)
    chosen = rng.sample(list(titles), min(n_titles, len(titles)))
    return [NoisyTitle(add_noise(title, kind, rng), kind, title, code) for title, code in chosen for kind in kinds]


def title_accuracy(matches: Sequence, truths: Sequence[set[str] | frozenset[str]], groups: Sequence[str] | None = None,
                   ) -> dict[str, tuple[int, int, int]]:
    """Per group (and ``"all"``): (texts, right at top 1, right in the top 5).

    ``matches``: the normaliser's answers (``Match``, candidates best first); ``truths``: for each
    text the codes counted as right (a referential may list one title under two codes).
    """
    counts: dict[str, list[int]] = {}
    for i, (match, right) in enumerate(zip(matches, truths)):
        found = [c.code for c in match.candidates]
        for key in ("all",) if groups is None else ("all", groups[i]):
            c = counts.setdefault(key, [0, 0, 0])
            c[0] += 1
            c[1] += bool(found) and found[0] in right
            c[2] += bool(set(right) & set(found[:5]))
    return {key: (c[0], c[1], c[2]) for key, c in counts.items()}
