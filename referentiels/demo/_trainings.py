"""Author the demo training catalogue (``trainings.csv``) from the demo's own skill groups.

Deterministic: each training names the skill groups it teaches (and optionally words that a
skill label must contain); it teaches the ``n`` skills of those groups that the demo's occupations
use most (ties by code). Titles and organisations are those of real French training paths
(titres professionnels, CQPM, habilitations); places, dates and prices are plausible, not quoted.

    .venv/bin/python referentiels/demo/_trainings.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))

import polars as pl  # noqa: E402

import referentiels  # noqa: E402

# id, title, organisation, basin, remote, hours, cost, funder, start dates, prepares for,
# [(group, n, words)]
TRAININGS = [
    ("DT001", "CQPM Opérateur régleur sur machine-outil à commande numérique", "Pôle formation UIMM Picardie",
     "beauvais", False, 420, 6300, "Région", "2026-01-12|2026-09-07", "H2903|H2906|H2912",
     [("Usinage", 8, ()), ("Réglage et changement de série", 6, ())]),
    ("DT002", "Lecture de plans et métrologie en atelier mécanique", "GRETA Picardie", "beauvais", False, 70, 980,
     "France Travail", "2026-01-19|2026-03-16|2026-05-18|2026-09-14", "H2903|H2906|H2901",
     [("Lecture de plans et métrologie", 10, ()), ("Savoirs - Mécanique", 1, ("Dessin",)), ("Savoirs - Qualité", 1, ("Métrologie",))]),
    ("DT003", "Titre professionnel Soudeur assembleur industriel", "AFPA", "saint-quentin", False, 735, 9900,
     "Région", "2026-02-02|2026-10-05", "H2913|H2917|H2909",
     [("Soudage et assemblage thermique", 10, ()), ("Savoirs - Métallurgie", 2, ())]),
    ("DT004", "Soudage TIG et semi-automatique MIG-MAG : qualification", "Institut de Soudure", "roissy", False, 140,
     3600, "OPCO 2i", "2026-03-02|2026-06-01|2026-11-02", "H2916|H2917|H2913",
     [("Soudage et assemblage thermique", 6, ()), ("Savoirs - Métallurgie", 1, ("soudage",))]),
    ("DT005", "Maintenance de premier niveau des équipements de production", "AFPI Hauts-de-France",
     "saint-quentin", False, 105, 1650, "OPCO 2i", "", "H2906|I1310",
     [("Maintenance mécanique", 5, ()), ("Conduite de ligne et de machines de production", 2, ("maintenance",))]),
    ("DT006", "Titre professionnel Technicien de maintenance industrielle", "AFPA", "bordeaux", False, 1050, 14200,
     "Région", "2026-01-05|2026-09-14", "I1304|I1310|I1335",
     [("Maintenance mécanique", 10, ()), ("Hydraulique et pneumatique", 5, ()), ("Électricité industrielle", 5, ()),
      ("Organisation et suivi de la maintenance", 4, ())]),
    ("DT007", "Hydraulique et pneumatique industrielles", "CNAM Nouvelle-Aquitaine", "bordeaux", False, 35, 850,
     "CPF", "2026-02-09|2026-05-11|2026-10-12", "I1310|I1304",
     [("Hydraulique et pneumatique", 8, ()), ("Savoirs - Mécanique", 1, ("Hydraulique",))]),
    ("DT008", "Habilitation électrique B1V, B2V, BR, BC (NF C18-510)", "APAVE", "amiens", False, 21, 690,
     "Employeur", "2026-01-26|2026-02-23|2026-03-23|2026-04-20|2026-06-15|2026-09-21", "I1304|I1335",
     [("Savoirs - Électricité", 1, ("Habilitation",)), ("Électricité industrielle", 2, ("habilitation", "mesures électriques"))]),
    ("DT009", "Électricité industrielle : câblage, mesures et dépannage", "GRETA Sud Aquitaine", "bayonne", False, 210,
     3150, "Région", "2026-03-09|2026-09-28", "I1335|I1304",
     [("Électricité industrielle", 9, ()), ("Savoirs - Électricité", 1, ("Électrotechnique",))]),
    ("DT010", "Initiation aux automatismes industriels (automates programmables)", "GRETA Oise", "creil", False, 70,
     1400, "France Travail", "2026-04-13|2026-10-19", "I1304|H2102",
     [("Automatismes et informatique industrielle", 6, ()), ("Savoirs - Électricité", 1, ("Automatismes",))]),
    ("DT011", "CQP Conducteur de ligne automatisée (agroalimentaire et industries)", "IFRIA Nouvelle-Aquitaine",
     "perigueux", False, 280, 4200, "OCAPIAT", "2026-02-16|2026-09-21", "H2102|H2906",
     [("Conduite de ligne et de machines de production", 10, ()), ("Réglage et changement de série", 4, ())]),
    ("DT012", "Usinage conventionnel : tournage et fraisage", "AFPA", "perigueux", False, 350, 5250, "Région",
     "2026-03-02", "H2903|H2918",
     [("Usinage", 10, ()), ("Savoirs - Mécanique", 1, ("usinage",))]),
    ("DT013", "Chaudronnerie : traçage, découpe et formage des tôles", "Compagnons du Devoir", "bayonne", False, 280,
     4480, "Région", "2026-01-12|2026-09-07", "H2902|H2911|H2914",
     [("Chaudronnerie, tôlerie et tuyauterie", 10, ())]),
    ("DT014", "Contrôle qualité en production mécanique", "Bureau Veritas Formation", None, True, 35, 1190, "CPF", "",
     "H2906|H2903",
     [("Contrôle qualité et traçabilité", 6, ()), ("Savoirs - Qualité", 2, ())]),
    ("DT015", "Lean manufacturing et amélioration continue en atelier", "CCI Formation Hauts-de-France", None, True, 21,
     630, "CPF", "", "H2906|H2102",
     [("Amélioration continue et performance industrielle", 6, ()), ("Savoirs - Production", 1, ("Lean",))]),
    ("DT016", "Sauveteur secouriste du travail et prévention des risques en atelier", "IRFSS Croix-Rouge", "beauvais",
     False, 14, 280, "Employeur", "2026-01-15|2026-02-12|2026-03-12|2026-04-09|2026-05-21|2026-06-18", "",
     [("Santé, sécurité et environnement au travail", 6, ()), ("Savoirs - Prévention", 1, ("Santé",))]),
    ("DT017", "Métallurgie : propriétés des métaux et traitements thermiques", "CNAM Hauts-de-France",
     "saint-quentin", False, 60, 1200, "OPCO 2i", "2026-03-16|2026-10-05", "H2907|H2904",
     [("Savoirs - Métallurgie", 2, ()), ("Fonderie, forge et traitements thermiques", 6, ())]),
    ("DT018", "Ajustage et montage mécanique", "AFPI Hauts-de-France", "compiegne", False, 210, 3360, "Région",
     "2026-02-02|2026-09-14", "H2901|H2909",
     [("Ajustage, montage et assemblage mécanique", 10, ())]),
    ("DT019", "CACES R489 chariots de catégories 1A, 3 et 5", "AFTRAL", "beauvais", False, 35, 1050, "France Travail",
     "2026-01-19|2026-02-16|2026-03-16|2026-04-13|2026-05-11|2026-06-08", "N1103",
     [("Manutention et conduite d'engins", 5, ()), ("Savoirs - Logistique", 1, ("CACES",))]),
    ("DT020", "Gestion de la maintenance assistée par ordinateur (GMAO)", "CNAM", None, True, 21, 540, "CPF", "",
     "I1304|I1326",
     [("Organisation et suivi de la maintenance", 5, ()), ("Savoirs - Maintenance", 1, ())]),
    ("DT021", "Hygiène alimentaire et méthode HACCP", "IFRIA Nouvelle-Aquitaine", "bayonne", False, 14, 390, "OCAPIAT",
     "2026-01-22|2026-04-23|2026-09-24", "H2102|H2105",
     [("Hygiène et sécurité des aliments", 6, ()), ("Savoirs - Agroalimentaire", 2, ())]),
    ("DT022", "Titre professionnel Préparateur de commandes en entrepôt", "Promotrans", "bordeaux", False, 399, 5200,
     "Région", "2026-03-23|2026-10-12", "N1103",
     [("Gestion des stocks et entreposage", 8, ()), ("Manutention et conduite d'engins", 3, ())]),
    ("DT023", "Réglage et changement de série (SMED) sur ligne de production", "Pôle formation UIMM Picardie",
     "saint-quentin", False, 70, 1260, "OPCO 2i", "2026-02-23|2026-06-22|2026-11-16", "H2912|H2906",
     [("Réglage et changement de série", 8, ())]),
    ("DT024", "Froid industriel : installation et maintenance", "GRETA Périgord", "perigueux", False, 420, 6300,
     "Région", "2026-09-07", "I1306",
     [("Froid, thermique et climatisation", 10, ()), ("Savoirs - Énergie", 1, ("Froid",))]),
    ("DT025", "Conduite de machines de fabrication mécanique", "AFPI Île-de-France", "cergy", False, 140, 2240,
     "France Travail", "2026-04-07|2026-10-05", "H2906",
     [("Conduite de ligne et de machines de production", 8, ()), ("Contrôle qualité et traçabilité", 3, ())]),
]


def main() -> None:
    r = referentiels.load("demo")
    usage = r.links.group_by("skill").len().rename({"len": "uses"})
    skills = r.skills.join(usage, left_on="code", right_on="skill", how="left").with_columns(pl.col("uses").fill_null(0))
    rows = []
    for (tid, title, org, basin, remote, hours, cost, funder, starts, prepares, picks) in TRAININGS:
        codes: list[str] = []
        for group, n, words in picks:
            g = skills.filter(pl.col("group") == group)
            if not words:
                g = g.filter(pl.col("uses") > 0)
            else:
                g = g.filter(pl.any_horizontal([pl.col("label").str.to_lowercase().str.contains(w.lower(), literal=True)
                                                for w in words]))
            if g.height == 0:
                raise SystemExit(f"{tid}: no skill in group {group!r} with {words}")
            codes += g.sort(["uses", "code"], descending=[True, False]).head(n)["code"].to_list()
        rows.append({"id": tid, "title": title, "organisation": org, "skills": "|".join(sorted(set(codes))),
                     "hours": hours, "basin": basin or "", "remote": "true" if remote else "false",
                     "start_dates": starts, "cost": cost, "funder": funder, "occupations": prepares})
    with open(HERE / "trainings.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} trainings to {HERE / 'trainings.csv'}")


if __name__ == "__main__":
    main()
