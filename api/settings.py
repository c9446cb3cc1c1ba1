"""Settings from environment variables ``PASSERELLES_*`` (or keyword arguments in tests)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLES_", extra="ignore")

    referentiel: str = "demo"
    """Source of the served referential: ``demo``, ``rome:DIR`` or ``csv:DIR``."""
    database: Path = Path("passerelles.sqlite3")
    """SQLite file of seekers, offers, trainings, keys and audit log."""
    cache_dir: Path | None = None
    """Where built referentials and skill spaces are cached (default ``~/.cache/passerelles``)."""
    max_body_bytes: int = 5_000_000
    """Largest accepted request body (413 above)."""
