"""The one error of the data-in layer: it says where, what was expected, and what was found."""

from __future__ import annotations


class ReferentielError(ValueError):
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
