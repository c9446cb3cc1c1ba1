"""The synthetic population (referentiels/synthetic.py; ``passerelles synth``: tests/cli)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from referentiels.synthetic import fold_text, synthesize
from referentiels.territories import default_basins


@pytest.fixture(scope="module")
def population(demo):
    return synthesize(demo, 3000, 800, default_basins(), seed=4)


def test_same_seed_same_files_other_seed_other_files(demo, tmp_path):
    basins = default_basins()
    digests = []
    for folder, seed in (("a", 1), ("b", 1), ("c", 2)):
        paths = synthesize(demo, 500, 100, basins, seed=seed).write(tmp_path / folder)
        digests.append(tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths.values()))
    assert digests[0] == digests[1] != digests[2]


def test_columns_are_the_store_columns_and_codes_are_known(demo, population):
    s, o = population.seekers, population.offers
    assert s.columns == ["id", "skills", "skills_text", "occupation", "past_occupations", "basin", "lat", "lon",
                         "radius_km", "consent"]
    assert o.columns == ["id", "employer", "occupation", "must", "desired", "basin", "lat", "lon", "contract", "opening"]
    assert s["id"].n_unique() == s.height and o["id"].n_unique() == o.height
    skills, occupations = set(demo.skill_codes), set(demo.occupation_codes)
    assert set(s["skills"].explode().drop_nulls()) <= skills
    assert set(o["must"].explode().drop_nulls()) | set(o["desired"].explode().drop_nulls()) <= skills
    assert set(s["occupation"]) | set(s["past_occupations"].explode().drop_nulls()) <= occupations
    assert set(s["basin"]) <= set(default_basins()["id"])
    assert (s["skills"].list.len() + s["skills_text"].list.len()).max() <= 30


def test_noise_drop_and_neighbour_skills(demo):
    basins = default_basins().head(1)
    s = synthesize(demo, 2000, 0, basins, seed=0, drop=0.3, noise=0.1, text_share=0.0, max_skills=1000).seekers
    links = demo.links.select("occupation", "skill")
    own = (s.select("id", "occupation", pl.col("skills")).explode("skills")
           .join(links, left_on=["occupation", "skills"], right_on=["occupation", "skill"], how="inner"))
    held = s["skills"].list.len().sum()
    sizes = links.group_by("occupation").len().rename({"len": "n"})
    expected_kept = s.join(sizes, on="occupation")["n"].sum() * 0.7
    assert own.height == pytest.approx(expected_kept, rel=0.05)         # 30% of each profile dropped
    assert (held - own.height) / own.height == pytest.approx(0.1, abs=0.04)  # ~10% noise (minus duplicates)


def test_zipf_frequencies_and_free_text(demo, population):
    counts = np.sort(population.seekers["occupation"].value_counts()["count"].to_numpy())[::-1]
    assert counts[0] > 5 * np.median(counts)  # a few occupations are much more frequent
    texts = population.seekers["skills_text"].explode().drop_nulls()
    assert 0 < texts.len() < population.seekers["skills"].list.len().sum() * 0.05
    folded_labels = {fold_text(label) for label in demo.skills["label"]}
    assert set(texts) <= folded_labels
    assert fold_text("Contrôler la qualité") == "controler la qualite"


def test_offers_have_must_have_and_desired_skills_and_dates(population):
    o = population.offers
    assert o["must"].list.len().min() >= 1 and o["must"].list.len().max() <= 6
    assert (o.select(pl.col("must").list.set_intersection("desired").list.len())["must"] == 0).all()
    assert o["opening"].str.to_date().is_not_null().all()
    assert set(o["contract"]) <= {"CDI", "CDD", "Intérim", "Alternance"}


def test_locations_stay_near_their_basin(population):
    from referentiels.territories import haversine_km

    s = population.seekers.join(default_basins().select("id", pl.col("lat").alias("blat"), pl.col("lon").alias("blon")),
                                left_on="basin", right_on="id")
    distance = haversine_km(s["lat"].to_numpy(), s["lon"].to_numpy(), s["blat"].to_numpy(), s["blon"].to_numpy())
    assert np.median(distance) < 15 and np.percentile(distance, 99) < 40


def test_bad_arguments_are_refused(demo):
    with pytest.raises(ValueError, match="basin"):
        synthesize(demo, 10, 10, default_basins().head(0))
    with pytest.raises(ValueError, match="drop"):
        synthesize(demo, 10, 10, default_basins(), drop=1.5)
