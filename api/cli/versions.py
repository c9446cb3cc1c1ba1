"""`passerelles referentiel diff OLD NEW` — and, once stored records exist, `referentiel upgrade NEW`.

Registered on the `referentiel` sub-app of :mod:`api.cli.root` when that module imports this one
(``COMMAND_MODULES``). The method behind the diff is documented in docs/referential-versions.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

import referentiels
from referentiels.versions import KINDS, ReferentialDiff, diff

from api.cli.common import UsageError, emit_json

app = typer.Typer()

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


@app.command("diff")
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


@app.command("upgrade")
def referentiel_upgrade(
    new: Annotated[str, typer.Argument(help="The referential to move the stored records to: demo, rome:DIR or csv:DIR")],
    database: Annotated[Optional[Path], typer.Option("--database", envvar="PASSERELLES_DATABASE",
                                                     help="SQLite store (default: $PASSERELLES_DATABASE).")] = None,
    old: Annotated[Optional[str], typer.Option("--from", help="The referential of records that carry no "
                                               "fingerprint (or whose referential is not in the cache).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="Unmapped codes listed in the text output.")] = 100,
) -> None:
    """Migrate stored seekers and offers to NEW in one transaction; list every code it could not map."""
    from api.settings import Settings
    from api.storage.store import Store
    from api.services.upgrade import UpgradeError, upgrade_store

    target = referentiels.load(new)
    source = referentiels.load(old) if old else None
    path = database or Settings().database
    if not Path(path).exists():
        raise UsageError(f"no store at {path} (give --database or set PASSERELLES_DATABASE)")
    with Store(path) as store:
        try:
            report = upgrade_store(store, target, old=source, dry_run=dry_run)
        except UpgradeError as error:
            raise UsageError(str(error)) from None
    if as_json:
        emit_json(report.to_dict())
        return
    head = "dry run, nothing written: " if dry_run else ""
    typer.echo(f"{head}to {target.name} {target.version} ({target.fingerprint[:16]})")
    if not any(report.migrated.values()):
        typer.echo("nothing to migrate: every record already comes from this referential")
        return
    for f in report.from_referentiels:
        typer.echo(f"  from {f['name']} {f['version']} ({f['fingerprint'][:16]}): {f['rows']:,} records"
                   + ("  (unstamped, taken as --from)" if f["unstamped"] else ""))
    for kind in report.migrated:
        typer.echo(f"  {kind:<8} {report.migrated[kind]:>8,} migrated, {report.changed[kind]:>8,} with a code changed")
    if report.unmapped:
        typer.echo(f"\n{len(report.unmapped):,} codes could not be mapped (kept in the audit; no code was dropped silently):")
        for u in report.unmapped[:limit]:
            near = ", ".join(s["code"] for s in u["suggestions"])
            typer.echo(f"  {u['kind'][:-1]} {u['id']}  {u['field']}  {u['code']}  {u['label'] or ''}"
                       + (f"   (closest: {near})" if near else ""))
        if len(report.unmapped) > limit:
            typer.echo(f"  ... and {len(report.unmapped) - limit:,} more (--json for all)")
    else:
        typer.echo("every code was mapped")


def calibration_report(referentiel, *, learned: bool = True) -> dict:
    """Thresholds of the bridge labels on ``referentiel`` and the figures that check them: the
    share of official mobilities and of random pairs labelled viable or better. What
    docs/calibration.md shows, reproducible with ``passerelles referentiel calibrate``.

    Two bridge scores: ``content`` (the official mobilities hidden from the engine) and, when
    ``learned`` and the referential has mobilities, ``learned_cv``: the served score, which learns
    from official mobilities, with each source's row taken from a model fitted on the other 4 folds
    (split by source occupation) — thresholds calibrated on that matrix too, so no mobility is
    labelled by a model that saw it."""
    import numpy as np

    from matching import SkillSpace
    from matching.bridges import BridgeModel, mobility_rows
    from matching.calibration import BridgeLabeller, calibrate
    from matching.evaluation import cross_validated_matrix

    space = SkillSpace.from_referentiel(referentiel)
    model = BridgeModel.fit(space)
    labeller = BridgeLabeller.from_referentiel(referentiel, model, space)
    ma, mb = mobility_rows(referentiel)
    n = referentiel.n_occupations
    ra, rb = np.nonzero(~np.eye(n, dtype=bool))
    # official mobilities that leave every activity sector of their source: the product's promise
    sectors = referentiel.sectors.group_by("occupation").agg("sector")
    by_code = dict(zip(sectors["occupation"].to_list(), (set(s) for s in sectors["sector"].to_list())))
    cross = np.array([bool(by_code.get(a)) and bool(by_code.get(b)) and not (by_code[a] & by_code[b])
                      for a, b in zip(referentiel.mobilities["occupation"].to_list(),
                                      referentiel.mobilities["target"].to_list())], dtype=bool)

    def figures(lab: BridgeLabeller) -> dict:
        return {"calibration": lab.calibration.to_dict(),
                "official_mobilities": lab.figures(ma, mb),
                "cross_sector_mobilities": lab.figures(ma[cross], mb[cross]),
                "random_pairs": lab.figures(ra, rb)}

    report = {"referentiel": {"name": referentiel.name, "version": referentiel.version,
                              "fingerprint": referentiel.fingerprint},
              "content": figures(labeller)}
    if learned and len(ma):
        cv = cross_validated_matrix(model, ma, mb)
        domains = np.asarray(referentiel.occupations["domain"].to_list(), dtype=object)
        cv_labeller = BridgeLabeller(calibration=calibrate(cv, domains, labeller.support.matrix),
                                     support=labeller.support, scores=cv)
        report["learned_cv"] = figures(cv_labeller)
    return report


@app.command("calibrate")
def referentiel_calibrate(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")] = "demo",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bridge label thresholds calibrated on the referential, and how they label official mobilities."""
    report = calibration_report(referentiels.load(source))
    if as_json:
        emit_json(report)
        return
    r = report["referentiel"]
    typer.echo(f"{r['name']} {r['version']}  {r['fingerprint'][:16]}")
    titles = {"content": "bridge score, content only (official mobilities hidden)",
              "learned_cv": "bridge score as served (learns from official mobilities), 5-fold cross-validated"}
    for name in ("content", "learned_cv"):
        if name not in report:
            continue
        part = report[name]
        c, ref = part["calibration"], part["calibration"]["reference"]
        typer.echo(f"\n{titles[name]}")
        typer.echo(f"  pairs: {ref['random_pairs']:,} random ({'all' if ref['random_pairs_exhaustive'] else 'sampled'}), "
                   f"{ref['same_domain_pairs']:,} within one professional domain")
        levels = ref["likelihood_ratio_levels_used"]
        for label, key, level in (("viable", "viable", levels[0]), ("highly viable", "highly_viable", levels[1])):
            typer.echo(f"  {label:<14} score >= {c[key]:.4f}  (likelihood ratio {level:g}: "
                       f"{ref[key]['same_domain_pairs_at_or_above']:.1%} of same-domain pairs, "
                       f"{ref[key]['random_pairs_at_or_above']:.2%} of random pairs)")
        typer.echo(f"  core support   >= {c['min_core_support']:.3f} and > 0 for viable or better")
        for fig in ("official_mobilities", "cross_sector_mobilities", "random_pairs"):
            f = part[fig]
            typer.echo(f"  {fig.replace('_', ' '):<24} {f['pairs']:>10,}  viable or better {f['viable_or_better']:.1%}"
                       f"  highly viable {f['highly_viable']:.1%}")
