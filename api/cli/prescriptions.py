"""``passerelles prescriptions``: pre-registrations on training sessions, from the command line.

    passerelles prescriptions list [--organisation SIRET] [--seeker ID] [--state accepted] [--limit 50] [--json]
    passerelles prescriptions show ID [--json]
    passerelles prescriptions answer ID --to accepted|refused|waitlisted|entered|... [--reason R] [--at DATE]
                                        --as organisation --organisation SIRET  |  --as counsellor
    passerelles prescriptions purge --before 2021-12-05     # retention: closed ones submitted before

Reads and writes the database (``--database`` or ``PASSERELLES_DATABASE``) directly, as the
server does: the same state machine, the same place check in one transaction, the same audit log
(path ``cli:prescriptions answer``). ``answer`` acts for the role given by ``--as`` (an
organisation only on its own sessions); the session's places are those stored at its last
pre-registration (the server refreshes them from the served catalogue). Bad input: one line on
standard error, exit status 2.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Optional

import typer

from api.cli.common import DatabaseOption, JsonOption, fail
from api.services.prescription_service import STATES, PrescriptionService
from api.storage.keys import Principal

app = typer.Typer()
prescriptions_app = typer.Typer(help="Pre-registrations on training sessions: list, show, answer.",
                                no_args_is_help=True)
app.add_typer(prescriptions_app, name="prescriptions")


def _service(database: Path | None) -> PrescriptionService:
    from api.settings import Settings
    from api.storage.prescriptions import PrescriptionStore
    from api.storage.store import Store

    settings = Settings() if database is None else Settings(database=database)
    if not Path(settings.database).exists():
        fail(f"no database at {settings.database}: give --database or set PASSERELLES_DATABASE")
    state = SimpleNamespace(settings=settings, pool=SimpleNamespace(store=Store(settings.database)), extras={})
    return PrescriptionService(state, PrescriptionStore(settings.database, settings.prescriptions_synchronous))


def _principal(role: str, organisation: str | None) -> Principal:
    if role not in ("counsellor", "organisation"):
        fail("--as is counsellor or organisation")
    if (role == "organisation") != (organisation is not None):
        fail("--organisation SIRET goes with --as organisation (and only with it)")
    return Principal("cli", role, organisation=organisation)


def _printable(text: str | None) -> str:
    """Stored text as one terminal line: a control or bidi character (a row written before the API
    refused them, see api/http/text.py) shown as U+FFFD, never sent to the terminal."""
    return "".join(c if c.isprintable() else "\ufffd" for c in (text or ""))


def _line(p: dict) -> str:
    return (f"{p['id']}  {p['state']:<15} {p['training']}/{p['session']}  seeker {p['seeker']}  target {p['target']}  "
            f"{p['prescriber_type']}  submitted {p['submitted_at'][:10]}")


@prescriptions_app.command("list")
def list_(organisation: Annotated[Optional[str], typer.Option(help="Only this organisation's sessions "
                                                                   "(seekers then shown by pseudonym).")] = None,
          seeker: Annotated[Optional[str], typer.Option(help="Only this seeker's.")] = None,
          state: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(STATES)}.")] = None,
          limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
          offset: Annotated[int, typer.Option(min=0)] = 0,
          database: DatabaseOption = None,
          as_json: JsonOption = False) -> None:
    """Pre-registrations, newest first."""
    service = _service(database)
    principal = Principal("cli", "organisation", organisation=organisation) if organisation else Principal("cli", "counsellor")
    items, total = service.list(principal, seeker=seeker, state=state, limit=limit, offset=offset)
    if as_json:
        typer.echo(json.dumps({"items": items, "total": total, "limit": limit, "offset": offset}, ensure_ascii=False))
        return
    for p in items:
        typer.echo(_line(p))
    typer.echo(f"{len(items)} of {total}", err=True)


@prescriptions_app.command("show")
def show(id: str, database: DatabaseOption = None,
         as_json: JsonOption = False) -> None:
    """One pre-registration and its timeline."""
    body = _service(database).view(Principal("cli", "counsellor"), id)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False))
        return
    typer.echo(_line(body))
    for event in body["timeline"]:
        typer.echo(f"  {event['at'][:19]}  {event['state']:<15} {event['role'] or ''}  {_printable(event['detail'])}")
    typer.echo(f"  next: {', '.join(body['allowed']) or 'final'}")


@prescriptions_app.command("answer")
def answer(id: str,
           to: Annotated[str, typer.Option("--to", help=f"The new state: {', '.join(STATES[1:])}.")],
           role: Annotated[str, typer.Option("--as", help="counsellor or organisation")],
           organisation: Annotated[Optional[str], typer.Option(help="The organisation's SIRET or id.")] = None,
           reason: Annotated[Optional[str], typer.Option(help="A refusal's reason.")] = None,
           at: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD: when it happened (entered, "
                                                          "completed, abandoned, outcomes).")] = None,
           database: DatabaseOption = None,
           as_json: JsonOption = False) -> None:
    """Move a pre-registration along its state machine (answer, withdraw, follow)."""
    from api.storage.audit import AuditLog

    principal = _principal(role, organisation)
    try:
        day = date.fromisoformat(at) if at is not None else None
    except ValueError:
        fail(f"--at {at!r} is not a date YYYY-MM-DD")
    service = _service(database)
    body = service.transition(principal, id, to, reason=reason, at=day, catalogue=False)
    audit = AuditLog(service.state.settings.database)
    for change in body["changed"]:
        audit.record(principal, "prescription", "CLI", "cli:prescriptions answer", 200, resource_id=change["id"],
                     action=f"transition:{change['state']}")
    audit.close()
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False))
        return
    for change in body["changed"]:
        typer.echo(f"{change['id']}: {change['state']}")


@prescriptions_app.command("purge")
def purge(before: Annotated[str, typer.Option(help="YYYY-MM-DD: delete the closed pre-registrations "
                                                  "submitted before this day (five years kept: today minus 5 years).")],
          database: DatabaseOption = None,
          as_json: JsonOption = False) -> None:
    """Retention: delete the pre-registrations that are over (refused, withdrawn, completed,
    abandoned, outcome recorded) and were submitted before ``--before``, with their timelines; they
    leave the funders' figures too. Open ones stay. One audit row."""
    from api.storage.audit import AuditLog

    try:
        day = date.fromisoformat(before)
    except ValueError:
        fail(f"--before {before!r} is not a date YYYY-MM-DD")
    service = _service(database)
    ids = service.store.purge(day.isoformat())
    audit = AuditLog(service.state.settings.database)
    audit.record(Principal("cli", "admin"), "prescription", "CLI", "cli:prescriptions purge", 200,
                 resource_id=f"{len(ids)} before {day.isoformat()}", action="purge")
    audit.close()
    if as_json:
        typer.echo(json.dumps({"before": day.isoformat(), "deleted": len(ids)}))
        return
    typer.echo(f"deleted {len(ids)} pre-registrations submitted before {day.isoformat()}")
