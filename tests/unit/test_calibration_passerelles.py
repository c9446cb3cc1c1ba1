"""The calibrated label on passerelles queries: `min_label` in the core (over HTTP: tests/api/test_bridges_endpoints.py; on the CLI: tests/cli/test_cli_bridges.py)."""

from __future__ import annotations

import pytest

from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.calibration import BridgeLabeller, label_rank
from matching.passerelles import PasserelleIndex


@pytest.fixture(scope="module")
def index(demo):
    space = SkillSpace.from_referentiel(demo)
    model = BridgeModel.from_referentiel(demo, space)
    return PasserelleIndex.fit(demo, space, model, labeller=BridgeLabeller.from_referentiel(demo, model, space))


@pytest.mark.parametrize("min_label", ["stretch", "viable", "highly viable"])
def test_min_label_keeps_bridges_labelled_at_least_that(index, demo, min_label):
    a = demo.occupation_row("H2102")
    found = index.query(a, k=demo.n_occupations, min_label=min_label)
    assert all(label_rank(p.viability) >= label_rank(min_label) for p in found)
    every = index.query(a, k=demo.n_occupations)
    assert [p.code for p in found] == [p.code for p in every if label_rank(p.viability) >= label_rank(min_label)]


def test_min_label_without_a_labeller_or_unknown_is_an_error(index, demo):
    bare = PasserelleIndex.fit(demo, SkillSpace.from_referentiel(demo), index.bridges)
    with pytest.raises(ValueError, match="labeller"):
        bare.query(0, min_label="viable")
    with pytest.raises(ValueError, match="highly viable"):
        index.query(0, min_label="plausible")
