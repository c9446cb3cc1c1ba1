"""``passerelles admin``: repairs an administrator runs on the database.

    passerelles admin ids check [--database FILE] [--json]           # exit 1 when some id breaks the rule
    passerelles admin ids fix --rename [--database FILE] [--json]    # NFC, forbidden characters -> '_'
    passerelles admin ids fix --erase  [--database FILE] [--json]    # delete those records

``ids`` lists the stored seekers, offers and trainings whose ids break the id rule
(``referentiels.ids``: text, NFC, printable, no '/', no control or bidirectional character, at most
100 characters), which the API cannot reach, and renames or erases them
(``api.services.ids_admin``); every change is written to the audit log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DatabaseOption, database_path, emit_json, fail
from api.services.ids_admin import find_invalid_ids, fix_invalid_ids
from api.storage.audit import AuditLog
from api.storage.store import Store

app = typer.Typer()
admin_app = typer.Typer(help="Repairs of the database an administrator runs.", no_args_is_help=True)
ids_app = typer.Typer(help="Stored ids that break the id rule: list them, rename or erase them.",
                      no_args_is_help=True)
admin_app.add_typer(ids_app, name="ids")
app.add_typer(admin_app, name="admin")


def _open(database: Path | None) -> Store:
    path = database_path(database)
    if not Path(path).exists():
        fail(f"no database at {path}: give --database FILE or set PASSERELLES_DATABASE")
    return Store(path)


def _print(rows: list[dict], as_json: bool, verb: str) -> None:
    if as_json:
        emit_json({"invalid": len(rows), "records": rows})
        return
    for r in rows:
        done = f" -> {r['done']}" if "done" in r else ""
        typer.echo(f"{r['kind'][:-1]} {r['id']!r}: {r['reason']}; rename to {r['rename']!r}{done}")
    typer.echo(f"{len(rows)} record(s) {verb}.", err=True)


@ids_app.command("check")
def check(database: DatabaseOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False) -> None:
    """List the stored records whose ids break the rule (exit status 1 when there is any)."""
    with _open(database) as store:
        rows = find_invalid_ids(store)
    _print(rows, as_json, "with an id breaking the rule")
    if rows:
        raise typer.Exit(1)


@ids_app.command("fix")
def fix(rename: Annotated[bool, typer.Option("--rename", help="Give each a valid id (NFC, forbidden characters as '_', "
                                                              "'~2' ... on a collision).")] = False,
        erase: Annotated[bool, typer.Option("--erase", help="Delete each such record.")] = False,
        database: DatabaseOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False) -> None:
    """Rename or erase every stored record whose id breaks the rule; each change is audited."""
    if rename == erase:
        fail("say what to do: --rename or --erase (one of them)")
    path = database_path(database)
    with _open(database) as store:
        audit = AuditLog(Path(path))
        try:
            rows = fix_invalid_ids(store, "rename" if rename else "erase", audit)
        finally:
            audit.close()
    _print(rows, as_json, "renamed" if rename else "erased")
