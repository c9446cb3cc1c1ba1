"""What every command family shares: the ``--referentiel``, ``--database`` and ``--json`` options,
usage errors, JSON output, reading a text input file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

SourceOption = Annotated[Optional[str], typer.Option(
    "--referentiel", "-r", envvar="PASSERELLES_REFERENTIEL",
    help="Referential: demo, rome:DIR or csv:DIR (default: demo).")]
DatabaseOption = Annotated[Optional[Path], typer.Option(
    "--database", "-d", envvar="PASSERELLES_DATABASE", help="SQLite database (default: passerelles.sqlite3).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class UsageError(Exception):
    """A user mistake the CLI reports in one line, exit status 2."""


def fail(message: str) -> None:
    raise UsageError(message)


def emit_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def database_path(database: Path | None) -> Path:
    """``--database`` when given, else the settings' (``PASSERELLES_DATABASE`` or the default)."""
    if database is not None:
        return database
    from api.settings import Settings

    return Settings().database


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of an input file (a leading BOM dropped), else a :class:`UsageError` naming the
    file and what is wrong: missing, binary (a NUL byte, with its offset), not UTF-8 (with the line
    and byte), or blank (``what``: the things expected in it, e.g. "texts to normalise")."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UsageError(f"{path}: binary data (a NUL byte at offset {nul}), expected UTF-8 text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UsageError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x})") from None
    if not text.strip():
        raise UsageError(f"{path}: no {what} (the file is empty)")
    return text


def json_lines(path: Path, text: str, expected: str):
    """``(line number, object)`` for each non-blank line of ``text`` read from ``path`` (JSON Lines),
    else a :class:`UsageError` naming the file and line: not JSON, or not an object (``expected``
    says what the object should hold)."""
    import json

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}, line {number}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise UsageError(f"{path}, line {number}: expected an object with {expected}")
        yield number, record


def read_csv_text(path: Path, text: str):
    """The CSV ``text`` read from ``path`` as a polars frame of strings (header on line 1), else a
    :class:`UsageError` naming the file and the parser's reason."""
    import io

    import polars as pl

    try:
        return pl.read_csv(io.StringIO(text), infer_schema=False)
    except Exception as error:  # noqa: BLE001 - polars raises several kinds for a bad file
        raise UsageError(f"{path}: not a readable CSV file ({error})") from None
