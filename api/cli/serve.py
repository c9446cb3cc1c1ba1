"""``passerelles serve``: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

import referentiels

from api.cli.common import SourceOption

app = typer.Typer()


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

    from api.settings import Settings

    if referentiel:
        os.environ["PASSERELLES_REFERENTIEL"] = referentiel
    settings = Settings()
    referentiels.load(settings.referentiel)  # fail fast, and warm the cache for the workers
    typer.echo(f"Passerelles on http://{host}:{port} (docs at /docs), referential {settings.referentiel}",
               err=True)
    uvicorn.run("api.http.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info")
