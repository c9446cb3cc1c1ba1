"""Stored records whose ids break the id rule (``referentiels.ids``), listed and repaired.

Records written before the rule (or by a path that did not apply it) may hold an id with ``/``, a
control or bidirectional character, more than 100 characters, or not in Unicode NFC: such a record
cannot be reached through ``/seekers/{id}`` and so cannot be read, replaced or erased through the API.

    report = find_invalid_ids(store)          # [{kind, id, reason, rename}]
    fix_invalid_ids(store, "rename", audit)   # or "erase"; one transaction per kind; audited

``rename`` proposes :func:`repaired_id`: NFC, trimmed, every forbidden character (``/``, control,
format, bidirectional, separators other than a space) replaced by ``_``, cut to 100 characters;
when that id is taken (by a stored record or by another renamed one), ``~2``, ``~3`` ... is added.
Every change is one row of the audit log (action ``erase-id`` or ``rename-id``, the old id as
``resource_id``, the new one in ``path``).
"""

from __future__ import annotations

import unicodedata

from referentiels.ids import MAX_ID_LENGTH, TRIMMED, id_problem, is_canonical_id

from api.storage.audit import AuditLog
from api.storage.keys import Principal
from api.storage.store import Store

KINDS = ("seekers", "offers", "trainings")
MODES = ("erase", "rename")
#: Who the audit log names for these changes.
ADMIN_CLI = Principal(key_id="cli", role="admin", name="passerelles admin ids")


def _reason(value: str) -> str:
    text, reason = id_problem(value)
    if reason is None and text != value:
        return "is not in canonical form (Unicode NFC, no space at either end): the API looks it up as " + repr(text)
    return reason or ""


def repaired_id(value: str) -> str:
    """A valid id close to ``value``: NFC, trimmed, forbidden characters as ``_``, at most 100 characters."""
    text = unicodedata.normalize("NFC", value).strip(TRIMMED)
    text = "".join(ch if ch.isprintable() and ch != "/" else "_" for ch in text)[:MAX_ID_LENGTH].strip(TRIMMED)
    return text or "_"


def find_invalid_ids(store: Store, kinds: tuple[str, ...] = KINDS) -> list[dict]:
    """[{kind, id, reason, rename}] for every stored id of ``kinds`` that is not a valid canonical id;
    ``rename`` is the id ``fix_invalid_ids(..., "rename")`` would give it (collisions resolved)."""
    out = []
    for kind in kinds:
        ids = store.ids(kind)
        taken = {i for i in ids if is_canonical_id(i)}
        for value in ids:
            if is_canonical_id(value):
                continue
            base = repaired_id(value)
            new, n = base, 1
            while new in taken:
                n += 1
                suffix = f"~{n}"
                new = base[:MAX_ID_LENGTH - len(suffix)] + suffix
            taken.add(new)
            out.append({"kind": kind, "id": value, "reason": _reason(value), "rename": new})
    return out


def fix_invalid_ids(store: Store, mode: str, audit: AuditLog | None = None,
                    kinds: tuple[str, ...] = KINDS) -> list[dict]:
    """Erase or rename every record :func:`find_invalid_ids` lists (one transaction per kind);
    returns that list, each with ``done`` (the action taken). Each change is audited."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    found = find_invalid_ids(store, kinds)
    for kind in kinds:
        mine = [f for f in found if f["kind"] == kind]
        if not mine:
            continue
        store.fix_ids(kind, {f["id"]: (f["rename"] if mode == "rename" else None) for f in mine})
        for f in mine:
            f["done"] = "renamed" if mode == "rename" else "erased"
            if audit is not None:
                what = f"{f['id']!r} -> {f['rename']!r}" if mode == "rename" else f"{f['id']!r} erased"
                audit.record(ADMIN_CLI, kind[:-1], "CLI", f"passerelles admin ids fix --{mode}: {what}", 200,
                             resource_id=f["id"], action=f"{mode}-id")
    return found
