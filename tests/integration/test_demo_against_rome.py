"""The demo's occupations are real ROME 4.0 occupations, with their official codes and labels."""

from __future__ import annotations

import polars as pl


def test_every_demo_occupation_is_a_rome_occupation_with_its_official_label(demo, rome):
    official = dict(zip(rome.occupations["code"].to_list(), rome.occupations["label"].to_list()))
    for code, label in zip(demo.occupations["code"].to_list(), demo.occupations["label"].to_list()):
        assert official.get(code) == label, code


def test_demo_mobilities_are_official_rome_mobilities(demo, rome):
    pairs = set(zip(rome.mobilities["occupation"].to_list(), rome.mobilities["target"].to_list()))
    demo_pairs = zip(demo.mobilities["occupation"].to_list(), demo.mobilities["target"].to_list())
    assert all(pair in pairs for pair in demo_pairs)


def test_demo_skills_are_written_in_the_projects_own_words(demo, rome):
    rome_labels = set(rome.skills["label"].str.to_lowercase().to_list())
    own = demo.skills.filter(pl.col("kind") == "savoir-faire")["label"].str.to_lowercase().to_list()
    copied = [label for label in own if label in rome_labels]
    assert len(copied) <= 0.05 * len(own), copied[:10]
