"""Reading CSV files strictly: encoding, emptiness and columns checked, errors that say where.

Shared by every reader of this package (generic referentials, trainings, territories).
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from .errors import NotYesNo, ReferentielError

LINE = "_line"  # the 1-based line number of each row in its file (header = line 1)


def decode(path: Path, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """Read ``path`` as text in the first of ``encodings`` that decodes it.

    A file that decodes in none raises ``ReferentielError`` naming the line and column of the
    first undecodable byte of the first encoding tried.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReferentielError("file not found", file=str(path), expected="an existing file") from None
    except IsADirectoryError:
        raise ReferentielError("is a directory", file=str(path), expected="a CSV file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    first_error: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            first_error = first_error or error
    assert first_error is not None
    offset = first_error.start
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    raise ReferentielError(
        f"cannot decode byte {data[offset:offset + 1]!r} at character {offset - line_start + 1}",
        file=str(path), line=line, expected=f"text encoded in {' or '.join(encodings)}",
        found=data[line_start:offset + 20].decode("latin-1", "replace"),
    )


def read_csv(
    path: Path,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    encodings: tuple[str, ...] = ("utf-8",),
    allow_empty: bool = False,
) -> pl.DataFrame:
    """Read a CSV file as strings, trimmed, with a ``_line`` column; check columns and emptiness.

    Returns a frame with every required and optional column (missing optional ones are null) and
    ``_line``. Empty strings become null.
    """
    text = decode(path, encodings)
    if not text.strip():
        raise ReferentielError("the file is empty", file=str(path),
                               expected=f"a header line with columns {', '.join(required)}", found="")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=False)
    except Exception as error:  # polars raises ComputeError and friends with a useful message
        raise ReferentielError(f"malformed CSV: {str(error).splitlines()[0]}", file=str(path),
                               expected="comma-separated values with a header line") from None
    header = [c.strip().lstrip("\ufeff") for c in frame.columns]
    frame.columns = header
    missing = [c for c in required if c not in header]
    if missing:
        raise ReferentielError(
            f"missing column(s) {', '.join(repr(m) for m in missing)}", file=str(path), line=1,
            expected=f"columns {', '.join(required)}" + (f" (optional: {', '.join(optional)})" if optional else ""),
            found=",".join(header),
        )
    if frame.height == 0 and not allow_empty:
        raise ReferentielError("the file has a header but no rows", file=str(path), line=2,
                               expected="at least one row", found="end of file")
    columns = []
    for c in required + optional:
        if c in header:
            columns.append(pl.col(c).str.strip_chars().replace("", None).alias(c))
        else:
            columns.append(pl.lit(None, dtype=pl.String).alias(c))
    # Line numbers: rows are counted from line 2; a quoted field may span lines, which polars
    # hides, so fall back to row position + 2 (exact for the one-line rows these formats use).
    return frame.select(columns).with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def require_values(frame: pl.DataFrame, columns: tuple[str, ...], file: str) -> None:
    """Raise on the first row where one of ``columns`` is empty."""
    for column in columns:
        bad = frame.filter(pl.col(column).is_null())
        if bad.height:
            raise ReferentielError("empty value", file=file, line=int(bad[LINE][0]), column=column,
                                   expected="a non-empty value", found="")


def require_unique(frame: pl.DataFrame, columns: list[str], file: str, what: str) -> None:
    """Raise on the first duplicate of ``columns``, naming both lines."""
    dup = frame.filter(pl.struct(columns).is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        same = dup.filter(pl.all_horizontal([pl.col(c) == first[c] for c in columns]))
        lines = sorted(int(x) for x in same[LINE].to_list())
        value = ", ".join(str(first[c]) for c in columns)
        raise ReferentielError(f"duplicate {what} (also on line {lines[0]})", file=file,
                               line=lines[1], column=",".join(columns),
                               expected=f"each {what} once", found=value)


def require_known(frame: pl.DataFrame, column: str, known: pl.Series, file: str, what: str) -> None:
    """Raise on the first row whose ``column`` is not among ``known`` codes."""
    bad = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(known.implode()))
    if bad.height:
        raise ReferentielError(f"unknown {what}", file=file, line=int(bad[LINE][0]), column=column,
                               expected=f"a {what} defined in the referential",
                               found=str(bad[column][0]))


YES_WORDS: tuple[str, ...] = ("true", "yes", "oui", "vrai", "1")
NO_WORDS: tuple[str, ...] = ("false", "no", "non", "faux", "0")
"""The yes/no words of every CSV this project reads (``core``, ``principal``, ``remote``, a seeker's
``consent``), compared trimmed and in any case; the formats' docs list them. The only ones: a cell
such as "x", "y" or "maybe" is refused, not guessed."""


def parse_yes_no(value: str | None, field: str) -> bool | None:
    """One yes/no cell: True for a :data:`YES_WORDS` word, False for a :data:`NO_WORDS` word
    (trimmed, any case), None when empty or None (the caller's default applies).

    Anything else raises :class:`~referentiels.errors.NotYesNo` (a ``ReferentielError``) naming the
    field, the value found and the accepted words."""
    if value is None:
        return None
    word = str(value).strip().lower()
    if not word:
        return None
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise NotYesNo(field, str(value), accepted=YES_WORDS + NO_WORDS)


def parse_bool(frame: pl.DataFrame, column: str, file: str, default: bool = False) -> pl.Series:
    """A column of yes/no cells (see :data:`YES_WORDS`) as Boolean; ``default`` where empty.

    The first other value raises :class:`~referentiels.errors.NotYesNo` naming the file, its line
    and the column."""
    lowered = frame[column].str.to_lowercase()
    bad = frame.filter(lowered.is_not_null() & ~lowered.is_in(YES_WORDS + NO_WORDS))
    if bad.height:
        raise NotYesNo(column, str(bad[column][0]), accepted=YES_WORDS + NO_WORDS, file=file,
                       line=int(bad[LINE][0]))
    return frame.select(
        pl.when(lowered.is_null()).then(pl.lit(default)).otherwise(lowered.is_in(YES_WORDS))
    ).to_series().alias(column)


def parse_float(frame: pl.DataFrame, column: str, file: str, *, default: float,
                positive: bool = True) -> pl.Series:
    values = frame[column].str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    bad = frame.filter(frame[column].is_not_null() & values.is_null())
    if bad.height:
        raise ReferentielError("not a number", file=file, line=int(bad[LINE][0]), column=column,
                               expected="a decimal number such as 1 or 0.5", found=str(bad[column][0]))
    values = values.fill_null(default)
    if positive:
        bad = frame.filter(~(values > 0) | values.is_nan() | values.is_infinite())
        if bad.height:
            raise ReferentielError("weight must be positive", file=file, line=int(bad[LINE][0]),
                                   column=column, expected="a finite number > 0",
                                   found=str(bad[column][0]))
    return values


def parse_int(frame: pl.DataFrame, column: str, file: str) -> pl.Series:
    values = frame[column].cast(pl.Int64, strict=False)
    bad = frame.filter(frame[column].is_not_null() & values.is_null())
    if bad.height:
        raise ReferentielError("not an integer", file=file, line=int(bad[LINE][0]), column=column,
                               expected="a whole number such as 1", found=str(bad[column][0]))
    return values
