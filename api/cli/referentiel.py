"""``passerelles referentiel info|vectors|export``: inspect a referential, build its encoder vectors, write
it in the generic format."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

import referentiels
from referentiels import generic

from api.cli.common import emit_json

app = typer.Typer(help="Inspect, export and compare referentials.", no_args_is_help=True)


@app.command("info")
def referentiel_info(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")] = "demo",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of occupations, skills, links, titles, sectors and mobilities, the fingerprint, and the
    text encoder (PASSERELLES_ENCODER): available or why not, and whether its title and skill vectors are cached."""
    from api.services.encoding import describe_encoder
    from api.settings import Settings

    r = referentiels.load(source)
    info = r.describe()
    settings = Settings()
    info["encoder"] = describe_encoder(r, settings.encoder, settings.encoder_threads, settings.cache_dir)
    if as_json:
        emit_json(info)
        return
    typer.echo(f"{r.name} {r.version}  ({r.source})")
    typer.echo(f"fingerprint  {r.fingerprint}")
    for name, value in info["counts"].items():
        typer.echo(f"{name:<20}{value:>10,}")
    encoder = info["encoder"]
    if not encoder["available"]:
        typer.echo(f"encoder             unavailable: {encoder['reason']} (everything works lexically)")
        return
    titles = encoder["titles"]
    cached = (f"cached ({titles['bytes'] / 1e6:.1f} MB)" if titles["cached"]
              else "not built yet (built once, on first use)")
    typer.echo(f"encoder             available: {encoder['name']} ({encoder['dim']} dimensions)")
    typer.echo(f"title vectors       {titles['texts']:,} texts, {cached}")
    skills = encoder.get("skills")
    if skills is not None:
        cached = (f"cached ({skills['bytes'] / 1e6:.1f} MB)" if skills["cached"]
                  else "not built yet (built once, on first use; lexical until then)")
        typer.echo(f"skill vectors       {skills['texts']:,} texts, {cached}")


@app.command("vectors")
def referentiel_vectors(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")] = "demo",
) -> None:
    """Build the text encoder's title and skill vectors of SOURCE now, with progress, instead of on
    first use (a deployment step; CI runs it before the tests). Cached on disk by content: a second
    run reads them back in a second. Exits 1, saying why, when no encoder loads."""
    from api.services.encoding import encoder_status, skill_vectors, title_vectors
    from api.settings import Settings
    from matching.normalise import SkillNormaliser, TitleNormaliser

    settings = Settings()
    r = referentiels.load(source)
    status = encoder_status(settings.encoder, settings.encoder_threads)
    if status.encoder is None:
        typer.echo(f"no encoder: {status.reason} (everything works lexically; nothing to build)", err=True)
        raise typer.Exit(1)
    for what, fit, build in (("title", TitleNormaliser.fit, title_vectors),
                             ("skill", SkillNormaliser.fit, skill_vectors)):
        started = time.perf_counter()
        vectors = build(r, fit(r), status.encoder, settings.cache_dir)
        typer.echo(f"{what} vectors of {r.source}: {vectors.shape[0]:,} texts, ready in "
                   f"{time.perf_counter() - started:.1f} s", err=True)


@app.command("export")
def referentiel_export(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write the generic CSV format into.")],
) -> None:
    """Write a referential in the generic CSV folder format (docs/referentiel-format.md)."""
    r = referentiels.load(source)
    generic.write(r, to)
    typer.echo(f"wrote {r.name} {r.version} to {to} (fingerprint {r.fingerprint})")
