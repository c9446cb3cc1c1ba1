"""Bridge labels calibrated on ROME v460: the figures of docs/calibration.md, and the absurd bridge."""

from __future__ import annotations

import pytest

from api.cli_versions import calibration_report
from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.calibration import BridgeLabeller

pytestmark = pytest.mark.rome


@pytest.fixture(scope="module")
def report(rome):
    return calibration_report(rome)


def test_thresholds_come_from_all_pairs_of_rome_and_are_reproducible(rome, report):
    ref = report["calibration"]["reference"]
    assert ref["random_pairs_exhaustive"] and ref["random_pairs"] == rome.n_occupations * (rome.n_occupations - 1)
    assert not ref["capped"] and ref["likelihood_ratio_levels_used"] == [10.0, 30.0]
    assert 0 < report["calibration"]["viable"] < report["calibration"]["highly_viable"] < 1
    assert 0 < report["calibration"]["min_core_support"] < 1
    assert calibration_report(rome)["calibration"] == report["calibration"]


def test_official_mobilities_are_labelled_viable_far_more_often_than_random_pairs(report):
    """The mobilities are never seen by the calibration: they check it."""
    mob, rnd = report["official_mobilities"], report["random_pairs"]
    assert mob["pairs"] == 14_912
    assert mob["viable_or_better"] >= 0.40
    assert rnd["viable_or_better"] <= 0.06
    assert mob["viable_or_better"] >= 8 * rnd["viable_or_better"]
    assert report["cross_sector_mobilities"]["viable_or_better"] >= 4 * rnd["viable_or_better"]


def test_a_sales_assistant_is_not_viably_bridged_to_a_cloakroom_attendant(rome):
    """The users' example of an absurd bridge: prêt-à-porter sales (D1214) -> cloakroom (G1707)."""
    space = SkillSpace.from_referentiel(rome)
    labeller = BridgeLabeller.from_referentiel(rome, BridgeModel.fit(space), space)
    a, b = rome.occupation_row("D1214"), rome.occupation_row("G1707")
    assert labeller.label(a, b) == "stretch"
    assert labeller.support.matrix[a, b] == 0.0  # none of the cloakroom's core skills is supported
    # while the food line operator's move to a packaging line is viable
    assert labeller.label(rome.occupation_row("H2102"), rome.occupation_row("H3301")) in ("viable", "highly viable")
