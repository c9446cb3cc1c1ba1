"""The ``passerelles`` command: every family's typer app joined here, and ``main``.

Every command prints a clear message and exits with status 2 on bad input (a ``ReferentielError``,
a ``ServiceError`` such as an unknown basin, an unknown code, an unreadable file): never a
traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import typer

from matching.errors import MatchingError
from referentiels import ReferentielError

from api.cli import (admin, batch_match, bridges, keys, kits, match, normalise, prescriptions, referentiel, serve,
                     trainings, versions)
from api.cli.common import UsageError
from api.services.errors import ServiceError
from api.storage.keys import KeyError_

app = typer.Typer(help="Passerelles: cross-sector career bridges and skills matching on ROME 4.0.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
referentiel.app.add_typer(versions.app)  # diff, upgrade, calibrate: under "referentiel"
app.add_typer(serve.app)
app.add_typer(referentiel.app, name="referentiel")
for family in (normalise, kits, bridges, match, keys, admin, trainings, batch_match, prescriptions):
    app.add_typer(family.app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``passerelles`` console script."""
    try:
        status = app(args=argv, prog_name="passerelles", standalone_mode=False)
    except (ReferentielError, MatchingError, UsageError, ServiceError, KeyError_, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        return 2
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as error:  # click's usage errors (typer vendors click: duck-typed), in one line
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            ctx = getattr(error, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"error: {error.format_message()}{where}", err=True)
            return int(error.exit_code)
        raise
    return status if isinstance(status, int) else 0  # a command's typer.Exit(n) (click returns it here)

