"""The ``passerelles`` command.

Every command prints a clear message and exits with status 2 on bad input (a ``ReferentielError``,
an unknown code, an unreadable file): never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import referentiels
from matching.errors import MatchingError
from referentiels import ReferentielError, generic

app = typer.Typer(help="Passerelles: cross-sector career bridges and skills matching on ROME 4.0.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
referentiel_app = typer.Typer(help="Inspect, export and compare referentials.", no_args_is_help=True)
app.add_typer(referentiel_app, name="referentiel")

SourceOption = Annotated[Optional[str], typer.Option(
    "--referentiel", "-r", envvar="PASSERELLES_REFERENTIEL",
    help="Referential: demo, rome:DIR or csv:DIR (default: demo).")]


class UsageError(Exception):
    """A user mistake the CLI reports in one line, exit status 2."""


def fail(message: str) -> None:
    raise UsageError(message)


def emit_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@app.command()
def serve(
    referentiel: SourceOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from .settings import Settings

    if referentiel:
        os.environ["PASSERELLES_REFERENTIEL"] = referentiel
    settings = Settings()
    referentiels.load(settings.referentiel)  # fail fast, and warm the cache for the workers
    typer.echo(f"Passerelles on http://{host}:{port} (docs at /docs), referential {settings.referentiel}",
               err=True)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info")


@referentiel_app.command("info")
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


@referentiel_app.command("export")
def referentiel_export(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write the generic CSV format into.")],
) -> None:
    """Write a referential in the generic CSV folder format (docs/referentiel-format.md)."""
    r = referentiels.load(source)
    generic.write(r, to)
    typer.echo(f"wrote {r.name} {r.version} to {to} (fingerprint {r.fingerprint})")


# Command modules of later features register themselves on `app` when imported here.
COMMAND_MODULES: list[str] = ["api.cli_versions", "api.cli_normalise", "api.cli_kits", "api.cli_bridges", "api.cli_pool", "api.cli_keys", "api.cli_trainings", "api.cli_batch"]


def _load_command_modules() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``passerelles`` console script."""
    _load_command_modules()
    try:
        app(args=argv, prog_name="passerelles", standalone_mode=False)
    except (ReferentielError, MatchingError, UsageError, KeyError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        typer.echo(f"error: {message}", err=True)
        return 2
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as error:  # click's usage errors (typer vendors click: duck-typed)
        if hasattr(error, "show") and hasattr(error, "exit_code"):
            error.show()
            return int(error.exit_code)
        raise
    return 0


if __name__ == "__main__":
    # `python -m api.cli`: run the imported module's `main`, on whose `app` the command modules
    # (which import `api.cli`, not `__main__`) register their commands.
    from api.cli import main as package_main

    sys.exit(package_main())
