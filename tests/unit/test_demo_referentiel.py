"""The embedded demo referential: big enough and realistic enough for the product's main job."""

from __future__ import annotations

import polars as pl

import referentiels
from matching import SkillSpace
from matching.bridges import BridgeModel


def test_demo_is_in_the_package_and_loads_without_any_data(demo):
    assert referentiels.DEMO_DIR.is_dir()
    assert demo.source == "demo"


def test_demo_has_the_size_the_product_promises(demo):
    counts = demo.counts()
    assert counts["occupations"] >= 80
    assert counts["skills"] >= 600
    per_occupation = demo.links.group_by("occupation").len()["len"]
    assert per_occupation.min() >= 20 and per_occupation.max() <= 60
    assert counts["titles"] > counts["occupations"]
    assert counts["mobilities"] > 0


def test_demo_covers_the_pilot_sectors_and_leaves_industry(demo):
    sectors = set(demo.sectors["sector"].to_list())
    assert {"Industrie - Alimentaire", "Industrie - Métallurgie", "Logistique et transport"} <= sectors
    domains = set(demo.occupations["domain"].to_list())
    assert {"H21", "H29", "I13", "N11"} <= domains
    assert {"J15", "G16", "K22"} & domains, "bridges must be able to leave industry"


def test_demo_skills_have_all_three_kinds_and_core_links(demo):
    assert set(demo.skills["kind"].to_list()) == {"savoir-faire", "savoir", "savoir-être"}
    h2102 = demo.links.filter(pl.col("occupation") == "H2102")
    assert h2102["core"].sum() >= 10


def test_h2102_bridges_reach_metalworking_in_the_demo(demo):
    bridges = BridgeModel.fit(SkillSpace.from_referentiel(demo))
    scores = bridges.scores_from(demo.occupation_index["H2102"])
    codes = demo.occupations["code"].to_list()
    top = [codes[i] for i in scores.argsort()[::-1][1:20]]
    assert any(code.startswith("H29") for code in top), top
