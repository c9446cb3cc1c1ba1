"""``passerelles referentiel info|export``: inspect a referential and write it in the generic format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import referentiels
from referentiels import generic

from api.cli.common import emit_json

app = typer.Typer(help="Inspect, export and compare referentials.", no_args_is_help=True)


@app.command("info")
def referentiel_info(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")] = "demo",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of occupations, skills, links, titles, sectors and mobilities, and the fingerprint."""
    r = referentiels.load(source)
    info = r.describe()
    if as_json:
        emit_json(info)
        return
    typer.echo(f"{r.name} {r.version}  ({r.source})")
    typer.echo(f"fingerprint  {r.fingerprint}")
    for name, value in info["counts"].items():
        typer.echo(f"{name:<20}{value:>10,}")


@app.command("export")
def referentiel_export(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write the generic CSV format into.")],
) -> None:
    """Write a referential in the generic CSV folder format (docs/referentiel-format.md)."""
    r = referentiels.load(source)
    generic.write(r, to)
    typer.echo(f"wrote {r.name} {r.version} to {to} (fingerprint {r.fingerprint})")
