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
    graceful_timeout: Annotated[float, typer.Option(
        help="Seconds a stopping server (SIGTERM, Ctrl-C) waits for requests in flight before cancelling "
             "them; heavy work stops at its next chunk.")] = 3.0,
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
    # create_served_app (the factory: create_app, then gc.freeze; called in each worker after uvicorn
    # configured logging) adds the filter
    # that redacts keys from the access log (api/http/security/logs.py)
    uvicorn.run("api.http.app:create_served_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", timeout_graceful_shutdown=graceful_timeout)
