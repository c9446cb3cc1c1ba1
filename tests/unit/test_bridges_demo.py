"""Passerelles, sector maps and the occupation graph on the embedded demo referential (their CLI: tests/cli)."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

from matching.bridges import BridgeModel
from matching.calibration import BridgeLabeller
from matching.graph import bridge_graph, career_paths, communities, export, hubs
from matching.passerelles import PasserelleIndex, UnknownSector, sector_pair_map
from matching.relation import HELD_RULES, RULES
from matching.space import SkillSpace

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"
HELD_NAMES = {RULES[code] for code in HELD_RULES}


@pytest.fixture(scope="module")
def engine(demo):
    space = SkillSpace.from_referentiel(demo)
    model = BridgeModel.from_referentiel(demo, space)
    labeller = BridgeLabeller.from_referentiel(demo, model, space)
    return demo, space, model, PasserelleIndex.fit(demo, space, model, labeller=labeller)


def test_each_bridge_explains_every_skill_of_its_target_once(engine):
    demo, space, model, index = engine
    a = demo.occupation_row("H2102")
    for p in index.query(a, 10):
        target = set(demo.links.filter(demo.links["occupation"] == p.code)["skill"].to_list())
        shared, close, missing = [s.code for s in p.shared], [s.code for s in p.close], [s.code for s in p.missing]
        assert set(shared) | set(close) | set(missing) == target
        assert len(shared) + len(close) + len(missing) == len(target)
        held = set(demo.links.filter(demo.links["occupation"] == "H2102")["skill"].to_list())
        for s in p.shared:  # held: the same skill, or through one that contains it (a rule says which)
            assert (s.via is None) == (s.code in held)
            assert s.via is None or (s.via["code"] in held and s.via["similarity"] >= 0.5
                                     and s.via["rule"] in HELD_NAMES and "contains" in s.via["evidence"])
        for s in p.close:  # close: related, never held, named with what it is close to and why
            assert s.code not in held and s.via["code"] in held and s.via["similarity"] >= 0.5
            assert s.via["rule"] not in HELD_NAMES
        assert all(s.via is None for s in p.missing)
        for group in (p.shared, p.close, p.missing):
            keys = [(not s.core, -s.weight, s.code) for s in group]
            assert keys == sorted(keys)
        assert p.viability in ("stretch", "viable", "highly viable")
        assert p.score == pytest.approx(float(model.matrix[a, demo.occupation_row(p.code)]))


def test_explanations_are_the_same_from_the_support_memo_and_cannot_be_altered_through_it(engine):
    demo, space, model, index = engine
    a = demo.occupation_index["H2102"]
    targets = [int(b) for b in np.argsort(-np.asarray(model.scores_from(a)))[:20] if b != a]
    remembered = [index.explain(a, b) for b in targets]  # the second pass reads the memo
    assert [index.explain(a, b) for b in targets] == remembered
    fresh = PasserelleIndex.fit(demo, space, model)
    assert [fresh.explain(a, b) for b in targets] == remembered
    kind, via, _, _ = index._support(a, targets[0])
    with pytest.raises(ValueError):
        via[0] = 0
    with pytest.raises(ValueError):
        kind[0] = 2
    index.forget_support()
    assert [index.explain(a, b) for b in targets] == remembered


def test_filters_sector_domain_cross_sector_and_min_score(engine):
    demo, _, _, index = engine
    a = demo.occupation_row("H2102")
    assert all(METAL in p.sectors for p in index.query(a, 20, sectors=[METAL]))
    assert all(p.domain.startswith("H29") for p in index.query(a, 20, domains=["H29"]))
    own = set(index.sectors_of(a))
    cross = index.query(a, 20, cross_sector_only=True)
    assert cross and all(p.sectors and not own & set(p.sectors) for p in cross)
    assert all(p.score >= 0.2 for p in index.query(a, 50, min_score=0.2))
    with pytest.raises(UnknownSector):
        index.query(a, 5, sectors=["Nowhere"])


def test_h2102_reaches_metal_and_maintenance_across_sectors_in_the_demo(engine):
    demo, _, _, index = engine
    codes = [p.code for p in index.query(demo.occupation_row("H2102"), 15, cross_sector_only=True)]
    assert {"I1304", "H2913", "H2906", "H2907", "H2903", "H2912", "H2909"} & set(codes)


def test_sector_pair_map_both_directions_and_common_skills_ranked(engine):
    demo, space, model, index = engine
    pair = sector_pair_map(demo, space, model, FOOD, METAL, k_per_source=3)
    assert set(pair.bridges["direction"]) == {f"{FOOD} -> {METAL}", f"{METAL} -> {FOOD}"}
    food = set(demo.sectors.filter(demo.sectors["sector"] == FOOD)["occupation"])
    metal = set(demo.sectors.filter(demo.sectors["sector"] == METAL)["occupation"])
    for row in pair.bridges.iter_rows(named=True):
        src, dst = (food, metal) if row["direction"].startswith(FOOD) else (metal, food)
        assert row["source"] in src and row["target"] in dst and row["source"] != row["target"]
    uses = pair.common_skills["bridges"].to_list()
    assert uses == sorted(uses, reverse=True) and uses[0] <= pair.bridges.height
    assert (pair.common_skills["a_to_b"] + pair.common_skills["b_to_a"] == pair.common_skills["bridges"]).all()
    assert pair.to_dict(top_skills=5)["counts"]["bridges"] == pair.bridges.height
    # common skills count held skills only; close ones are apart, and each bridge's skills add up
    assert (pair.bridges["shared_skills"].sum() == pair.common_skills["bridges"].sum()
            and pair.bridges["close_skills"].sum() == pair.close_skills["bridges"].sum())
    for row in pair.bridges.head(5).iter_rows(named=True):
        held, close, missing = index.explain(demo.occupation_row(row["source"]), demo.occupation_row(row["target"]))
        assert (row["shared_skills"], row["close_skills"], row["missing_skills"]) == (len(held), len(close), len(missing))
        assert row["close_core"] == sum(s.core for s in close) and row["missing_core"] == sum(s.core for s in missing)


def test_graph_paths_communities_hubs_and_exports(engine):
    demo, _, _, index = engine
    g = bridge_graph(index, k=5)
    assert g.number_of_nodes() == demo.n_occupations and all(d == 5 for _, d in g.out_degree())
    assert all(0 <= e["weight"] <= 1 for *_, e in g.edges(data=True))
    a, b = demo.occupation_row("H2102"), demo.occupation_row("I1304")
    paths = career_paths(index, g, a, b)
    assert paths and paths[0].codes[0] == "H2102" and paths[0].codes[-1] == "I1304"
    assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)
    for p in paths:
        assert 1 <= len(p.steps) <= 3
        assert p.score == pytest.approx(float(np.prod([s.score for s in p.steps])), rel=1e-5)
    found = communities(g)
    assert sorted(c for group in found for c in group) == sorted(g.nodes) and found == communities(g)
    top = hubs(index, g, top=5)
    assert top and all(h.cross_sector_bridges > 0 for h in top)
    gs = bridge_graph(index, k=2, skills=True)
    assert any(d["kind"] == "skill" for _, d in gs.nodes(data=True))
    for fmt in ("graphml", "gexf", "json"):
        data = export(gs, fmt)
        assert data
    back = nx.node_link_graph(json.loads(export(g, "json")), edges="links")
    assert back.number_of_edges() == g.number_of_edges()
    import io

    assert nx.read_graphml(io.BytesIO(export(g, "graphml"))).number_of_edges() == g.number_of_edges()


def test_a_generic_csv_referential_with_real_valued_weights(demo, tmp_path):
    """csv: folders carry real-valued link weights: they weigh in the space and the bridges."""
    import polars as pl

    import referentiels
    from referentiels import generic

    generic.write(demo, tmp_path / "ref")
    links_path = tmp_path / "ref" / "occupation_skills.csv"
    links = pl.read_csv(links_path, infer_schema_length=0)
    rng = np.random.default_rng(0)
    links = links.with_columns(weight=pl.Series([f"{w:.3f}" for w in rng.uniform(0.1, 3.0, links.height)]))
    links.write_csv(links_path)
    r = referentiels.load(f"csv:{tmp_path / 'ref'}", cache=False)
    assert r.links["weight"].n_unique() > 100
    space = SkillSpace.from_referentiel(r)
    model = BridgeModel.from_referentiel(r, space)
    assert np.all((model.matrix >= 0) & (model.matrix <= 1))
    index = PasserelleIndex.fit(r, space, model, labeller=BridgeLabeller.from_referentiel(r, model, space))
    found = index.query(r.occupation_row("H2102"), 5, cross_sector_only=True)
    assert len(found) == 5 and all(p.viability for p in found)
    plain = BridgeModel.from_referentiel(demo)
    assert not np.allclose(plain.similarity_matrix, model.similarity_matrix)


def test_without_sectors_cross_sector_means_another_professional_domain(demo):
    from referentiels.model import Referentiel

    r = Referentiel.from_tables(name="no sectors", version="1", source="test", occupations=demo.occupations,
                                skills=demo.skills, links=demo.links, titles=demo.titles)
    space = SkillSpace.from_referentiel(r)
    model = BridgeModel.from_referentiel(r, space)
    assert not model.learned and "sectors" not in model.signals
    index = PasserelleIndex.fit(r, space, model)
    a = r.occupation_row("H2102")
    found = index.query(a, 10, cross_sector_only=True)
    assert found and all(p.domain != "H21" and p.sectors == () and p.viability is None for p in found)
