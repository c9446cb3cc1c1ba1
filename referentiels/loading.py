"""``load(source)``: pick the reader for a source string and cache its result on disk.

The cache is keyed by the sha256 of the source files' bytes (plus the reader's format version), so
an edited file is re-read and an unchanged one is loaded from Parquet in a fraction of the time.
Cache folder: ``$PASSERELLES_CACHE_DIR``, else ``~/.cache/passerelles``; ``cache=False`` disables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from . import generic, rome
from .errors import ReferentielError
from .model import TABLES, Referentiel

DEMO_DIR = Path(__file__).parent / "demo"
CACHE_FORMAT = "1"
KINDS = ("demo", "rome", "csv")


def parse_source(source: str) -> tuple[str, Path]:
    """Split ``"rome:DIR"`` into ``("rome", Path(DIR))``; ``"demo"`` into ``("demo", DEMO_DIR)``."""
    source = (source or "").strip()
    if source == "demo":
        return "demo", DEMO_DIR
    kind, sep, rest = source.partition(":")
    if sep and kind in ("rome", "csv") and rest:
        return kind, Path(rest).expanduser()
    raise ReferentielError(
        "unknown referential source", expected="'demo', 'rome:DIR' or 'csv:DIR'", found=source,
    )


def default_cache_dir() -> Path:
    env = os.environ.get("PASSERELLES_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "passerelles"


def _files_key(kind: str, files: list[Path]) -> str:
    digest = hashlib.sha256(f"{kind}:{CACHE_FORMAT}".encode())
    for path in sorted(files):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _read(kind: str, directory: Path, source: str) -> Referentiel:
    if kind == "rome":
        return rome.read(directory, source=source)
    referentiel = generic.read(directory, source=source)
    return referentiel


def load(source: str = "demo", *, cache: bool | Path = True) -> Referentiel:
    """Load a referential from ``source``; see the module docstring for the cache."""
    kind, directory = parse_source(source)
    if not directory.is_dir():
        raise ReferentielError("referential folder not found", file=str(directory),
                               expected="an existing folder")
    if cache is False:
        return _read(kind, directory, source)
    files = rome.source_files(directory) if kind == "rome" else generic.source_files(directory)
    key = _files_key(kind, files)
    root = default_cache_dir() if cache is True else Path(cache)
    entry = root / key
    if (entry / "meta.json").exists():
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            tables = {name: pl.read_parquet(entry / f"{name}.parquet") for name in TABLES}
            return Referentiel.from_tables(name=meta["name"], version=meta["version"], source=source, **tables)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            shutil.rmtree(entry, ignore_errors=True)
    referentiel = _read(kind, directory, source)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        for name in TABLES:
            getattr(referentiel, name).write_parquet(staging / f"{name}.parquet")
        (staging / "meta.json").write_text(json.dumps({"name": referentiel.name, "version": referentiel.version,
                                                       "fingerprint": referentiel.fingerprint}))
        try:
            staging.rename(entry)
        except OSError:  # another process cached it first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        pass  # a read-only home must not stop the product: serve without a cache
    return referentiel
