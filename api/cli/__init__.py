"""The ``passerelles`` command: one typer app per command family, joined in ``root``."""

from api.cli.root import app, main

__all__ = ["app", "main"]
