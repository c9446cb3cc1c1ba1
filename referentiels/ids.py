"""The one rule for identifiers (seekers, offers, trainings, employers), and the JSON depth limit.

Every input path applies them: the JSON API (``api.http.ids``), bulk ingest of CSV / Parquet /
JSON Lines / JSON (``api.services.pool_service``), training catalogues (``referentiels.trainings``),
batch inputs and the CLI. They live here, in the lowest layer, so that every one of those can import
them (DESIGN.md: "Identifiers ... one rule everywhere").

The rule (:func:`canonical_id`)
    An id is a **string** (a number, a list or an object is refused, never turned into text). It is
    taken in its **canonical form**: Unicode NFC, leading and trailing spaces, tabs and line breaks
    removed — so "S-é" composed and decomposed are one id. The canonical form must then be:

    - not empty, at most :data:`MAX_ID_LENGTH` (100) characters;
    - without ``/``, and neither ``.`` nor ``..`` (an id travels as one segment of a URL path,
      ``/seekers/{id}``, where clients resolve dot segments before sending);
    - printable: no character of the Unicode categories Cc (controls: NUL, newline ...), Cf
      (format: U+202E right-to-left override and the other bidirectional marks, U+200B zero-width
      space, U+FEFF BOM ...), Cs, Co, Cn (surrogates, private use, unassigned), Zl, Zp (line and
      paragraph separators), nor a space other than U+0020 (no-break, thin, ideographic spaces ...).
      That is Python's ``str.isprintable``.

    A refusal is an :class:`InvalidId` (a ``ReferentielError``) whose message names the field, the
    rule broken and, for a character, its code point and category.

Vectorised (:func:`check_ids`): a polars column of ids -> (canonical ids, reason or null per row).
ASCII ids are checked by one regular expression; only the others go through :func:`canonical_id`,
once per distinct value, so Python and polars can never disagree on a character's category.

JSON depth (:func:`check_json_depth`): a body nested deeper than :data:`MAX_JSON_DEPTH` is refused
*before* it is parsed: Python's ``json`` raises ``RecursionError`` near 1,000 levels, and polars
reads a field nested 1,000 deep into a 1,000-deep type that later operations cannot handle (and
overflows its stack far deeper). Measured without parsing, vectorised (numpy) over the bytes.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import polars as pl

from .errors import ReferentielError

MAX_ID_LENGTH = 100
MAX_JSON_DEPTH = 64
#: What the canonical form strips at both ends (the same set in Python and in polars).
TRIMMED = " \t\r\n"
RULE = (f"an id is text of 1 to {MAX_ID_LENGTH} printable characters (Unicode NFC), without '/', "
        "control, format or bidirectional characters, and not '.' or '..'")
# An ASCII id that is certainly valid: printable ASCII, no '/', no space at either end.
_ASCII_OK = r"^[!-.0-~]([ -.0-~]{0,98}[!-.0-~])?$"


class InvalidId(ReferentielError):
    """An identifier that breaks the id rule. ``field``: the input field (``id``, ``employer`` ...);
    ``reason``: the rule broken, in words; ``value``: what was given (any JSON value)."""

    def __init__(self, field: str, reason: str, value: object, *, file: str | None = None,
                 line: int | None = None) -> None:
        self.field, self.reason, self.value = field, reason, value
        shown = value if isinstance(value, str) else repr(value)
        super().__init__(f"invalid {field}: {reason}", file=file, line=line, column=field,
                         expected=RULE, found=shown if len(shown) <= 120 else shown[:117] + "...")


def _character(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "") + f" (category {unicodedata.category(ch)})"


def id_problem(value: object) -> tuple[str | None, str | None]:
    """(canonical id, None) when ``value`` is a valid id, else (None, the rule it breaks in words)."""
    if not isinstance(value, str):
        kind = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object",
                type(None): "null"}.get(type(value), type(value).__name__)
        return None, f"must be text, not {kind}"
    text = unicodedata.normalize("NFC", value).strip(TRIMMED)
    if not text:
        return None, "must not be empty"
    if len(text) > MAX_ID_LENGTH:
        return None, f"must have at most {MAX_ID_LENGTH} characters (it has {len(text)})"
    if "/" in text:
        return None, "must not contain '/' (an id is one segment of a URL path)"
    if text in (".", ".."):
        return None, f"must not be {text!r} (a URL path segment that clients resolve away)"
    if not text.isprintable():
        bad = next(ch for ch in text if not ch.isprintable())
        return None, f"must hold printable characters only, not {_character(bad)}"
    return text, None


def canonical_id(value: object, field: str = "id") -> str:
    """The canonical form of an id (NFC, trimmed), or :class:`InvalidId` naming ``field`` and the rule."""
    text, reason = id_problem(value)
    if reason is not None:
        raise InvalidId(field, reason, value)
    return text  # type: ignore[return-value]


def is_canonical_id(value: object) -> bool:
    """True when ``value`` is a valid id already in canonical form (what the store may hold)."""
    text, _ = id_problem(value)
    return text is not None and text == value


def check_ids(ids: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(canonical ids, reasons) of a String column, vectorised: ``reasons`` is null where the id is
    valid, else the rule broken in words (canonical id null). A null id gives the reason 'missing'."""
    if ids.dtype != pl.String:
        raise TypeError(f"check_ids expects a String column, got {ids.dtype}")
    frame = pl.DataFrame({"v": ids})
    ascii_ok = frame.select(pl.col("v").str.contains(_ASCII_OK).fill_null(False)
                            & ~pl.col("v").is_in([".", ".."]).fill_null(False))["v"]
    others = frame.filter(~ascii_ok & pl.col("v").is_not_null())["v"].unique()
    checked = [id_problem(v) for v in others.to_list()]
    table = pl.DataFrame({"v": others, "canonical": [c for c, _ in checked], "reason": [r for _, r in checked]},
                         schema={"v": pl.String, "canonical": pl.String, "reason": pl.String})
    out = frame.with_columns(ascii_ok.alias("_ok")).join(table, on="v", how="left", maintain_order="left")
    canonical = out.select(pl.when(pl.col("_ok")).then(pl.col("v")).otherwise(pl.col("canonical")))
    reason = out.select(pl.when(pl.col("_ok")).then(pl.lit(None, dtype=pl.String))
                        .when(pl.col("v").is_null()).then(pl.lit("is missing"))
                        .otherwise(pl.col("reason")))
    return canonical.to_series().alias(ids.name), reason.to_series().alias("reason")


def json_depth(data: bytes, chunk: int = 1 << 22) -> int:
    """The deepest nesting of arrays and objects in JSON text (or JSON Lines), without parsing it.

    Vectorised over the bytes (numpy, in chunks of ``chunk`` bytes, ~10 ms per MB): a quote
    preceded by an even run of backslashes opens or closes a string; brackets count outside strings."""
    if b"[" not in data and b"{" not in data:
        return 0
    codes = np.frombuffer(data, dtype=np.uint8)
    deepest = level = 0
    in_string = 0  # 1 when the previous chunk ended inside a string
    carried = 0  # length of the backslash run that ended the previous chunk
    for start in range(0, len(codes), chunk):
        part = codes[start:start + chunk]
        n = len(part)
        backslash = part == 92
        if carried or backslash.any():
            index = np.arange(n, dtype=np.int64)
            last_other = np.where(backslash, -1, index)
            np.maximum.accumulate(last_other, out=last_other)  # last non-backslash at or before each byte
            run = np.empty(n, dtype=np.int64)  # backslashes just before each byte
            run[0] = carried
            run[1:] = index[:-1] - last_other[:-1] + np.where(last_other[:-1] < 0, carried, 0)
            quote = (part == 34) & (run % 2 == 0)
            carried = int(n - 1 - last_other[-1]) + (carried if last_other[-1] < 0 else 0)
        else:  # no escape in this chunk (the common case): every quote counts
            quote = part == 34
        outside = ((np.cumsum(quote, dtype=np.int32) + in_string) & 1) == 0
        step = (((part == 91) | (part == 123)) & outside).astype(np.int32)
        step -= (((part == 93) | (part == 125)) & outside).astype(np.int32)
        running = np.cumsum(step, dtype=np.int32) + level
        deepest, level = max(deepest, int(running.max())), int(running[-1])
        in_string = 0 if outside[-1] else 1
    return deepest


def check_json_depth(data: bytes, file: str | None = None, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ``ReferentielError`` ('too deep') when ``data`` nests arrays/objects deeper than ``limit``."""
    depth = json_depth(data)
    if depth > limit:
        raise ReferentielError("the JSON is nested too deep", file=file,
                               expected=f"at most {limit} levels of arrays and objects", found=f"{depth} levels")


__all__ = ["InvalidId", "MAX_ID_LENGTH", "MAX_JSON_DEPTH", "RULE", "canonical_id", "check_ids", "check_json_depth",
           "id_problem", "is_canonical_id", "json_depth"]
