"""Reader of the official France Travail ROME 4.0 CSV folder ("Toutes les données du ROME").

What is read, and how (measured on v460):

- occupations: ``unix_referentiel_code_rome`` (code, label, parent) with the professional domain
  of ``unix_cr_gd_dp`` (e.g. H21 "Alimentaire");
- skills: every item of ``unix_referentiel_competence`` (savoir-faire and savoir-être, grouped by
  their macro-competence ``code_ogr_macro_comp``) and of ``unix_referentiel_savoir`` (savoirs,
  grouped by category / sub-category);
- links: the ``code_compo_bloc`` 5 rows of ``unix_liens_rome_referentiels`` (rubrique 1
  savoir-faire, 2 savoir-être, 3 savoirs), weight 1, core when ``unix_coherence_item.coeur_metier``
  is "Principale" or "Émergente";
- titles: ``unix_referentiel_appellation`` (long labels); sectors:
  ``unix_arborescence_secteur_activite`` (one row per sector and occupation, principal if any
  sub-sector row says so); mobilities: ``unix_rubrique_mobilite`` (rank = ``numero_ordre``).

Quirks handled: file names carry the version (``_v460_utf8``); some files that say utf8 are cp1252
(``unix_arborescence_secteur_naf``), so every file is decoded as UTF-8 first, then cp1252.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from .csvfiles import LINE, read_csv, require_known
from .errors import ReferentielError
from .model import Referentiel

ENCODINGS = ("utf-8", "cp1252")
USED = (
    "referentiel_code_rome", "cr_gd_dp", "referentiel_competence", "referentiel_savoir",
    "liens_rome_referentiels", "coherence_item", "referentiel_appellation",
    "arborescence_secteur_activite", "rubrique_mobilite",
)
RUBRIQUE_KIND = {"1": "savoir-faire", "2": "savoir-être", "3": "savoir"}


def find(directory: Path, stem: str, *, required: bool = True) -> Path | None:
    """The file ``unix_<stem>_v<version>_utf8.csv`` of ``directory`` (any version suffix)."""
    pattern = re.compile(rf"^unix_{re.escape(stem)}(_v\d+)?(_utf8)?\.csv$")
    matches = sorted(p for p in directory.iterdir() if pattern.match(p.name))
    if not matches:
        if not required:
            return None
        raise ReferentielError(f"ROME file unix_{stem}_v*_utf8.csv not found", file=str(directory),
                               expected="the official ROME 4.0 CSV folder ('Toutes les données du ROME')")
    return matches[-1]


def source_files(directory: Path) -> list[Path]:
    files = [find(directory, stem) for stem in USED]
    version = directory / "version.txt"
    return [f for f in files if f is not None] + ([version] if version.exists() else [])


def version_of(directory: Path) -> str:
    """"v460" from version.txt ("Numero de version : 60") or from the file names."""
    version_file = directory / "version.txt"
    if version_file.exists():
        text = version_file.read_bytes().decode("utf-8", "replace")
        match = re.search(r"version\s*:\s*(\d+)", text, re.IGNORECASE)
        if match:
            return f"v4{int(match.group(1)):02d}"
    names = [p.name for p in directory.glob("unix_referentiel_code_rome_v*.csv")]
    match = re.search(r"_v(\d+)", names[0]) if names else None
    return f"v{match.group(1)}" if match else ""


def _table(directory: Path, stem: str, required: tuple[str, ...]) -> pl.DataFrame:
    return read_csv(find(directory, stem), required=required, encodings=ENCODINGS)


def read(directory: str | Path, *, source: str | None = None) -> Referentiel:
    directory = Path(directory)
    if not directory.is_dir():
        raise ReferentielError("ROME folder not found", file=str(directory),
                               expected="a folder of unix_*_utf8.csv files")

    code_rome = _table(directory, "referentiel_code_rome", ("code_rome", "libelle_rome", "code_rome_parent"))
    domains = _table(directory, "cr_gd_dp", ("code_rome", "code_domaine_professionel", "libelle_domaine_professionel"))
    occupations = (
        code_rome.join(domains.drop(LINE), on="code_rome", how="left")
        .select(
            code=pl.col("code_rome"), label=pl.col("libelle_rome"),
            domain=pl.col("code_domaine_professionel"), domain_label=pl.col("libelle_domaine_professionel"),
            parent=pl.when(pl.col("code_rome_parent") != pl.col("code_rome")).then(pl.col("code_rome_parent")),
        )
        .unique("code", keep="first", maintain_order=True)
    )

    competence = _table(directory, "referentiel_competence",
                        ("code_ogr", "libelle_competence", "code_ogr_macro_comp", "cat_comp"))
    savoir = _table(directory, "referentiel_savoir",
                    ("code_ogr_savoir", "libelle_savoir", "categorie_savoir", "sous_categorie_savoir"))
    skills = pl.concat([
        competence.select(
            code=pl.col("code_ogr"), label=pl.col("libelle_competence"),
            kind=pl.when(pl.col("cat_comp").str.to_lowercase().str.contains("être"))
            .then(pl.lit("savoir-être")).otherwise(pl.lit("savoir-faire")),
            group=pl.coalesce("code_ogr_macro_comp", "code_ogr"),
        ),
        savoir.select(
            code=pl.col("code_ogr_savoir"), label=pl.col("libelle_savoir"), kind=pl.lit("savoir"),
            group=pl.concat_str([pl.col("categorie_savoir").fill_null(""),
                                 pl.col("sous_categorie_savoir").fill_null("")], separator=" / "),
        ),
    ]).unique("code", keep="first", maintain_order=True)

    liens = _table(directory, "liens_rome_referentiels", ("code_rome", "code_compo_bloc", "code_rubrique", "code_ogr"))
    coherence = _table(directory, "coherence_item", ("code_rome", "code_ogr", "coeur_metier"))
    core = coherence.filter(pl.col("coeur_metier").is_not_null()).select(
        "code_rome", "code_ogr", core=pl.lit(True)).unique(["code_rome", "code_ogr"])
    links = liens.filter(pl.col("code_compo_bloc") == "5")
    require_known(links, "code_ogr", skills["code"], str(find(directory, "liens_rome_referentiels")), "skill code")
    require_known(links, "code_rome", occupations["code"], str(find(directory, "liens_rome_referentiels")),
                  "occupation code")
    links = (
        links.join(core, on=["code_rome", "code_ogr"], how="left")
        .select(occupation=pl.col("code_rome"), skill=pl.col("code_ogr"), weight=pl.lit(1.0),
                core=pl.col("core").fill_null(False))
        .group_by(["occupation", "skill"]).agg(pl.col("weight").first(), pl.col("core").any())
    )

    appellations = _table(directory, "referentiel_appellation", ("libelle_appellation_long", "code_rome"))
    titles = appellations.select(title=pl.col("libelle_appellation_long"), occupation=pl.col("code_rome")) \
        .drop_nulls().unique(["title", "occupation"])

    tree = _table(directory, "arborescence_secteur_activite", ("libelle_sect_activite", "code_rome", "principal"))
    sectors = (
        tree.drop_nulls(["libelle_sect_activite", "code_rome"])
        .group_by(["libelle_sect_activite", "code_rome"])
        .agg(principal=(pl.col("principal").str.to_lowercase() == "oui").any())
        .select(sector=pl.col("libelle_sect_activite"), occupation=pl.col("code_rome"), principal="principal")
    )

    mob = _table(directory, "rubrique_mobilite", ("code_rome", "code_rome_cible", "numero_ordre"))
    mobilities = (
        mob.select(occupation=pl.col("code_rome"), target=pl.col("code_rome_cible"),
                   rank=pl.col("numero_ordre").cast(pl.Int64, strict=False))
        .filter(pl.col("occupation") != pl.col("target"))
        .group_by(["occupation", "target"]).agg(pl.col("rank").min())
    )
    known = occupations["code"].implode()
    return Referentiel.from_tables(
        name="ROME 4.0", version=version_of(directory), source=source or f"rome:{directory}",
        occupations=occupations, skills=skills, links=links,
        titles=titles.filter(pl.col("occupation").is_in(known)),
        sectors=sectors.filter(pl.col("occupation").is_in(known)),
        mobilities=mobilities.filter(pl.col("occupation").is_in(known) & pl.col("target").is_in(known)),
    )
