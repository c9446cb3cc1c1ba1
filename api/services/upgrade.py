"""Carry the stored seekers and offers to a new referential version: ``passerelles referentiel upgrade``.

Every row of the store carries the fingerprint of the referential its codes come from (column
``referentiel``; rows written before that column existed have none and are taken to come from the
referential given as ``old``). :func:`upgrade_store` migrates every row whose fingerprint is not the
new one, in **one transaction**, through :func:`referentiels.versions.diff`:

- list fields (a seeker's ``skills`` and ``past_occupations``, an offer's ``must`` and ``desired``)
  take every target of a code (a split skill becomes its parts);
- single fields (a seeker's ``occupation``, an offer's ``occupation``) take the best target; the
  others are kept in the audit as alternatives;
- a code with no target (removed) is **never dropped silently**: it is listed in the report with
  its record, and kept in the audit table; it leaves a list field, a seeker's occupation becomes
  empty, and an offer's occupation (required) keeps its old code until someone fixes the offer.

The audit table ``referentiel_upgrades`` keeps, for every field that changed, the old and the new
codes, the changes and confidences, and both fingerprints. Rows migrated take a new change sequence
number, so a running pool index (``api.services.pool_service.Pool.sync``) follows the upgrade without a rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from referentiels import Referentiel
from referentiels.versions import ReferentialDiff, diff, migrate_codes

from api.services.errors import UpgradeError
from api.storage.sqlite import utc_now as _now
from api.storage.store import Store

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS referentiel_upgrades (
    seq INTEGER NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL,
    old TEXT NOT NULL, new TEXT NOT NULL, unmapped TEXT NOT NULL, changes TEXT NOT NULL,
    from_referentiel TEXT, to_referentiel TEXT NOT NULL, at TEXT NOT NULL
)"""
# (field, diff kind, single-valued)
FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "seekers": (("occupation", "occupation", True), ("past_occupations", "occupation", False),
                ("skills", "skill", False)),
    "offers": (("occupation", "occupation", True), ("must", "skill", False), ("desired", "skill", False)),
}


@dataclass
class UpgradeReport:
    """What an upgrade did. ``unmapped``: one entry per code that could not be carried over, with its record."""

    to_referentiel: dict
    from_referentiels: list[dict] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    migrated: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    unmapped: list[dict] = field(default_factory=list)
    seq: int | None = None
    dry_run: bool = False

    def to_dict(self) -> dict:
        return {"to": self.to_referentiel, "from": self.from_referentiels, "records": self.records,
                "migrated": self.migrated, "changed": self.changed, "unmapped_count": len(self.unmapped),
                "unmapped": self.unmapped, "seq": self.seq, "dry_run": self.dry_run}


def stored_fingerprints(store: Store) -> dict[str | None, int]:
    """{fingerprint (None: unstamped rows): number of rows}, seekers and offers together."""
    out: dict[str | None, int] = {}
    with store._lock:
        for kind in FIELDS:
            for fp, n in store._db.execute(f"SELECT referentiel, count(*) FROM {kind} GROUP BY referentiel"):
                out[fp] = out.get(fp, 0) + int(n)
    return out


def cached_referential(fingerprint: str, cache_dir: Path | None = None) -> Referentiel | None:
    """The referential of that fingerprint from the loading cache (``referentiels.load`` keeps every
    referential it read there, with its fingerprint), or None."""
    import polars as pl

    from referentiels.loading import default_cache_dir
    from referentiels.model import TABLES

    root = Path(cache_dir) if cache_dir else default_cache_dir()
    if not root.is_dir():
        return None
    for meta_path in sorted(root.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fingerprint:
                continue
            tables = {name: pl.read_parquet(meta_path.parent / f"{name}.parquet") for name in TABLES}
            r = Referentiel.from_tables(name=meta["name"], version=meta["version"],
                                        source=f"cache:{meta_path.parent.name}", **tables)
            if r.fingerprint == fingerprint:
                return r
        except Exception:  # a damaged entry is not evidence
            continue
    return None


def upgrade_store(store: Store, new: Referentiel, *, old: Referentiel | None = None,
                  find: Callable[[str], Referentiel | None] | None = None, dry_run: bool = False) -> UpgradeReport:
    """Migrate every stored seeker and offer to ``new`` in one transaction; see the module docstring.

    Args:
        old: the referential of rows without a fingerprint, and of rows with ``old``'s fingerprint.
        find: fingerprint -> referential, for the other fingerprints found (default: the loading cache).
        dry_run: compute the report, write nothing.
    Raises:
        UpgradeError: some rows come from a referential that cannot be found (nothing is written).
    """
    find = find or cached_referential
    counts = stored_fingerprints(store)
    report = UpgradeReport(to_referentiel={"name": new.name, "version": new.version, "fingerprint": new.fingerprint},
                           dry_run=dry_run)
    diffs: dict[str | None, tuple[Referentiel, ReferentialDiff]] = {}
    missing = []
    for fp in sorted(counts, key=lambda f: (f is None, f or "")):
        if fp == new.fingerprint:
            continue
        source = old if (fp is None or (old is not None and fp == old.fingerprint)) else find(fp)
        if source is None:
            missing.append(f"{counts[fp]} rows from {'an unrecorded referential' if fp is None else fp[:16]}")
            continue
        # rows of the new referential itself that were never stamped: stamped, nothing to map
        diffs[fp] = (source, None if source.fingerprint == new.fingerprint else diff(source, new))
        report.from_referentiels.append({"name": source.name, "version": source.version,
                                         "fingerprint": source.fingerprint, "rows": counts[fp],
                                         "unstamped": fp is None})
    if missing:
        raise UpgradeError("cannot find the referential of " + "; ".join(missing)
                           + " — give it with --from SOURCE (demo, rome:DIR or csv:DIR)")
    known_occ = frozenset(new.occupation_index)
    known_skill = frozenset(new.skill_index)
    try:
        _migrate(store, new, diffs, report, known_occ, known_skill)
    except _DryRun:  # rolled back
        return report
    store.referentiel = new.fingerprint
    return report


class _DryRun(Exception):
    """Raised inside the transaction of a dry run, so that it rolls back."""


def _migrate(store: Store, new: Referentiel, diffs: dict, report: UpgradeReport, known_occ, known_skill) -> None:
    with store.transaction() as db:
        db.execute(AUDIT_DDL)
        seq = store._next_seq(db) if diffs else None
        now = _now()
        for kind, fields in FIELDS.items():
            names = [f for f, _, _ in fields]
            rows = db.execute(f"SELECT key, id, referentiel, {', '.join(names)} FROM {kind} "
                              "WHERE referentiel IS NULL OR referentiel != ?", (new.fingerprint,)).fetchall()
            report.records[kind] = int(db.execute(f"SELECT count(*) FROM {kind}").fetchone()[0])
            report.migrated[kind] = len(rows)
            report.changed[kind] = 0
            updates, audits = [], []
            for row in rows:
                fp = row["referentiel"]
                source, d = diffs[fp]
                values, changed = {}, False
                for name, what, single in fields:
                    raw = row[name]
                    codes = ([raw] if raw else []) if single else json.loads(raw or "[]")
                    # same content (unstamped rows of the new referential): codes it lacks are reported
                    m = migrate_codes(d.mapping(what) if d is not None else {}, codes, single=single,
                                      known=known_occ if what == "occupation" else known_skill)
                    new_codes = list(m.codes)
                    if single and not new_codes and m.unmapped and kind == "offers":
                        new_codes = [raw]  # required: keep the old code, listed below, for a human
                    values[name] = (new_codes[0] if new_codes else None) if single else json.dumps(new_codes, ensure_ascii=False)
                    for code in m.unmapped:
                        report.unmapped.append({"kind": kind, "id": row["id"], "field": name, "code": code,
                                                "label": _label(source, what, code),
                                                "suggestions": _suggestions(d, what, code) if d is not None else []})
                    if m.changed:
                        changed = True
                        audits.append((seq, kind, row["id"], name, json.dumps(codes, ensure_ascii=False),
                                       json.dumps(new_codes, ensure_ascii=False),
                                       json.dumps(list(m.unmapped), ensure_ascii=False),
                                       json.dumps(list(m.audit), ensure_ascii=False), fp, new.fingerprint, now))
                report.changed[kind] += int(changed)
                updates.append(tuple(values[n] for n in names) + (seq, now, new.fingerprint, row["key"]))
            if updates:
                db.executemany(f"UPDATE {kind} SET {', '.join(f'{n} = ?' for n in names)}, seq = ?, "
                               "updated_at = ?, referentiel = ? WHERE key = ?", updates)
            if audits:
                db.executemany("INSERT INTO referentiel_upgrades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audits)
        db.execute("INSERT INTO meta VALUES ('referentiel', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (new.fingerprint,))
        report.seq = seq
        if report.dry_run:
            raise _DryRun()


def upgrade_on_start(store: Store, referentiel: Referentiel, log=None, cache_dir: Path | None = None
                     ) -> UpgradeReport | None:
    """What the API does when it opens the store: rows of another referential (the served one
    changed) are migrated to it; unstamped rows are taken to come from the served referential.
    Never raises: a referential that cannot be found leaves the rows as they are, logged."""
    import logging

    log = log or logging.getLogger("passerelles.upgrade")
    counts = stored_fingerprints(store)
    if not counts or set(counts) <= {referentiel.fingerprint}:
        return None
    try:
        report = upgrade_store(store, referentiel, old=referentiel,
                               find=lambda fp: (cache_dir and cached_referential(fp, cache_dir)) or cached_referential(fp))
    except UpgradeError as error:
        log.error("stored records were not migrated to %s %s: %s", referentiel.name, referentiel.version, error)
        return None
    moved = sum(f["rows"] for f in report.from_referentiels if not f["unstamped"])
    if moved:
        log.warning("migrated %d stored records to %s %s (%s); %d codes could not be mapped%s",
                    moved, referentiel.name, referentiel.version, referentiel.fingerprint[:16], len(report.unmapped),
                    "".join(f"\n  {u['kind'][:-1]} {u['id']} {u['field']} {u['code']}" for u in report.unmapped[:50]))
    return report


def _label(r: Referentiel, what: str, code: str) -> str | None:
    table = r.occupations if what == "occupation" else r.skills
    index = r.occupation_index if what == "occupation" else r.skill_index
    row = index.get(code)
    return None if row is None else table["label"][row]


def _suggestions(d: ReferentialDiff, what: str, code: str) -> list[dict]:
    for change in d.of(what, "removed"):
        if change.old == (code,):
            return list(change.suggestions)
    return []


def audit(store: Store, kind: str | None = None, id: str | None = None) -> list[dict]:
    """The audit rows of past upgrades (old and new codes of each field that changed), oldest first."""
    with store._lock:
        exists = store._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'referentiel_upgrades'").fetchone()
        if not exists:
            return []
        sql, args = "SELECT * FROM referentiel_upgrades WHERE 1 = 1", []
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        if id:
            sql, args = sql + " AND id = ?", args + [id]
        rows = store._db.execute(sql + " ORDER BY seq, kind, id, field", args).fetchall()
    out = []
    for r in rows:
        item = dict(r)
        for k in ("old", "new", "unmapped", "changes"):
            item[k] = json.loads(item[k])
        out.append(item)
    return out
