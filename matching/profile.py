"""A person's own words to a seeker's profile (issue 21 item 4): past jobs and what they did, as typed.

Interface::

    profile = read_profile(titles, skills, [Experience("Préparateur de commandes", "Cariste 3 ans, ...")],
                           text="J'ai conduit des chariots élévateurs, fait les inventaires.", k=5)
    profile.occupations   # (ProfileOccupation(code, label, score, matched, experience), ...): every
                          # experience's candidates, a code kept once at its best score, best first
    profile.experiences   # (ExperienceMatch(occupation: Match, skills), ...): one per experience, in order
    profile.skills        # (ProfileSkill(code, label, score, sentence, source), ...): referential skills
                          # named in the descriptions and the text, each with the phrase it came from
    profile.seeker()      # {"occupation", "past_occupations", "skills"}: the fields of a seeker record

The same path as a whole job ad (:mod:`matching.offers`): each experience's title goes through
``titles.batch`` (lexical, then the encoder where the words are not certain); the descriptions
and the free text are cut into phrases (:func:`phrases`: their comma-separated parts, because people
list what they did: "préparation de commandes, inventaires, réception", then the sentences and list
items of :func:`matching.offers.sentences`) and every distinct phrase goes through ``skills.batch``
in one call (:func:`matching.offers.find_skills`; a server may read the groups in parts, see
:func:`read_profile`).

Experiences are listed as on a CV, the most recent first: the seeker's ``occupation`` is the first
experience's best candidate when it is confident, ``past_occupations`` the confident best
candidates of the others (each once). A skill named in several places is kept once, where it was
named best (ties: the first place).

Pure: no file, network or database access.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from .errors import MatchingError
from .normalise import InvalidText, Match, validate_text
from .offers import MAX_DESCRIPTION_CHARS, MIN_SENTENCE_CHARS, SKILL_THRESHOLD, FoundSkill, find_skills, sentences

MAX_EXPERIENCES = 50
"""At most this many experiences in one profile (a seeker record holds 50 past occupations)."""
MAX_PROFILE_TEXT_CHARS = MAX_DESCRIPTION_CHARS
"""The free text of what the person did: at most as long as one ad's description."""

_COMMA = re.compile(r",\s+|\s+/\s+")
_FIRST_PERSON = re.compile(r"^(?:j['’]\s*ai|je|j['’]|nous\s+avons|on\s+a|ai)\s+", re.I)
"""How people open what they did ("J'ai conduit ...", "Je gérais ..."): dropped before matching,
as the words a skill label never holds (French, like the normaliser's abbreviations)."""


class InvalidProfile(MatchingError):
    """A profile the reader refuses: ``field`` (``experiences.<i>.title``, ``experiences.<i>.description``,
    ``text``, ``experiences``), what is wrong (``message``) and a short ``reason``."""

    def __init__(self, field: str, message: str, reason: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.reason = field, message, reason


class Experience(NamedTuple):
    """One past job as the person typed it: its ``title`` and, optionally, what they did there."""

    title: str
    description: str = ""


class ExperienceMatch(NamedTuple):
    """One experience read: the occupation candidates of its title and the skills its description names."""

    occupation: Match
    skills: tuple[FoundSkill, ...]

    def as_dict(self) -> dict:
        return {**self.occupation.as_dict(), "skills": [s.as_dict() for s in self.skills]}


class ProfileOccupation(NamedTuple):
    """A likely occupation of the person: its best score over the experiences, and which one gave it."""

    code: str
    label: str
    score: float
    matched: str
    experience: int

    def as_dict(self) -> dict:
        return self._asdict()


class ProfileSkill(NamedTuple):
    """A referential skill the person's words name: the phrase, and where it was (``experiences.<i>.description``
    or ``text``)."""

    code: str
    label: str
    score: float
    sentence: str
    source: str

    def as_dict(self) -> dict:
        return self._asdict()


class ProfileMatch(NamedTuple):
    """What a person's words read as (see the module docstring)."""

    occupations: tuple[ProfileOccupation, ...]
    experiences: tuple[ExperienceMatch, ...]
    skills: tuple[ProfileSkill, ...]

    def seeker(self) -> dict:
        """The fields of a seeker record (``POST /seekers``): ``occupation`` (the first experience's
        confident best, or None), ``past_occupations`` (the others' confident bests, each once, not
        the occupation) and ``skills`` (the codes found)."""
        bests = [e.occupation.best.code if e.occupation.best else None for e in self.experiences]
        current = bests[0] if bests else None
        past = [code for code in dict.fromkeys(b for b in bests[1:] if b) if code != current]
        return {"occupation": current, "past_occupations": past, "skills": [s.code for s in self.skills]}

    def as_dict(self) -> dict:
        return {"occupations": [o.as_dict() for o in self.occupations],
                "experiences": [e.as_dict() for e in self.experiences],
                "skills": [s.as_dict() for s in self.skills], "seeker": self.seeker()}


def phrases(text: str) -> list[str]:
    """The phrases of a person's text: its comma-separated (and " / "-separated) parts, a part of
    fewer than ``MIN_SENTENCE_CHARS`` characters joined to the one before it ("réception, SAV"),
    then cut into sentences and list items by :func:`matching.offers.sentences` (so a long list
    without a full stop is not cut off at 500 characters), each without its first-person opening
    ("J'ai ...", "Je ...")."""
    parts: list[str] = []
    for part in _COMMA.split(text):
        if parts and len(part.strip()) < MIN_SENTENCE_CHARS:
            parts[-1] = f"{parts[-1]}, {part}"
        else:
            parts.append(part)
    out = []
    for sentence in sentences("\n".join(parts)):
        phrase = _FIRST_PERSON.sub("", sentence.strip(" .;,"))
        if len(phrase) >= MIN_SENTENCE_CHARS:
            out.append(phrase)
    return out


def _check_long_text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidProfile(field, f"expected text, got {type(value).__name__}", "not-text")
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise InvalidProfile(field, f"the text has {len(value):,} characters; at most {MAX_DESCRIPTION_CHARS:,} "
                                    "are accepted", "too-long")
    return value


def check_profile(experiences: Sequence[Experience], text: str = "") -> tuple[list[Experience], str]:
    """The experiences (titles trimmed) and the text, checked; raises :class:`InvalidProfile` naming
    the first bad field. A profile needs at least one experience or some text."""
    if len(experiences) > MAX_EXPERIENCES:
        raise InvalidProfile("experiences", f"{len(experiences)} experiences; at most {MAX_EXPERIENCES} are accepted",
                             "too-many")
    clean = []
    for i, experience in enumerate(experiences):
        if not isinstance(experience, Experience):
            raise InvalidProfile(f"experiences.{i}", f"expected an Experience, got {type(experience).__name__}")
        try:
            title = validate_text(experience.title)
        except InvalidText as error:
            raise InvalidProfile(f"experiences.{i}.title", error.message, error.reason) from None
        clean.append(Experience(title, _check_long_text(experience.description, f"experiences.{i}.description")))
    text = _check_long_text(text, "text")
    if not clean and not text.strip():
        raise InvalidProfile("experiences", "nothing to read: give at least one experience (a job title) or the "
                                            "text of what the person did", "empty")
    return clean, text


def profile_phrases(experiences: Sequence[Experience], text: str = "") -> list[list[str]]:
    """The phrases to read for skills: one group per experience's description, then the text's."""
    return [phrases(e.description) for e in experiences] + [phrases(text)]


def read_profile(titles, skills, experiences: Sequence[Experience], text: str = "", k: int = 5,
                 skill_threshold: float = SKILL_THRESHOLD, workers: int = -1) -> ProfileMatch:
    """A person's past jobs and free text -> :class:`ProfileMatch`. ``titles``/``skills``: the
    referential's title and skill normalisers (the title one with its encoder where attached).
    Raises :class:`InvalidProfile` naming the first bad field.

    In steps, for a caller that reads the phrases in parts (a server between deadlines)::

        clean, text = check_profile(experiences, text)
        matches = titles.batch([e.title for e in clean], k=k)
        found = find_skills(skills, profile_phrases(clean, text))    # any split of the groups, concatenated
        profile = combine_profile(matches, found, k)
    """
    clean, text = check_profile(experiences, text)
    matches = titles.batch([e.title for e in clean], k=k, workers=workers) if clean else []
    found = find_skills(skills, profile_phrases(clean, text), skill_threshold, workers)
    return combine_profile(matches, found, k)


def combine_profile(matches: Sequence[Match], found: Sequence[tuple[FoundSkill, ...]], k: int = 5) -> ProfileMatch:
    """The profile from each experience's title :class:`Match` (in order) and the skills found in
    each group of :func:`profile_phrases` (``len(matches) + 1`` groups: the text's last)."""
    if len(found) != len(matches) + 1:
        raise ValueError(f"expected {len(matches) + 1} groups of skills found (one per experience, then the "
                         f"text's), got {len(found)}")
    read = tuple(ExperienceMatch(m, own) for m, own in zip(matches, found))

    best: dict[str, ProfileOccupation] = {}
    for i, match in enumerate(matches):
        for c in match.candidates:
            if c.code not in best or c.score > best[c.code].score:
                best[c.code] = ProfileOccupation(c.code, c.label, c.score, c.matched, i)
    occupations = tuple(sorted(best.values(), key=lambda o: (-o.score, o.code))[:k])

    named: dict[str, ProfileSkill] = {}
    sources = [f"experiences.{i}.description" for i in range(len(matches))] + ["text"]
    for source, own in zip(sources, found):
        for s in own:
            if s.code not in named or s.score > named[s.code].score:
                named[s.code] = ProfileSkill(s.code, s.label, s.score, s.sentence, source)
    ranked = tuple(sorted(named.values(), key=lambda s: (-s.score, s.code)))
    return ProfileMatch(occupations, read, ranked)
