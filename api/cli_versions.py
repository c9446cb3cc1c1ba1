"""`passerelles referentiel diff OLD NEW` — and, once stored records exist, `referentiel upgrade NEW`.

Registered on the `referentiel` sub-app of :mod:`api.cli` when that module imports this one
(``COMMAND_MODULES``). The method behind the diff is documented in docs/referential-versions.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

import referentiels
from referentiels.versions import KINDS, ReferentialDiff, diff

from .cli import emit_json, referentiel_app

_KIND_TITLES = {"occupation": "occupations", "skill": "skills", "title": "titles"}


def _codes(codes: tuple[str, ...], labels: dict) -> str:
    if not codes:
        return "-"
    return ", ".join(f"{c}" if labels.get(c) in (None, c) else f"{c} ({labels[c]})" for c in codes)


def print_diff(d: ReferentialDiff, *, limit: int = 50) -> None:
    typer.echo(f"old  {d.old['name']} {d.old['version']}  {d.old['fingerprint'][:16]}")
    typer.echo(f"new  {d.new['name']} {d.new['version']}  {d.new['fingerprint'][:16]}")
    if d.old["fingerprint"] == d.new["fingerprint"]:
        typer.echo("same content: nothing changed")
        return
    summary = d.summary()
    columns = ["kept", "renamed", "split", "merged", "reorganised", "removed", "added", "relabelled", "moved"]
    typer.echo(f"\n{'':<12}" + "".join(f"{c:>12}" for c in columns))
    for kind in KINDS:
        typer.echo(f"{_KIND_TITLES[kind]:<12}" + "".join(f"{summary[kind][c]:>12,}" for c in columns))
    for kind in KINDS:
        changes = [c for c in d.of(kind) if c.change != "relabelled"]
        if not changes:
            continue
        typer.echo(f"\n{_KIND_TITLES[kind]}:")
        for change in changes[:limit]:
            old = _codes(change.old, change.labels.get("old", {})) if kind != "title" else " | ".join(change.old)
            new = _codes(change.new, change.labels.get("new", {})) if kind != "title" else " | ".join(change.new)
            typer.echo(f"  {change.change:<11} {old}  ->  {new}   confidence {change.confidence:.2f}")
            for pair in change.pairs:
                if len(change.pairs) > 1 or change.change != "renamed" or kind != "title":
                    typer.echo(f"      {pair['old']} -> {pair['new']}: confidence {pair['confidence']:.2f}, "
                               f"label {pair['label_similarity']:.2f}, profile {pair['profile_cosine']:.2f}, "
                               f"carried {pair['carried']:.2f}, explained {pair['explained']:.2f}, "
                               f"shared {pair['shared']}")
            if change.suggestions:
                near = ", ".join(s["code"] for s in change.suggestions)
                typer.echo(f"      closest (not mapped): {near}")
        if len(changes) > limit:
            typer.echo(f"  ... and {len(changes) - limit} more (--json for all)")


@referentiel_app.command("diff")
def referentiel_diff(
    old: Annotated[str, typer.Argument(help="The older referential: demo, rome:DIR or csv:DIR")],
    new: Annotated[str, typer.Argument(help="The newer referential: demo, rome:DIR or csv:DIR")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every change with its evidence).")] = False,
    limit: Annotated[int, typer.Option(help="Changes listed per kind in the text output.")] = 50,
) -> None:
    """Codes added, removed, renamed, split or merged between two versions, with evidence and confidence."""
    d = diff(referentiels.load(old), referentiels.load(new))
    if as_json:
        emit_json(d.to_dict())
        return
    print_diff(d, limit=limit)
