"""`referentiels.versions.diff` on real ROME v460 codes: an older version is built from the real data
by undoing a rename, a split, a merge (and so on) of real codes; the diff must recover each change.

The two versions compared:
- ``new`` is ROME v460 from which an occupation (K2503), a skill (484614) and a title were withdrawn;
- ``old`` is ROME v460 as it would have been before these changes:
  occupations — H2102 was H2199 (renamed); H2906 and H2913 were one occupation H2990 (split into two
  new codes); N1105 was still part of N1103 (split, N1103 kept); H2907 was two occupations H2981 and
  H2982 (merged into a new code); half of D1106 was D1198 (merged into the kept D1106);
  skills — 300481 was 990001 (renamed); 300123 and 300396 were one skill 990002 (split); 402319 was
  two skills 990003 and 990004 (merged);
  titles — one title of M1607 was spelt differently (renamed), one did not exist yet (added).
"""

from __future__ import annotations

import polars as pl
import pytest

from referentiels import Referentiel
from referentiels.versions import diff, label_similarity

pytestmark = pytest.mark.rome


def _rename(frame: pl.DataFrame, columns: tuple[str, ...], old: str, new: str) -> pl.DataFrame:
    return frame.with_columns([pl.when(pl.col(c) == old).then(pl.lit(new)).otherwise(pl.col(c)).alias(c)
                               for c in columns if c in frame.columns])


def _halves(values: list[str]) -> tuple[list[str], list[str]]:
    values = sorted(values)
    return values[: len(values) // 2], values[len(values) // 2:]


def derive_versions(rome: Referentiel) -> tuple[Referentiel, Referentiel, dict]:
    t = {name: getattr(rome, name) for name in ("occupations", "skills", "links", "titles", "sectors", "mobilities")}
    m1607_titles = sorted(t["titles"].filter(pl.col("occupation") == "M1607")["title"].to_list())
    g1603_title = sorted(t["titles"].filter(pl.col("occupation") == "G1603")["title"].to_list())[0]
    k2503_titles = sorted(t["titles"].filter(pl.col("occupation") == "K2503")["title"].to_list())
    respelt, not_yet = m1607_titles[0], m1607_titles[1]

    # ---- the new version: v460 minus an occupation, a skill and a title
    new = dict(t)
    new["occupations"] = t["occupations"].filter(pl.col("code") != "K2503")
    new["links"] = t["links"].filter((pl.col("occupation") != "K2503") & (pl.col("skill") != "484614"))
    new["skills"] = t["skills"].filter(pl.col("code") != "484614")
    new["titles"] = t["titles"].filter((pl.col("occupation") != "K2503") & (pl.col("title") != g1603_title))
    new["sectors"] = t["sectors"].filter(pl.col("occupation") != "K2503")
    new["mobilities"] = t["mobilities"].filter((pl.col("occupation") != "K2503") & (pl.col("target") != "K2503"))

    # ---- the old version: v460 with the changes undone
    old = dict(t)
    occ_cols = {"occupations": ("code", "parent"), "links": ("occupation",), "titles": ("occupation",),
                "sectors": ("occupation",), "mobilities": ("occupation", "target")}

    def rename_occupation(a: str, b: str) -> None:
        for name, cols in occ_cols.items():
            old[name] = _rename(old[name], cols, a, b)

    rename_occupation("H2102", "H2199")
    # H2906 + H2913 were one occupation H2990 (labelled as H2906)
    rename_occupation("H2906", "H2990")
    rename_occupation("H2913", "H2990")
    # N1105 was part of N1103
    rename_occupation("N1105", "N1103")
    # H2907 was H2981 and H2982; half of D1106 was D1198
    for code, (a, b) in (("H2907", ("H2981", "H2982")), ("D1106", ("D1106", "D1198"))):
        first, second = _halves(old["links"].filter(pl.col("occupation") == code)["skill"].to_list())
        old["links"] = old["links"].with_columns(occupation=pl.when(
            (pl.col("occupation") == code) & pl.col("skill").is_in(second)).then(pl.lit(b))
            .when(pl.col("occupation") == code).then(pl.lit(a)).otherwise(pl.col("occupation")))
        tfirst, tsecond = _halves(old["titles"].filter(pl.col("occupation") == code)["title"].to_list())
        old["titles"] = old["titles"].with_columns(occupation=pl.when(
            (pl.col("occupation") == code) & pl.col("title").is_in(tsecond)).then(pl.lit(b))
            .when(pl.col("occupation") == code).then(pl.lit(a)).otherwise(pl.col("occupation")))
        row = old["occupations"].filter(pl.col("code") == code)
        old["occupations"] = pl.concat([old["occupations"].filter(pl.col("code") != code),
                                        row.with_columns(code=pl.lit(a)), row.with_columns(code=pl.lit(b))])
        for name in ("sectors", "mobilities"):
            old[name] = _rename(old[name], occ_cols[name], code, a)
    old["occupations"] = old["occupations"].unique("code", keep="first", maintain_order=True)
    old["links"] = old["links"].group_by(["occupation", "skill"]).agg(pl.col("weight").max(), pl.col("core").any())
    old["titles"] = old["titles"].unique(["title", "occupation"])
    old["sectors"] = old["sectors"].group_by(["sector", "occupation"]).agg(pl.col("principal").any())
    old["mobilities"] = (old["mobilities"].filter(pl.col("occupation") != pl.col("target"))
                         .group_by(["occupation", "target"]).agg(pl.col("rank").min()))

    def rename_skill(a: str, b: str) -> None:
        old["skills"] = _rename(old["skills"], ("code",), a, b)
        old["links"] = _rename(old["links"], ("skill",), a, b)

    rename_skill("300481", "990001")
    rename_skill("300123", "990002")
    rename_skill("300396", "990002")
    old["skills"] = old["skills"].unique("code", keep="first", maintain_order=True)
    first, second = _halves(old["links"].filter(pl.col("skill") == "402319")["occupation"].to_list())
    old["links"] = old["links"].with_columns(skill=pl.when(
        (pl.col("skill") == "402319") & pl.col("occupation").is_in(second)).then(pl.lit("990004"))
        .when(pl.col("skill") == "402319").then(pl.lit("990003")).otherwise(pl.col("skill")))
    row = old["skills"].filter(pl.col("code") == "402319")
    old["skills"] = pl.concat([old["skills"].filter(pl.col("code") != "402319"),
                               row.with_columns(code=pl.lit("990003")), row.with_columns(code=pl.lit("990004"))])
    old["links"] = old["links"].group_by(["occupation", "skill"]).agg(pl.col("weight").max(), pl.col("core").any())

    old_spelling = respelt.replace(" / ", "/").replace("é", "e").replace("è", "e")
    assert old_spelling != respelt
    old["titles"] = old["titles"].with_columns(title=pl.when(pl.col("title") == respelt).then(pl.lit(old_spelling))
                                               .otherwise(pl.col("title")))
    old["titles"] = old["titles"].filter(pl.col("title") != not_yet)

    for version in (old, new):  # a parent that no longer exists is no parent
        codes = version["occupations"]["code"].implode()
        version["occupations"] = version["occupations"].with_columns(
            parent=pl.when(pl.col("parent").is_in(codes)).then(pl.col("parent")))
    expected = {"respelt": (old_spelling, respelt), "not_yet": not_yet,
                "removed_titles": sorted(k2503_titles + [g1603_title])}
    kwargs = {"name": "ROME 4.0", "source": "derived"}
    return (Referentiel.from_tables(version="v459-derived", **kwargs, **old),
            Referentiel.from_tables(version="v460-derived", **kwargs, **new), expected)


@pytest.fixture(scope="module")
def versions(rome):
    old, new, expected = derive_versions(rome)
    return old, new, expected, diff(old, new)


def _changes(d, kind, change):
    return {(c.old, c.new) for c in d.of(kind, change)}


def test_the_same_referential_has_no_change(rome):
    d = diff(rome, rome)
    assert d.is_empty()
    assert d.kept == {"occupation": rome.n_occupations, "skill": rome.n_skills,
                      "title": rome.titles["title"].n_unique()}


def test_occupation_changes_are_recovered(versions):
    _, _, _, d = versions
    assert _changes(d, "occupation", "renamed") == {(("H2199",), ("H2102",))}
    assert _changes(d, "occupation", "split") == {(("H2990",), ("H2906", "H2913")),
                                                  (("N1103",), ("N1103", "N1105"))}
    assert _changes(d, "occupation", "merged") == {(("H2981", "H2982"), ("H2907",)),
                                                   (("D1106", "D1198"), ("D1106",))}
    assert _changes(d, "occupation", "removed") == {(("K2503",), ())}
    assert not d.of("occupation", "added") and not d.of("occupation", "reorganised")


def test_skill_changes_are_recovered(versions):
    _, _, _, d = versions
    assert _changes(d, "skill", "renamed") == {(("990001",), ("300481",))}
    assert _changes(d, "skill", "split") == {(("990002",), ("300123", "300396"))}
    assert _changes(d, "skill", "merged") == {(("990003", "990004"), ("402319",))}
    assert _changes(d, "skill", "removed") == {(("484614",), ())}
    assert not d.of("skill", "added") and not d.of("skill", "reorganised")


def test_title_changes_are_recovered(versions):
    _, _, expected, d = versions
    old_spelling, respelt = expected["respelt"]
    assert _changes(d, "title", "renamed") == {((old_spelling,), (respelt,))}
    assert _changes(d, "title", "added") == {((), (expected["not_yet"],))}
    assert {c.old[0] for c in d.of("title", "removed")} == set(expected["removed_titles"])
    assert not d.of("title", "moved") and not d.of("title", "split") and not d.of("title", "merged")


def test_each_mapping_carries_evidence_and_a_confidence(versions):
    _, _, _, d = versions
    renamed = d.of("occupation", "renamed")[0]
    pair = renamed.pairs[0]
    assert pair["label_similarity"] == 1.0 and pair["profile_cosine"] == pytest.approx(1.0)
    assert pair["carried"] == pytest.approx(1.0) and pair["explained"] == pytest.approx(1.0)
    assert renamed.confidence >= 0.95
    for change in d.changes:
        assert 0.0 <= change.confidence <= 1.0
        for p in change.pairs:
            assert {"label_similarity", "profile_cosine", "carried", "explained", "shared", "confidence"} <= set(p)
    split = d.of("occupation", "split")
    assert all(c.confidence >= 0.5 for c in split + d.of("occupation", "merged"))
    # a removed code comes with suggestions for a human, never with a silent mapping
    removed = d.of("occupation", "removed")[0]
    assert d.mapping("occupation")["K2503"] == ()
    assert removed.suggestions and all("code" in s for s in removed.suggestions)


def test_mappings_cover_every_old_code(versions):
    old, _, _, d = versions
    occ = d.mapping("occupation")
    assert set(occ) == set(old.occupations["code"].to_list())
    assert [t.code for t in occ["H2199"]] == ["H2102"]
    assert [t.code for t in occ["N1103"]] == ["N1103", "N1105"]  # kept first, then the new part
    assert {t.code for t in occ["H2990"]} == {"H2906", "H2913"}
    assert [t.code for t in occ["D1198"]] == ["D1106"]
    assert occ["A1101"][0].change == "kept"
    skills = d.mapping("skill")
    assert set(skills) == set(old.skills["code"].to_list())
    assert [t.code for t in skills["990003"]] == ["402319"] and skills["484614"] == ()
    assert label_similarity("Secrétaire", "secretaire") == 1.0


@pytest.mark.slow
def test_an_update_the_size_of_rome_4x_is_recovered(rome):
    """The update users complained of renamed 195 codes and dropped 182: here 195 real codes get a
    new code *and* lose a fifth of their skills at random, 182 others are withdrawn."""
    import numpy as np

    rng = np.random.default_rng(0)
    codes = rome.occupations["code"].to_list()
    order = rng.permutation(len(codes))
    renamed = {codes[i]: f"Z{k:04d}" for k, i in enumerate(order[:195])}
    removed = [codes[i] for i in order[195:377]]
    links = rome.links.filter(~pl.col("occupation").is_in(removed))
    links = links.filter(~(pl.col("occupation").is_in(list(renamed)) & pl.Series(rng.random(links.height) < 0.2)))
    recode = lambda column: pl.col(column).replace(renamed)  # noqa: E731
    new = Referentiel.from_tables(
        name="ROME 4.0", version="next", source="derived",
        occupations=rome.occupations.filter(~pl.col("code").is_in(removed)).with_columns(
            code=recode("code"), parent=pl.when(pl.col("parent").is_in(removed)).then(None).otherwise(recode("parent"))),
        skills=rome.skills, links=links.with_columns(occupation=recode("occupation")),
        titles=rome.titles.filter(~pl.col("occupation").is_in(removed)).with_columns(occupation=recode("occupation")))
    d = diff(rome, new)
    assert {c.old[0]: c.new[0] for c in d.of("occupation", "renamed")} == renamed
    assert {c.old[0] for c in d.of("occupation", "removed")} == set(removed)
    assert not d.of("occupation", "merged") and not d.of("occupation", "split") and not d.of("occupation", "reorganised")
    assert min(c.confidence for c in d.of("occupation", "renamed")) >= 0.75
    mapping = d.mapping("occupation")
    assert all(mapping[c] == () for c in removed)
