"""Regenerate the embedded demo referential (the CSV files of this folder).

    .venv/bin/python referentiels/demo/_author.py ../shared/data/rome-v460

The skills (``_vocabulary.py``) and which occupation needs which (``_profiles.py``) are written by
the Passerelles project. From ROME 4.0 (France Travail, Licence Ouverte 2.0) it takes only facts
about the chosen occupations: codes, official labels, domains, job titles (appellations), activity
sectors and official mobilities between two chosen occupations. Output is deterministic.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from _profiles import PROFILES  # noqa: E402
from _vocabulary import GROUPS, SAVOIR, SE  # noqa: E402

import referentiels  # noqa: E402
from referentiels import generic  # noqa: E402
from referentiels.model import Referentiel  # noqa: E402

WEIGHT_CORE, WEIGHT_OTHER, WEIGHT_KNOWLEDGE, WEIGHT_SOFT = 1.0, 0.6, 0.8, 0.5


def skill_table() -> tuple[pl.DataFrame, dict[tuple[str, int], str]]:
    """Every vocabulary skill with a stable code DS0001...; and (group, position) -> code."""
    rows, codes = [], {}
    for group, (group_label, kind, labels) in GROUPS.items():
        for position, text in enumerate(labels):
            label, _, own_group = text.partition("|")
            code = f"DS{len(rows) + 1:04d}"
            codes[(group, position)] = code
            rows.append({"code": code, "label": label, "kind": kind, "group": own_group or group_label})
    return pl.DataFrame(rows), codes


def parse_positions(spec: str, size: int) -> list[int]:
    positions = []
    for part in spec.split(","):
        start, _, end = part.partition("-")
        positions.extend(range(int(start), int(end or start) + 1))
    if any(p < 0 or p >= size for p in positions):
        raise ValueError(f"position out of range 0..{size - 1} in {spec!r}")
    return positions


def link_table(codes: dict[tuple[str, int], str]) -> pl.DataFrame:
    rows = []
    for occupation, profile in PROFILES.items():
        seen = set()
        for item in profile.split():
            core = item.startswith("*")
            group, _, spec = item.lstrip("*").partition(":")
            kind = GROUPS[group][1]
            for position in parse_positions(spec, len(GROUPS[group][2])):
                skill = codes[(group, position)]
                if skill in seen:
                    continue
                seen.add(skill)
                weight = (WEIGHT_SOFT if kind == SE else WEIGHT_KNOWLEDGE if kind == SAVOIR
                          else WEIGHT_CORE if core else WEIGHT_OTHER)
                rows.append({"occupation": occupation, "skill": skill, "weight": weight,
                             "core": core and kind not in (SE, SAVOIR)})
        if not 20 <= len(seen) <= 60:
            raise ValueError(f"{occupation}: {len(seen)} skills, expected 20 to 60")
    return pl.DataFrame(rows)


def main(rome_dir: str) -> None:
    rome = referentiels.load(f"rome:{rome_dir}", cache=False)
    chosen = sorted(PROFILES)
    missing = set(chosen) - set(rome.occupations["code"].to_list())
    if missing:
        raise SystemExit(f"not ROME 4.0 codes: {sorted(missing)}")
    occupations = (rome.occupations.filter(pl.col("code").is_in(chosen))
                   .with_columns(pl.when(pl.col("parent").is_in(chosen)).then(pl.col("parent"))
                                 .otherwise(None).alias("parent")))
    skills, codes = skill_table()
    links = link_table(codes)
    in_set = pl.col("occupation").is_in(chosen)
    titles = rome.titles.filter(in_set)
    sectors = rome.sectors.filter(in_set)
    mobilities = rome.mobilities.filter(in_set & pl.col("target").is_in(chosen))
    demo = Referentiel.from_tables(name="Passerelles demo", version="1", source="demo",
                       occupations=occupations, skills=skills, links=links, titles=titles,
                       sectors=sectors, mobilities=mobilities)
    for path in HERE.glob("*.csv"):
        path.unlink()
    generic.write(demo, HERE)
    used = links["skill"].n_unique()
    print(f"{demo.counts()} (skills linked: {used}/{skills.height}); ROME {rome.version}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(HERE.parent.parent.parent / "shared/data/rome-v460"))
