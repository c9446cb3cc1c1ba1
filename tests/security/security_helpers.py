"""Helpers of the security tests: keys as headers, records as bodies of every ingest format."""

from __future__ import annotations

import csv
import io
import json

import polars as pl

PROBLEM = "application/problem+json"
MEDIA = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv",
         "parquet": "application/vnd.apache.parquet"}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def encode(records: list[dict], fmt: str) -> bytes:
    """``records`` as a body of ``fmt`` (json, jsonl, csv, parquet); lists joined by '|' in CSV."""
    if fmt == "json":
        return json.dumps(records).encode()
    if fmt == "jsonl":
        return "\n".join(json.dumps(r) for r in records).encode()
    if fmt == "csv":
        out = io.StringIO()
        columns = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in records:
            writer.writerow(["|".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
                             for v in (r.get(c) for c in columns)])
        return out.getvalue().encode("utf-8", "surrogatepass")
    buffer = io.BytesIO()
    pl.DataFrame(records).write_parquet(buffer)
    return buffer.getvalue()


def ingest(client, kind: str, records: list[dict], fmt: str, key: str, mode: str = "all"):
    return client.post(f"/{kind}:ingest?mode={mode}", content=encode(records, fmt),
                       headers={**bearer(key), "content-type": MEDIA[fmt]})


def replace_prescriptions(service, rows: list[tuple]) -> None:
    """Make ``rows`` (tuples in ``api.storage.prescriptions.COLUMNS`` order) the only stored
    pre-registrations of ``service`` (a PrescriptionService), then rebuild its tallies."""
    from api.storage.prescriptions import COLUMNS

    with service.store.transaction() as db:
        db.execute("DELETE FROM prescriptions")
        db.execute("DELETE FROM prescription_sessions")
        db.executemany(f"INSERT INTO prescriptions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       rows)
    service.store.rebuild()
