"""The errors of the data-in layer: each says where, what was expected, and what was found.

    ReferentielError            a referential, catalogue or basin file could not be read (the base)
    ├── NotYesNo                a yes/no cell holding none of the yes/no words
    └── UnknownCode             a lookup of a code the referential does not have
        ├── UnknownOccupation   occupation code    (Referentiel.occupation_row, .occupation)
        ├── UnknownSkill        skill code         (Referentiel.skill_column)
        └── UnknownBasin        job basin id       (territories.basins_within)

None derives from ``KeyError`` or ``ValueError``: a surface that catches these catches a person's
mistake, never a lookup bug of the code (DESIGN.md, "Errors").
"""

from __future__ import annotations

from typing import ClassVar


class ReferentielError(Exception):
    """A referential or catalogue could not be read.

    Every instance names the file, and when known the line (1-based, the header is line 1), the
    column, what was expected and what was found, so a person can fix the file without reading
    code. ``str(error)`` is that sentence.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.found is not None:
            found = self.found if len(self.found) <= 120 else self.found[:117] + "..."
            text += f", found {found!r}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
        }


class NotYesNo(ReferentielError):
    """A yes/no cell (``field``) holding none of the ``accepted`` words; the message lists them."""

    def __init__(self, field: str, found: str, *, accepted: tuple[str, ...], file: str | None = None,
                 line: int | None = None) -> None:
        self.field = field
        super().__init__("not a yes/no value", file=file, line=line, column=field,
                         expected=f"one of {', '.join(accepted)} (any case)", found=found)


class UnknownCode(ReferentielError):
    """A code looked up that the referential does not have. ``code``: the code as given;
    ``field``: the input field that held it, when known. ``str(error)`` names both."""

    what: ClassVar[str] = "code"

    def __init__(self, code: str, *, field: str | None = None) -> None:
        self.code = code
        super().__init__(f"unknown {self.what} {code!r}", column=field)


class UnknownOccupation(UnknownCode):
    what = "occupation code"


class UnknownSkill(UnknownCode):
    what = "skill code"


class UnknownBasin(UnknownCode):
    what = "job basin"


__all__ = ["NotYesNo", "ReferentielError", "UnknownBasin", "UnknownCode", "UnknownOccupation", "UnknownSkill"]
