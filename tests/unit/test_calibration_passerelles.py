"""The calibrated label on passerelles queries: `min_label` in the core, over HTTP and on the CLI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.cli import main
from api.settings import Settings
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


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(referentiel="demo", database=tmp_path_factory.mktemp("db") / "p.sqlite3")
    with TestClient(create_app(settings)) as c:
        yield c


def test_http_min_label(client):
    response = client.get("/occupations/H2102/passerelles", params={"k": 50, "min_label": "viable"})
    assert response.status_code == 200
    body = response.json()
    assert body["filters"]["min_label"] == "viable"
    assert body["passerelles"] and all(p["viability"] in ("viable", "highly viable") for p in body["passerelles"])
    assert client.get("/occupations/H2102/passerelles", params={"min_label": "maybe"}).status_code == 422


def test_cli_min_label(capsys):
    assert main(["bridges", "H2102", "--min-label", "viable", "-k", "30", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["passerelles"]
    assert found and all(p["viability"] in ("viable", "highly viable") for p in found)
    assert main(["bridges", "H2102", "--min-label", "maybe"]) == 2
    assert "expected stretch, viable or 'highly viable'" in capsys.readouterr().err
