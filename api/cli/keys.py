"""``passerelles keys``: API keys of the HTTP API (api/storage/keys.py), and the audit log.

    passerelles keys create --role employer --employer E42 [--name "Boulangerie X"] [--rate 600]
    passerelles keys create --role counsellor --prescriber mission-locale
    passerelles keys create --role organisation --organisation 12345678900011   (SIRET or id)
    passerelles keys create --role funder --name "Région Hauts-de-France"
    passerelles keys list [--json]
    passerelles keys revoke KEY_ID
    passerelles keys audit [--resource seeker] [--id S1] [--limit 50] [--json]

The key is printed once, on standard output (the record on standard error); only its SHA-256 is
stored, in the database (``--database`` or ``PASSERELLES_DATABASE``). A revoked key answers 401 at
once in every server process. Bad input (unknown role, employer key without ``--employer``,
unknown key id): one line on standard error, exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.cli.common import DatabaseOption, JsonOption, database_path, fail
from api.storage.audit import AuditLog
from api.storage.keys import PRESCRIBERS, ROLES, KeyError_, KeyStore

app = typer.Typer()

keys_app = typer.Typer(help="API keys of the HTTP API (create, list, revoke) and the audit log.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _store(database: Path | None) -> KeyStore:
    return KeyStore(database_path(database))


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    employer: Annotated[Optional[str], typer.Option("--employer", help="Employer id (employer keys only).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Who or what uses the key.")] = None,
    prescriber: Annotated[Optional[str], typer.Option(
        "--prescriber", help=f"Counsellor keys: {', '.join(PRESCRIBERS)} (counted in the funders' statistics).")] = None,
    organisation: Annotated[Optional[str], typer.Option(
        "--organisation", help="Organisation keys: the training organisation's SIRET or id.")] = None,
    rate: Annotated[Optional[int], typer.Option("--rate", help="Requests per minute (default: the server's).")] = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the key and its record as JSON.")] = False,
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    store = _store(database)
    try:
        key, record = store.create(role, employer=employer, name=name, rate_per_minute=rate,
                                  prescriber=prescriber, organisation=organisation)
    except KeyError_ as error:
        fail(str(error))
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({**record, "key": key}, ensure_ascii=False))
        return
    typer.echo(key)
    who = f" for employer {record['employer']}" if record["employer"] else ""
    typer.echo(f"created {record['role']} key {record['id']}{who}; store it now, it will not be shown again",
               err=True)


@keys_app.command("list")
def list_keys(
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every key (id, role, employer, name, created, revoked), never the secrets."""
    store = _store(database)
    try:
        rows = store.list(limit=1_000_000)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        typer.echo(f"{row['id']}  {row['role']:<10}  {row['employer'] or '-':<12}  {state:<40}  {row['name'] or ''}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (8 hex characters, as 'keys list' shows).")],
    database: DatabaseOption = None,
) -> None:
    """Revoke a key: it answers 401 from now on, in every server process."""
    store = _store(database)
    try:
        record = store.revoke(key_id)
    except KeyError_ as error:
        fail(str(error))
    finally:
        store.close()
    typer.echo(f"revoked {record['role']} key {record['id']} at {record['revoked_at']}")


@keys_app.command("audit")
def audit(
    resource: Annotated[Optional[str], typer.Option("--resource", help="seeker or offer")] = None,
    resource_id: Annotated[Optional[str], typer.Option("--id", help="The seeker's or offer's id.")] = None,
    key_id: Annotated[Optional[str], typer.Option("--key", help="Only this key's accesses.")] = None,
    employer: Annotated[Optional[str], typer.Option(
        "--employer", help="Only the offer of this employer (offer ids are per employer).")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print.")] = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who read or changed personal data: the append-only audit log, oldest first."""
    log = AuditLog(database_path(database))
    try:
        rows, total = log.list(limit=limit, offset=offset, resource=resource, resource_id=resource_id, key_id=key_id,
                               resource_employer=employer)
    finally:
        log.close()
    if as_json:
        typer.echo(json.dumps({"total": total, "items": rows}, ensure_ascii=False, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['at']}  {r['key_id'] or 'anonymous'}  {r['role'] or '-':<10}  {r['action']:<7}  "
                   f"{r['resource']} {r['resource_id'] or '-'}"
                   + (f" (employer {r['resource_employer']})" if r.get("resource_employer") else "")
                   + f"  {r['status']}  {r['method']} {r['path']}")
    typer.echo(f"{len(rows)} of {total} entries", err=True)
