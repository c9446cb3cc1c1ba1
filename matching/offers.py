"""Whole job ads to codes (issue 21 item 3): the occupation, and the skills the description names.

Interface::

    results = read_offers(titles, skills, [OfferText("Développeur JAVA (H/F)", description)], k=5)
    results[0].occupation      # Match: the ad's title through the title normaliser (with its encoder
                               # where one is attached), candidates best first
    results[0].skills          # (FoundSkill(code, label, score, sentence), ...): referential skills
                               # named in the description, each with the sentence it came from

How: the title goes through ``titles.batch`` (lexical, then the encoder where the words are not
certain). The description is cut into sentences and list items (:func:`sentences`); each goes
through ``skills.batch`` and a skill is kept when its best score is >= ``skill_threshold``
(0.75: the sentence says the skill's label nearly word for word), once per ad, with the first
sentence that named it best.

Measured on offers-dev's 3,547 ads that carry their text (docs/normalise.md): the skills found
do not move the occupation (an occupation profile built from them: top-1 0.491 -> 0.492), and
neither does the description's e5 embedding (300 ads: 0.480 -> 0.487): the title decides; the
description gives the skills. ``naf`` (the employer's NAF code) is checked and carried, not used:
the referential has no NAF table.

Pure: no file, network or database access.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple, Sequence

from .errors import MatchingError
from .normalise import MAX_TEXT_CHARS, InvalidText, Match, validate_text

MAX_DESCRIPTION_CHARS = 20_000
SKILL_THRESHOLD = 0.75
MIN_SENTENCE_CHARS = 8

_NAF = re.compile(r"^\d{2}\.?\d{2}[A-Z]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ufffe\uffff]")
_SPLIT = re.compile(r"(?:\n+|[•·▪●◦►✓]|(?<=[.!?;:])\s+|\s+[-–]\s+|^\s*[-–*]\s*)", re.M)


class InvalidOffer(MatchingError):
    """An ad the reader refuses: ``field`` (title, description, naf), ``index`` in the batch, why."""

    def __init__(self, field: str, message: str, index: int | None = None, reason: str = "invalid") -> None:
        where = field if index is None else f"item {index}, {field}"
        super().__init__(f"{where}: {message}")
        self.field, self.index, self.message, self.reason = field, index, message, reason


class OfferText(NamedTuple):
    """One ad as sent: ``title`` (required), ``description`` and ``naf`` (optional)."""

    title: str
    description: str = ""
    naf: str | None = None


class FoundSkill(NamedTuple):
    """A referential skill named in an ad's description, with the sentence that named it."""

    code: str
    label: str
    score: float
    sentence: str

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "score": self.score, "sentence": self.sentence}


class OfferMatch(NamedTuple):
    """What one ad reads as: the occupation candidates, the skills found, the NAF code as given."""

    occupation: Match
    skills: tuple[FoundSkill, ...]
    naf: str | None = None

    def as_dict(self) -> dict:
        return {**self.occupation.as_dict(), "naf": self.naf, "skills": [s.as_dict() for s in self.skills]}


def sentences(description: str) -> list[str]:
    """The sentences and list items of an ad's text (HTML entities decoded, control characters
    dropped), each of at least ``MIN_SENTENCE_CHARS`` characters, cut to ``MAX_TEXT_CHARS``;
    section headings ("Missions :", "Rémunération :") are not sentences."""
    text = _CONTROL.sub(" ", html.unescape(description))
    out = []
    for part in _SPLIT.split(text):
        part = part.strip(" -–*\t\u00a0")
        if len(part) >= MIN_SENTENCE_CHARS and not part.endswith(":"):  # "Rémunération :" heads a section
            out.append(part[:MAX_TEXT_CHARS].strip())
    return out


def _check(offer: object, index: int) -> OfferText:
    if not isinstance(offer, OfferText):
        raise InvalidOffer("offer", f"expected an OfferText, got {type(offer).__name__}", index)
    try:
        title = validate_text(offer.title, index)
    except InvalidText as error:
        raise InvalidOffer("title", error.message, index, error.reason) from None
    description = offer.description or ""
    if not isinstance(description, str):
        raise InvalidOffer("description", f"expected text, got {type(description).__name__}", index, "not-text")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidOffer("description", f"the text has {len(description):,} characters; at most "
                                          f"{MAX_DESCRIPTION_CHARS:,} are accepted", index, "too-long")
    naf = offer.naf.strip().upper() if isinstance(offer.naf, str) and offer.naf.strip() else None
    if naf is not None and not _NAF.match(naf):
        raise InvalidOffer("naf", f"expected a NAF code such as 62.02A or 6202A, got {offer.naf!r}", index)
    return OfferText(title, description, naf)


def check_offers(offers: Sequence[OfferText]) -> list[OfferText]:
    """The ads trimmed and checked (NAF upper-cased); raises :class:`InvalidOffer` on the first bad one."""
    return [_check(offer, i) for i, offer in enumerate(offers)]


def find_skills(skills, texts: Sequence[Sequence[str]], skill_threshold: float = SKILL_THRESHOLD,
                workers: int = -1) -> list[tuple[FoundSkill, ...]]:
    """For each group of sentences (an ad's, a past job's), the referential skills they name: every
    distinct sentence through ``skills.batch`` in one call, a skill kept when its best score is >=
    ``skill_threshold``, once per group with the sentence that named it best; best first, ties by code."""
    flat = [s for group in texts for s in group]
    unique = list(dict.fromkeys(flat))   # an employer's boilerplate repeats from ad to ad: read it once
    read = dict(zip(unique, skills.batch(unique, k=1, workers=workers))) if unique else {}
    found = [read[s] for s in flat]
    out, position = [], 0
    for own in texts:
        best: dict[str, FoundSkill] = {}
        for sentence, match in zip(own, found[position:position + len(own)]):
            if match.candidates and match.candidates[0].score >= skill_threshold:
                c = match.candidates[0]
                if c.code not in best or c.score > best[c.code].score:
                    best[c.code] = FoundSkill(c.code, c.label, c.score, sentence)
        position += len(own)
        out.append(tuple(sorted(best.values(), key=lambda s: (-s.score, s.code))))
    return out


def read_offers(titles, skills, offers: Sequence[OfferText], k: int = 5, skill_threshold: float = SKILL_THRESHOLD,
                workers: int = -1) -> list[OfferMatch]:
    """One :class:`OfferMatch` per ad, in order. ``titles``/``skills``: the referential's title and
    skill normalisers. Raises :class:`InvalidOffer` naming the first bad ad and field."""
    clean = check_offers(offers)
    if not clean:
        return []
    occupations = titles.batch([o.title for o in clean], k=k, workers=workers)
    found = find_skills(skills, [sentences(o.description) for o in clean], skill_threshold, workers)
    return [OfferMatch(occupation, own, offer.naf) for offer, occupation, own in zip(clean, occupations, found)]
