"""The generic CSV folder format: what it accepts, and the precise error for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import referentiels
from referentiels import ReferentielError, generic

GOOD = {
    "occupations.csv": "code,label,domain,parent\nA1,Opérateur de ligne,D1,\nB2,Soudeur,D2,\nC3,Régleur,D2,B2\n",
    "skills.csv": "code,label,kind,group\ns1,Régler une machine,savoir-faire,G1\ns2,Souder à l'arc,,G2\n"
                  "s3,Hygiène alimentaire,savoir,G3\ns4,Rigueur,savoir-être,\n",
    "occupation_skills.csv": "occupation,skill,weight,core\nA1,s1,2,true\nA1,s3,1,false\nA1,s4,,\n"
                             "B2,s2,1.5,oui\nB2,s1,0.5,non\nC3,s1,1,1\n",
    "titles.csv": "title,occupation\nConducteur de ligne,A1\nSoudeuse TIG,B2\n",
    "sectors.csv": "sector,occupation,principal\nAlimentaire,A1,true\nMétallurgie,B2,true\nMétallurgie,C3,false\n",
    "mobilities.csv": "occupation,target,rank\nA1,C3,1\nC3,B2,\n",
}


def write_folder(tmp_path: Path, **overrides: str | None) -> Path:
    folder = tmp_path / "ref"
    folder.mkdir(parents=True)
    files = dict(GOOD)
    for name, content in overrides.items():
        files[name.replace("_csv", ".csv")] = content
    for name, content in files.items():
        if content is not None:
            (folder / name).write_text(content, encoding="utf-8")
    return folder


def load(folder: Path) -> referentiels.Referentiel:
    return referentiels.load(f"csv:{folder}", cache=False)


def test_a_good_folder_loads_with_defaults_applied(tmp_path):
    r = load(write_folder(tmp_path))
    assert r.counts()["occupations"] == 3 and r.counts()["links"] == 6
    skills = {row["code"]: row for row in r.skills.iter_rows(named=True)}
    assert skills["s2"]["kind"] == "savoir-faire"  # kind defaults to savoir-faire
    links = {(row["occupation"], row["skill"]): row for row in r.links.iter_rows(named=True)}
    assert links[("A1", "s4")]["weight"] == 1.0 and links[("A1", "s4")]["core"] is False
    assert links[("B2", "s2")] == {"occupation": "B2", "skill": "s2", "weight": 1.5, "core": True}
    assert r.matrix.shape == (3, 4) and r.matrix.dtype.name == "float32"
    assert r.matrix[r.occupation_row("A1"), r.skill_column("s1")] == 2.0


def test_optional_files_may_be_absent(tmp_path):
    r = load(write_folder(tmp_path, titles_csv=None, sectors_csv=None, mobilities_csv=None))
    assert r.titles.height == 0 and r.sectors.height == 0 and r.mobilities.height == 0


def test_row_order_does_not_change_the_fingerprint(tmp_path):
    a = load(write_folder(tmp_path / "a"))
    lines = GOOD["occupation_skills.csv"].splitlines()
    shuffled = "\n".join([lines[0]] + lines[1:][::-1]) + "\n"
    b = load(write_folder(tmp_path / "b", occupation_skills_csv=shuffled))
    assert a.fingerprint == b.fingerprint


def test_a_changed_weight_changes_the_fingerprint(tmp_path):
    a = load(write_folder(tmp_path / "a"))
    b = load(write_folder(tmp_path / "b", occupation_skills_csv=GOOD["occupation_skills.csv"].replace("A1,s1,2", "A1,s1,3")))
    assert a.fingerprint != b.fingerprint


def test_writer_round_trips_exactly(tmp_path):
    a = load(write_folder(tmp_path))
    out = generic.write(a, tmp_path / "out")
    b = load(out)
    assert b.fingerprint == a.fingerprint


@pytest.mark.parametrize(
    ("override", "file", "line", "column", "fragment"),
    [
        ({"skills_csv": None}, "skills.csv", None, None, "file not found"),
        ({"occupations_csv": "code,name\nA1,x\n"}, "occupations.csv", 1, None, "missing column(s) 'label'"),
        ({"occupations_csv": "code,label\nA1,x\nB2,y\nA1,z\nC3,w\n"}, "occupations.csv", 4, "code", "duplicate occupation code"),
        ({"occupation_skills_csv": "occupation,skill\nA1,s1\nZ9,s1\n"}, "occupation_skills.csv", 3, "occupation", "unknown occupation code"),
        ({"occupation_skills_csv": "occupation,skill\nA1,s1\nA1,s99\n"}, "occupation_skills.csv", 3, "skill", "unknown skill code"),
        ({"occupation_skills_csv": "occupation,skill,weight\nA1,s1,1\nB2,s2,0\n"}, "occupation_skills.csv", 3, "weight", "weight must be positive"),
        ({"occupation_skills_csv": "occupation,skill,weight\nA1,s1,-1\n"}, "occupation_skills.csv", 2, "weight", "weight must be positive"),
        ({"occupation_skills_csv": "occupation,skill,weight\nA1,s1,lots\n"}, "occupation_skills.csv", 2, "weight", "not a number"),
        ({"occupation_skills_csv": "occupation,skill,core\nA1,s1,maybe\n"}, "occupation_skills.csv", 2, "core", "not a yes/no value"),
        ({"occupation_skills_csv": "occupation,skill\nA1,s1\nA1,s1\n"}, "occupation_skills.csv", 3, "occupation,skill", "duplicate occupation-skill link"),
        ({"occupations_csv": ""}, "occupations.csv", None, None, "the file is empty"),
        ({"skills_csv": "code,label\n"}, "skills.csv", 2, None, "no rows"),
        ({"skills_csv": "code,label,kind\ns1,x,savoir-vivre\ns2,y,\ns3,z,\ns4,w,\n"}, "skills.csv", 2, "kind", "unknown skill kind"),
        ({"occupations_csv": "code,label\nA1,\nB2,y\nC3,z\n"}, "occupations.csv", 2, "label", "empty value"),
        ({"mobilities_csv": "occupation,target,rank\nA1,Q7,1\n"}, "mobilities.csv", 2, "target", "unknown occupation code"),
        ({"titles_csv": "title,occupation\nSoudeur,B2\nChef,Z1\n"}, "titles.csv", 3, "occupation", "unknown occupation code"),
    ],
)
def test_bad_input_names_file_line_column(tmp_path, override, file, line, column, fragment):
    folder = write_folder(tmp_path, **override)
    with pytest.raises(ReferentielError) as caught:
        load(folder)
    error = caught.value
    assert error.file is not None and error.file.endswith(file)
    assert error.line == line
    assert error.column == column
    assert fragment in str(error)
    assert error.expected  # always says what was expected


def test_a_wrong_encoding_is_reported_with_line_and_expected_encoding(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "skills.csv").write_bytes("code,label\ns1,Régler\ns2,Hygiène\ns3,x\ns4,y\n".encode("cp1252"))
    with pytest.raises(ReferentielError) as caught:
        load(folder)
    assert caught.value.line == 2 and "UTF-8" in str(caught.value).upper()
    assert "skills.csv" in str(caught.value)


def test_an_unknown_source_says_what_sources_exist():
    with pytest.raises(ReferentielError, match="expected 'demo', 'rome:DIR' or 'csv:DIR'"):
        referentiels.load("excel:/tmp/x")
