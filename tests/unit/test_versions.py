"""`referentiels.versions` on small referentials (the `passerelles referentiel diff` command: tests/cli)."""

from __future__ import annotations


import polars as pl

from referentiels import Referentiel
from referentiels.versions import diff


def make(occupations: dict[str, tuple[str, list[str]]], skills: dict[str, str],
         titles: dict[str, str] | None = None, version: str = "1") -> Referentiel:
    """occupations: code -> (label, skill codes); skills: code -> label; titles: title -> occupation."""
    return Referentiel.from_tables(
        name="t", version=version, source="test",
        occupations=pl.DataFrame({"code": list(occupations), "label": [v[0] for v in occupations.values()]}),
        skills=pl.DataFrame({"code": list(skills), "label": list(skills.values()),
                             "kind": ["savoir-faire"] * len(skills)}),
        links=pl.DataFrame([{"occupation": o, "skill": s, "weight": 1.0, "core": False}
                            for o, (_, ss) in occupations.items() for s in ss]),
        titles=pl.DataFrame({"title": list((titles or {}).keys()), "occupation": list((titles or {}).values())},
                            schema={"title": pl.String, "occupation": pl.String}),
    )


SKILLS = {f"s{i}": f"compétence numéro {i} {'abcdefghij'[i % 10]}" for i in range(40)}


def test_identity_rename_and_relabel():
    old = make({"A1": ("Soudeur", [f"s{i}" for i in range(10)]), "B1": ("Boulanger", [f"s{i}" for i in range(10, 20)])},
               SKILLS, {"Soudeur TIG": "A1", "Boulanger": "B1"})
    new = make({"A9": ("Soudeur", [f"s{i}" for i in range(10)]), "B1": ("Boulanger-pâtissier", [f"s{i}" for i in range(10, 20)])},
               SKILLS, {"Soudeur TIG": "A9", "Boulanger": "B1"})
    d = diff(old, new)
    assert [(c.old, c.new) for c in d.of("occupation", "renamed")] == [(("A1",), ("A9",))]
    assert [c.old for c in d.of("occupation", "relabelled")] == [("B1",)]
    assert d.mapping("occupation")["B1"][0].change == "kept"
    assert not d.of("title")  # the title followed its occupation's rename: not a move
    assert d.kept == {"occupation": 1, "skill": 40, "title": 2}


def test_a_skill_no_occupation_lists_is_matched_by_its_label_only():
    skills_old = {**SKILLS, "x1": "Piloter une ligne de conditionnement"}
    skills_new = {**SKILLS, "x2": "Piloter une ligne de conditionnement"}
    occ = {"A1": ("Soudeur", [f"s{i}" for i in range(10)])}
    d = diff(make(occ, skills_old), make(occ, skills_new))
    [renamed] = d.of("skill", "renamed")
    assert (renamed.old, renamed.new) == (("x1",), ("x2",))
    assert renamed.pairs[0]["label_only"] and 0.75 <= renamed.confidence <= 0.8


def test_unrelated_content_is_removed_and_added_not_renamed():
    old = make({"A1": ("Soudeur", [f"s{i}" for i in range(10)]), "B1": ("Boulanger", [f"s{i}" for i in range(10, 20)])}, SKILLS)
    new = make({"A1": ("Soudeur", [f"s{i}" for i in range(10)]), "C1": ("Infirmier", [f"s{i}" for i in range(20, 30)])}, SKILLS)
    d = diff(old, new)
    assert [c.old for c in d.of("occupation", "removed")] == [("B1",)]
    assert [c.new for c in d.of("occupation", "added")] == [("C1",)]
    assert d.mapping("occupation")["B1"] == ()


def test_overlapping_splits_and_merges_are_reorganised():
    old = make({"A1": ("Agent A", [f"s{i}" for i in range(0, 10)]), "B1": ("Agent B", [f"s{i}" for i in range(10, 20)])}, SKILLS)
    new = make({"C1": ("Agent C", [f"s{i}" for i in range(0, 5)] + [f"s{i}" for i in range(10, 15)]),
                "D1": ("Agent D", [f"s{i}" for i in range(5, 10)] + [f"s{i}" for i in range(15, 20)])}, SKILLS)
    d = diff(old, new)
    [change] = d.of("occupation", "reorganised")
    assert change.old == ("A1", "B1") and change.new == ("C1", "D1")
    assert [t.code for t in d.mapping("occupation")["A1"]] == ["C1", "D1"]  # half of A1 each


def test_migrate_codes_follows_renames_splits_merges_and_lists_removed_codes():
    from referentiels.versions import Target, migrate_codes

    mapping = {
        "a": (Target("a", 1.0, "kept"),),
        "b": (Target("b2", 0.9, "renamed"),),
        "c": (Target("c", 1.0, "kept"), Target("c2", 0.7, "split")),
        "d": (Target("x", 0.8, "merged"),),
        "e": (Target("x", 0.8, "merged"),),
        "f": (),
    }
    m = migrate_codes(mapping, ["a", "b", "c", "d", "e", "f", "zz"], known={"zz2"})
    assert m.codes == ("a", "b2", "c", "c2", "x")
    assert m.unmapped == ("f", "zz")
    assert [e["old"] for e in m.audit] == ["b", "c", "d", "e", "f", "zz"]
    one = migrate_codes(mapping, ["c"], single=True)
    assert one.codes == ("c",) and one.audit[0]["alternatives"] == [{"code": "c2", "confidence": 0.7}]
    assert not migrate_codes(mapping, ["a"]).changed
