"""The generic referential folder format (``csv:DIR``): reader and writer.

Documented for users in ``docs/referentiel-format.md``. A branch federation, or any other national
referential, fills these files; ``write`` produces them from any loaded referential and
``read(write(r))`` has the same fingerprint as ``r``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .csvfiles import (LINE, parse_bool, parse_float, parse_int, read_csv, require_known,
                       require_unique, require_values)
from .errors import ReferentielError
from .model import SKILL_KINDS, Referentiel

FILES = {
    "occupations": ("occupations.csv", ("code", "label"), ("domain", "domain_label", "parent")),
    "skills": ("skills.csv", ("code", "label"), ("kind", "group")),
    "links": ("occupation_skills.csv", ("occupation", "skill"), ("weight", "core")),
    "titles": ("titles.csv", ("title", "occupation"), ()),
    "sectors": ("sectors.csv", ("sector", "occupation"), ("principal",)),
    "mobilities": ("mobilities.csv", ("occupation", "target"), ("rank",)),
}
OPTIONAL_FILES = ("titles", "sectors", "mobilities")
METADATA = "referentiel.json"

_KIND_ALIASES = {
    "savoir-faire": "savoir-faire", "savoir faire": "savoir-faire", "savoirfaire": "savoir-faire",
    "know-how": "savoir-faire", "skill": "savoir-faire", "competence": "savoir-faire",
    "compétence": "savoir-faire",
    "savoir": "savoir", "savoirs": "savoir", "knowledge": "savoir", "connaissance": "savoir",
    "savoir-être": "savoir-être", "savoir-etre": "savoir-être", "savoir être": "savoir-être",
    "savoir etre": "savoir-être", "soft skill": "savoir-être", "soft-skill": "savoir-être",
    "savoir-être professionnel": "savoir-être",
}


def source_files(directory: Path) -> list[Path]:
    """The files whose content defines the referential (for cache keys)."""
    paths = [directory / spec[0] for spec in FILES.values()] + [directory / METADATA]
    return [p for p in paths if p.exists()]


def read(directory: str | Path, *, source: str | None = None) -> Referentiel:
    """Read and validate a generic referential folder. Raises ``ReferentielError`` on bad input."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReferentielError("referential folder not found", file=str(directory),
                               expected="a folder holding occupations.csv, skills.csv and occupation_skills.csv")
    frames: dict[str, pl.DataFrame] = {}
    for name, (filename, required, optional) in FILES.items():
        path = directory / filename
        if name in OPTIONAL_FILES and not path.exists():
            continue
        frames[name] = read_csv(path, required=required, optional=optional,
                                allow_empty=name in OPTIONAL_FILES)

    def file(name: str) -> str:
        return str(directory / FILES[name][0])

    occ = frames["occupations"]
    require_values(occ, ("code", "label"), file("occupations"))
    require_unique(occ, ["code"], file("occupations"), "occupation code")
    require_known(occ, "parent", occ["code"], file("occupations"), "parent occupation code")

    skills = frames["skills"]
    require_values(skills, ("code", "label"), file("skills"))
    require_unique(skills, ["code"], file("skills"), "skill code")
    kinds = skills["kind"].str.to_lowercase().replace_strict(_KIND_ALIASES, default="?")
    bad = skills.filter(skills["kind"].is_not_null() & (kinds == "?"))
    if bad.height:
        raise ReferentielError("unknown skill kind", file=file("skills"), line=int(bad[LINE][0]),
                               column="kind", expected=" or ".join(SKILL_KINDS), found=bad["kind"][0])
    skills = skills.with_columns(
        kind=pl.when(pl.col("kind").is_null()).then(pl.lit("savoir-faire")).otherwise(kinds))

    links = frames["links"]
    require_values(links, ("occupation", "skill"), file("links"))
    require_known(links, "occupation", occ["code"], file("links"), "occupation code")
    require_known(links, "skill", skills["code"], file("links"), "skill code")
    require_unique(links, ["occupation", "skill"], file("links"), "occupation-skill link")
    links = links.with_columns(
        weight=parse_float(links, "weight", file("links"), default=1.0),
        core=parse_bool(links, "core", file("links")),
    )

    tables: dict[str, pl.DataFrame] = {"occupations": occ, "skills": skills, "links": links}
    if "titles" in frames:
        titles = frames["titles"]
        require_values(titles, ("title", "occupation"), file("titles"))
        require_known(titles, "occupation", occ["code"], file("titles"), "occupation code")
        tables["titles"] = titles.unique(["title", "occupation"], keep="first", maintain_order=True)
    if "sectors" in frames:
        sectors = frames["sectors"]
        require_values(sectors, ("sector", "occupation"), file("sectors"))
        require_known(sectors, "occupation", occ["code"], file("sectors"), "occupation code")
        require_unique(sectors, ["sector", "occupation"], file("sectors"), "sector membership")
        tables["sectors"] = sectors.with_columns(principal=parse_bool(sectors, "principal", file("sectors")))
    if "mobilities" in frames:
        mob = frames["mobilities"]
        require_values(mob, ("occupation", "target"), file("mobilities"))
        require_known(mob, "occupation", occ["code"], file("mobilities"), "occupation code")
        require_known(mob, "target", occ["code"], file("mobilities"), "occupation code")
        require_unique(mob, ["occupation", "target"], file("mobilities"), "mobility")
        tables["mobilities"] = mob.with_columns(rank=parse_int(mob, "rank", file("mobilities")))

    meta = {"name": directory.name, "version": ""}
    meta_path = directory / METADATA
    if meta_path.exists():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ReferentielError(f"invalid JSON: {error}", file=str(meta_path),
                                   expected='{"name": "...", "version": "..."}') from None
        if not isinstance(loaded, dict):
            raise ReferentielError("invalid metadata", file=str(meta_path),
                                   expected='a JSON object {"name": ..., "version": ...}',
                                   found=type(loaded).__name__)
        meta.update({k: str(v) for k, v in loaded.items() if k in ("name", "version")})
    return Referentiel.from_tables(name=meta["name"], version=meta["version"],
                                   source=source or f"csv:{directory}", **tables)


def write(referentiel: Referentiel, directory: str | Path) -> Path:
    """Write ``referentiel`` as a generic folder (created if needed). Returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, (filename, required, optional) in FILES.items():
        frame: pl.DataFrame = getattr(referentiel, name)
        frame.select(list(required + optional)).write_csv(directory / filename, float_precision=None)
    (directory / METADATA).write_text(
        json.dumps({"name": referentiel.name, "version": referentiel.version,
                    "fingerprint": referentiel.fingerprint}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8")
    return directory
