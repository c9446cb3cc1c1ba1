"""``passerelles kit``: a bridge kit for a pair of sectors and a territory, as xlsx, html, json or csv."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from api.cli.common import SourceOption, fail
from api.services.kits.export import write
from api.services.kits.build import build_kit
from api.services.kits.sources import kit_inputs

app = typer.Typer()


@app.command("kit")
def kit(
    from_sector: Annotated[str, typer.Option("--from-sector", help="Sector the people come from.")],
    to_sector: Annotated[str, typer.Option("--to-sector", help="Sector they move to.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (a .zip for csv).")],
    fmt: Annotated[Literal["xlsx", "html", "json", "csv"], typer.Option("--format", help="xlsx, html, json or csv.")] = "xlsx",
    basin: Annotated[Optional[list[str]], typer.Option("--basin", help="Job basin id (repeatable).")] = None,
    catalogue: Annotated[Optional[Path], typer.Option("--catalogue", help="Training catalogue file.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Bridges kept per source occupation.")] = 5,
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0)] = 0.0,
    referentiel: SourceOption = None,
) -> None:
    """Write the kit of FROM-SECTOR <-> TO-SECTOR: bridges both ways, common skills, hubs, plans, tension."""
    from matching.passerelles import UnknownSector

    from api.settings import Settings
    from api.services.state import AppState

    settings = Settings(**({"referentiel": referentiel} if referentiel else {}))
    state = AppState.from_settings(settings)
    inputs = kit_inputs(state, basins=basin or [], catalogue=catalogue)
    with typer.progressbar(length=1, label="bridges", file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - last[0])
            last[0] = done

        try:
            result = build_kit(state.referentiel, state.passerelles, from_sector, to_sector,
                               k_per_source=k, min_score=min_score, progress=progress, **inputs)
        except UnknownSector as error:
            fail(f"unknown sector {error.sector!r}; known sectors: {', '.join(error.known)}")
    path = write(result, fmt, out)
    counts = result.summary["counts"]
    typer.echo(f"wrote {fmt} kit {result.summary['from_sector']} <-> {result.summary['to_sector']} to {path}: "
               f"{counts['bridges_forward']} + {counts['bridges_backward']} bridges, "
               f"{counts['common_skills']} common skills held, {counts.get('close_skills', 0)} close apart", err=True)
