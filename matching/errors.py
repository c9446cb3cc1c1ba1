"""The errors of the matching core: a request it cannot answer because of what the request names.

    MatchingError          the base
    └── UnknownSector      a sector name the referential does not have (``.known`` lists them)

None derives from ``KeyError`` or ``ValueError``: a surface that catches ``MatchingError`` catches
a person's mistake, never a lookup bug of the code (DESIGN.md, "Errors"). Wrong arguments from
code (a negative ``k``, arrays of the wrong shape) stay ``ValueError``, like numpy's and
scikit-learn's. Codes unknown to the referential are ``referentiels.errors.UnknownCode``.
"""

from __future__ import annotations


class MatchingError(Exception):
    """A request the core refuses because of what it names; ``str(error)`` says what and why."""


class UnknownSector(MatchingError):
    """A sector name the referential does not have. ``sector``: the name as given; ``known``: the
    referential's sector names (sorted), for suggestions."""

    def __init__(self, sector: str, known: list[str]) -> None:
        super().__init__(f"unknown sector {sector!r}")
        self.sector, self.known = sector, known


__all__ = ["MatchingError", "UnknownSector"]
