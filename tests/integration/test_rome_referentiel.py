"""Real facts of the official ROME 4.0 v460 data, as the `rome:` reader exposes them."""

from __future__ import annotations


import polars as pl
import pytest

import referentiels
from referentiels import generic, rome

pytestmark = pytest.mark.rome


def test_counts_of_rome_v460(rome):
    counts = rome.counts()
    assert rome.version == "v460"
    assert counts["occupations"] == 1584
    assert counts["mobilities"] == 14912
    assert counts["sectors"] == 35
    # code_compo_bloc 5 links: ~49k savoir-faire, ~5k savoir-être, ~36k savoirs (deduplicated)
    assert 89_000 < counts["links"] < 91_000
    assert counts["titles"] > 13_000


def test_h2102_is_the_food_line_operator_with_its_core_skills(rome):
    card = rome.occupation("H2102")
    assert card["label"] == "Conducteur / Conductrice de ligne en industrie alimentaire"
    assert card["domain"] == "H21"
    assert len(card["skills"]) == 66
    core = {s["label"] for s in card["skills"] if s["core"]}
    assert "Règles d'hygiène et de sécurité alimentaire" in core
    assert "Réaliser les réglages de premier niveau d'une machine" in core
    assert "Système Hazard Analysis Critical Control Point (HACCP)" in core
    kinds = {s["kind"] for s in card["skills"]}
    assert kinds == {"savoir-faire", "savoir", "savoir-être"}
    assert card["skills"][0]["core"]  # core skills come first


def test_food_industry_sector_contains_h2102(rome):
    food = rome.sectors.filter(pl.col("sector") == "Industrie - Alimentaire")["occupation"].to_list()
    assert "H2102" in food
    metal = rome.sectors.filter(pl.col("sector") == "Industrie - Métallurgie")["occupation"].to_list()
    assert "H2913" in metal


def test_h2102_official_mobilities_are_ranked(rome):
    mob = rome.mobilities.filter(pl.col("occupation") == "H2102").sort("rank")
    assert mob.height > 0 and mob["rank"].null_count() == 0


def test_generic_format_round_trips_rome(rome, tmp_path):
    out = generic.write(rome, tmp_path / "rome-generic")
    again = referentiels.load(f"csv:{out}", cache=False)
    assert again.fingerprint == rome.fingerprint
    assert again.version == rome.version


def test_the_cp1252_naf_file_is_decoded(rome_dir):
    from referentiels.csvfiles import read_csv

    naf = read_csv(rome.find(rome_dir, "arborescence_secteur_naf"), required=("code_rome", "libelle_rome"),
                   encodings=rome.ENCODINGS)
    labels = dict(zip(naf["code_rome"].to_list(), naf["libelle_rome"].to_list()))
    assert labels["A1203"] == "Agent / Agente d'entretien des espaces verts"
    assert any("è" in label for label in labels.values())


def test_the_cache_gives_back_the_same_referential(rome_dir, tmp_path):
    """How fast: benchmarks referential_load_cold and referential_load_cached (no timing asserted here)."""
    source = f"rome:{rome_dir}"
    cold = referentiels.load(source, cache=tmp_path)
    cached = referentiels.load(source, cache=tmp_path)
    assert cached.fingerprint == cold.fingerprint
    assert cached.matrix.nnz == cold.matrix.nnz and cached.occupations.equals(cold.occupations)
