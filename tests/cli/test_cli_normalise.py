"""`passerelles normalise titles|skills FILE --out OUT`: one row out per row in; bad input exits 2 with one line."""

from __future__ import annotations

import polars as pl
import pytest

from api.cli import main


@pytest.fixture
def titles_csv(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_text("id,title\n1,Cariste\n2,conducteur de ligne agro\n3,Soudeuse TIG\n4,xqzwv\n", encoding="utf-8")
    return path


def test_titles_csv_to_csv_one_row_per_title_with_k_candidates(titles_csv, tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["normalise", "titles", str(titles_csv), "--referentiel", "demo", "--k", "3", "--out", str(out)]) == 0
    frame = pl.read_csv(out)
    assert frame["title"].to_list() == ["Cariste", "conducteur de ligne agro", "Soudeuse TIG", "xqzwv"]
    assert frame.columns[:6] == ["title", "code", "label", "score", "confident", "matched"]
    assert {"code_2", "label_2", "score_2", "code_3", "label_3", "score_3"} <= set(frame.columns)
    assert "code_4" not in frame.columns
    assert frame["code"].to_list()[:3] == ["N1101", "H2102", "H2916"]
    assert frame["confident"].to_list() == [True, True, True, False]
    assert "4 titles" in capsys.readouterr().err


def test_parquet_in_parquet_out_and_column_choice(tmp_path):
    source = tmp_path / "in.parquet"
    pl.DataFrame({"poste": ["Opérateur/trice de production (H/F)", "cariste"]}).write_parquet(source)
    out = tmp_path / "out.parquet"
    assert main(["normalise", "titles", str(source), "--column", "poste", "--out", str(out)]) == 0
    frame = pl.read_parquet(out)
    assert frame.height == 2 and frame.columns[0] == "poste" and frame["code"][1] == "N1101"


def test_skills_from_a_text_file(tmp_path, demo):
    label = demo.skills["label"][3]
    source = tmp_path / "skills.txt"
    source.write_text(f"{label.lower()}\n", encoding="utf-8")
    out = tmp_path / "skills.csv"
    assert main(["normalise", "skills", str(source), "--out", str(out), "--k", "1"]) == 0
    assert pl.read_csv(out)["code"].to_list() == [demo.skills["code"][3]]


@pytest.mark.parametrize(("content", "message"), [
    (b"title\nCariste\n\n", "line 3, column 'title': the text is empty"),
    (b"title\nCariste\n" + b"x" * 600 + b"\n", "line 3, column 'title': the text has 600 characters"),
    (b"title\nCari\xffste\n", "line 2: not UTF-8 text"),
    (b"\x00\x01\x02binary", "binary data"),
    (b"", "no texts to normalise"),
    (b"title\n", "no texts to normalise"),
])
def test_bad_input_exits_2_naming_file_and_line(tmp_path, capsys, content, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    assert main(["normalise", "titles", str(source), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra", [["--out", "o.txt"], ["--out", "o.csv", "--column", "nope"],
                                   ["--out", "o.csv", "--k", "0"]])
def test_bad_options_exit_2(titles_csv, tmp_path, capsys, extra):
    extra = [str(tmp_path / e) if e.startswith("o.") else e for e in extra]
    assert main(["normalise", "titles", str(titles_csv), *extra]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["normalise", "titles", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "content", "message"), [
    ("ads.csv", b"title\nCari\xffste\n", "ads.csv, line 2: not UTF-8 text"),
    ("ads.csv", b"title\x00\n", "ads.csv: binary data (a NUL byte at offset 5)"),
    ("ads.jsonl", b"  \n", "ads.jsonl: no offers to read"),
    ("ads.csv", b"name\nCariste\n", "ads.csv: no column 'title'"),
])
def test_offers_file_is_refused_like_a_titles_file(tmp_path, capsys, name, content, message):
    """`normalise offers` reads its file through the same checks as titles and skills (one reader)."""
    source = tmp_path / name
    source.write_bytes(content)
    assert main(["normalise", "offers", str(source), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
