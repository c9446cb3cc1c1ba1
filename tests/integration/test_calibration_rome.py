"""Bridge labels calibrated on ROME v460: the figures of docs/calibration.md, and the absurd bridge."""

from __future__ import annotations

import pytest

from api.cli.versions import calibration_report
from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.calibration import BridgeLabeller

pytestmark = pytest.mark.rome


@pytest.fixture(scope="module")
def report(rome):
    return calibration_report(rome)


@pytest.mark.parametrize("score", ["content", "learned_cv"])
def test_thresholds_come_from_all_pairs_of_rome_and_are_reproducible(rome, report, score):
    calibration = report[score]["calibration"]
    ref = calibration["reference"]
    assert ref["random_pairs_exhaustive"] and ref["random_pairs"] == rome.n_occupations * (rome.n_occupations - 1)
    assert not ref["capped"] and ref["likelihood_ratio_levels_used"] == [10.0, 30.0]
    assert 0 < calibration["viable"] < calibration["highly_viable"] < 1
    assert 0 < calibration["min_core_support"] < 1


def test_the_calibration_is_reproducible(rome, report):
    again = calibration_report(rome, learned=False)
    assert again["content"] == report["content"]


@pytest.mark.parametrize("score", ["content", "learned_cv"])
def test_official_mobilities_are_labelled_viable_far_more_often_than_random_pairs(report, score):
    """No label of an official mobility comes from a model that saw it: the content score never
    sees them, the learned score is cross-validated by source occupation."""
    mob, rnd = report[score]["official_mobilities"], report[score]["random_pairs"]
    assert mob["pairs"] == 14_912
    assert mob["viable_or_better"] >= 0.5
    assert rnd["viable_or_better"] <= 0.08
    assert mob["viable_or_better"] >= 8 * rnd["viable_or_better"]
    assert report[score]["cross_sector_mobilities"]["viable_or_better"] >= 5 * rnd["viable_or_better"]


def test_a_sales_assistant_is_not_viably_bridged_to_a_cloakroom_attendant(rome):
    """The users' example of an absurd bridge: prêt-à-porter sales (D1214) -> cloakroom (G1707)."""
    space = SkillSpace.from_referentiel(rome)
    labeller = BridgeLabeller.from_referentiel(rome, BridgeModel.fit(space), space)
    a, b = rome.occupation_row("D1214"), rome.occupation_row("G1707")
    assert labeller.label(a, b) == "stretch"
    assert labeller.support.matrix[a, b] == 0.0  # none of the cloakroom's core skills is supported
    # while the food line operator's move to a packaging line is viable
    assert labeller.label(rome.occupation_row("H2102"), rome.occupation_row("H3301")) in ("viable", "highly viable")
