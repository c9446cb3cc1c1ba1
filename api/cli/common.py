"""What every command family shares: the ``--referentiel`` option, usage errors, JSON output."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

SourceOption = Annotated[Optional[str], typer.Option(
    "--referentiel", "-r", envvar="PASSERELLES_REFERENTIEL",
    help="Referential: demo, rome:DIR or csv:DIR (default: demo).")]


class UsageError(Exception):
    """A user mistake the CLI reports in one line, exit status 2."""


def fail(message: str) -> None:
    raise UsageError(message)


def emit_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))
