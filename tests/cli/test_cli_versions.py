"""``passerelles referentiel diff`` between the demo and a copy with one occupation renamed."""

from __future__ import annotations

import json

import polars as pl

from api.cli import main
from referentiels import Referentiel, generic


def test_cli_diff_prints_text_and_json(tmp_path, capsys, demo):
    occupations = demo.occupations
    first = occupations["code"][0]
    renamed = occupations.with_columns(code=pl.when(pl.col("code") == first).then(pl.lit("Z9999")).otherwise(pl.col("code")),
                                       parent=pl.when(pl.col("parent") == first).then(pl.lit("Z9999")).otherwise(pl.col("parent")))
    swap = {"occupation": first}

    def sub(frame: pl.DataFrame, cols: tuple[str, ...]) -> pl.DataFrame:
        return frame.with_columns([pl.when(pl.col(c) == first).then(pl.lit("Z9999")).otherwise(pl.col(c)).alias(c) for c in cols])

    new = Referentiel.from_tables(name=demo.name, version="2", source="test", occupations=renamed, skills=demo.skills,
                                  links=sub(demo.links, tuple(swap)), titles=sub(demo.titles, ("occupation",)),
                                  sectors=sub(demo.sectors, ("occupation",)),
                                  mobilities=sub(demo.mobilities, ("occupation", "target")))
    generic.write(new, tmp_path / "new")
    assert main(["referentiel", "diff", "demo", f"csv:{tmp_path / 'new'}"]) == 0
    out = capsys.readouterr().out
    assert f"renamed     {first}" in out and "Z9999" in out
    assert main(["referentiel", "diff", "demo", f"csv:{tmp_path / 'new'}", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"]["occupation"]["renamed"] == 1
    [change] = [c for c in payload["changes"] if c["change"] == "renamed"]
    assert change["old"] == [first] and change["new"] == ["Z9999"] and change["evidence"][0]["confidence"] >= 0.9
