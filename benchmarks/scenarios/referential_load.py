"""Referential load: full ROME v460, cold (CSV) and from the on-disk Parquet cache.

Baseline for the cold load: the standard library's ``csv`` module reading the same files into
lists (no validation, no joins) — the floor of any pure-Python reader. Baseline for the cached
load: our own cold load, so the ratio is the speed-up the cache buys.

Work counters: ``rows_loaded`` (rows of the six tables the load returns), ``matrix_nnz`` (links
in the occupation x skill matrix) and, from the harness, ``read_bytes`` (bytes one load reads:
the cached load hashes every source file to find its cache entry, then reads the Parquet files).
There is no quick size: the load of the full referential is what a server does at start-up.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import referentiels
from referentiels import rome

from ..data import rome_dir
from ..harness import scenario


def _csv_module_read(files: list[Path]) -> int:
    rows = 0
    for path in files:
        if path.suffix != ".csv":
            continue
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            rows += sum(1 for _ in csv.reader(handle))
    return rows


TABLES = ("occupations", "skills", "links", "titles", "sectors", "mobilities")


def _loaded(ctx: dict) -> dict[str, float]:
    referential = referentiels.load(ctx["source"], cache=ctx["cache"])
    return {"rows_loaded": sum(getattr(referential, table).height for table in TABLES),
            "matrix_nnz": int(referential.matrix.nnz)}


def _setup(quick: bool) -> dict:
    directory = rome_dir()
    cache = Path(tempfile.mkdtemp(prefix="passerelles-bench-cache-"))
    source = f"rome:{directory}"
    referentiels.load(source, cache=cache)  # fill the cache
    return {"source": source, "cache": cache, "files": rome.source_files(directory)}


scenario(name="referential_load_cold", baseline=lambda c: _csv_module_read(c["files"]),
         ours=lambda c: referentiels.load(c["source"], cache=False), baseline_name="csv module read of the same files",
         target="< 3 s", repeats=7, quick_repeats=3,
         counters=_loaded)(_setup)

scenario(name="referential_load_cached", baseline=lambda c: referentiels.load(c["source"], cache=False),
         ours=lambda c: referentiels.load(c["source"], cache=c["cache"]), baseline_name="our cold CSV load",
         target="< 0.5 s", repeats=15, quick_repeats=5,
         counters=_loaded)(_setup)
