"""``passerelles batch-match`` in this process (--local-workers 0): files, restart, one-line errors."""

from __future__ import annotations

import json

import polars as pl
import pytest

from api.services.batch_jobs import synthetic_population
from api.cli import main


@pytest.fixture(scope="module")
def inputs(demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    seekers, offers = synthetic_population(demo, 600, 300, seed=2)
    seekers.write_parquet(folder / "seekers.parquet")
    offers.write_parquet(folder / "offers.parquet")
    return folder


def _run(inputs, out, *extra):
    return main(["batch-match", "--seekers", str(inputs / "seekers.parquet"), "--offers", str(inputs / "offers.parquet"),
                 "--out", str(inputs / out), "--local-workers", "0", "--partition-rows", "250", "--no-progress",
                 *extra])


def test_writes_partitions_then_skips_them(inputs, capsys):
    assert _run(inputs, "out", "--top", "5", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["partitions"] == 3 and summary["partitions_written"] == 3
    assert summary["pairs_scored"] == 600 * 300 and summary["pairs_per_second"] > 0
    files = sorted(p.name for p in (inputs / "out").iterdir())
    assert files == ["_job.json", "_summary.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    frame = pl.read_parquet(inputs / "out" / "part-00000.parquet")
    assert frame.columns == ["seeker_id", "rank", "offer_id", "score"] and frame["rank"].max() <= 5
    assert _run(inputs, "out", "--top", "5") == 0
    text = capsys.readouterr().out
    assert "0 partitions written, 3 skipped" in text


def test_cosine_score(inputs, capsys):
    assert _run(inputs, "cos", "--top", "3", "--score", "cosine", "--json") == 0
    assert json.loads(capsys.readouterr().out)["score"] == "cosine"


@pytest.mark.parametrize("extra, message", [
    (("--top", "6"), "another job"),
    (("--top", "0"), "--top must be >= 1"),
    (("--score", "magic"), "Invalid value for '--score'"),
    (("--direction", "sideways"), "Invalid value for '--direction'"),
    (("--local-workers", "-1"), "Invalid value for '--local-workers'"),
    (("--scheduler", "tcp://127.0.0.1:1"), "not both"),
])
def test_bad_input_is_one_line_and_exit_2(inputs, capsys, extra, message):
    _run(inputs, "out", "--top", "5")
    capsys.readouterr()
    assert _run(inputs, "out", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("error:") and "Traceback" not in err and len(err.splitlines()) == 1


def test_missing_file_is_exit_2(tmp_path, capsys):
    code = main(["batch-match", "--seekers", str(tmp_path / "nope.parquet"), "--offers", str(tmp_path / "x.parquet"),
                 "--out", str(tmp_path / "o"), "--local-workers", "0"])
    assert code == 2 and "no such Parquet file" in capsys.readouterr().err


def test_both_directions_list_candidates_by_the_stores_pseudonyms(inputs, tmp_path, capsys):
    from api.services.batch_jobs import consent_of
    from api.storage.store import Store

    database = tmp_path / "store.sqlite3"
    with Store(database) as store:
        pseudonym = store.pseudonym
        seekers = pl.read_parquet(inputs / "seekers.parquet")
        consenting = {pseudonym(i) for i in seekers.filter(pl.Series(consent_of(seekers)))["id"]}
        everyone = set(seekers["id"]) | {pseudonym(i) for i in seekers["id"]}
    assert _run(inputs, "both", "--top", "4", "--direction", "both", "--database", str(database), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["partitions"] == 3 + 2 and summary["by_direction"]["offers"]["partitions_written"] == 2
    assert summary["by_direction"]["offers"]["pairs_scored"] == 300 * 600
    candidates = pl.concat([pl.read_parquet(p) for p in sorted((inputs / "both").glob("candidates-*.parquet"))])
    assert candidates.columns == ["offer_id", "rank", "candidate", "score"] and candidates["rank"].max() <= 4
    assert set(candidates["candidate"]) <= consenting and set(candidates["candidate"]) < everyone
    assert candidates["offer_id"].n_unique() > 250
    # the same OUT, offers only: a lost partition is computed again, identically; the rest is skipped
    lost = pl.read_parquet(inputs / "both" / "candidates-00001.parquet")
    (inputs / "both" / "candidates-00001.parquet").unlink()
    assert _run(inputs, "both", "--top", "4", "--direction", "offers", "--database", str(database)) == 0
    assert "1 partitions written, 1 skipped" in capsys.readouterr().out
    assert pl.read_parquet(inputs / "both" / "candidates-00001.parquet").equals(lost)
    # another store's secret would mix pseudonyms: refused
    other = tmp_path / "other.sqlite3"
    Store(other).close()
    assert _run(inputs, "both", "--top", "4", "--direction", "offers", "--database", str(other)) == 2
    assert "another secret" in capsys.readouterr().err


def test_offers_direction_without_a_store_is_exit_2(inputs, tmp_path, capsys):
    code = _run(inputs, "nostore", "--direction", "offers", "--database", str(tmp_path / "missing.sqlite3"))
    err = capsys.readouterr().err
    assert code == 2 and "no store at" in err and "Traceback" not in err


def test_offer_ids_per_employer_are_told_apart_in_both_outputs(inputs, tmp_path, capsys):
    """Offer ids are per employer (docs/offers.md): an offers file with an ``employer`` column may hold
    REF-001 twice; both outputs then carry ``offer_employer`` next to ``offer_id``."""
    from api.storage.store import Store

    offers = pl.read_parquet(inputs / "offers.parquet").head(40)
    offers = offers.with_columns(pl.lit("REF-001").alias("id"), pl.Series("employer", [f"E{i}" for i in range(40)]))
    folder = tmp_path / "in"
    folder.mkdir()
    offers.write_parquet(folder / "offers.parquet")
    pl.read_parquet(inputs / "seekers.parquet").head(200).write_parquet(folder / "seekers.parquet")
    database = tmp_path / "store.sqlite3"
    Store(database).close()
    assert _run(folder, "out", "--top", "3", "--direction", "both", "--database", str(database)) == 0
    capsys.readouterr()
    parts = pl.concat([pl.read_parquet(p) for p in sorted((folder / "out").glob("part-*.parquet"))])
    assert parts.columns == ["seeker_id", "rank", "offer_id", "offer_employer", "score"]
    assert set(parts["offer_id"]) == {"REF-001"} and parts["offer_employer"].n_unique() > 3
    candidates = pl.concat([pl.read_parquet(p) for p in sorted((folder / "out").glob("candidates-*.parquet"))])
    assert candidates.columns == ["offer_id", "offer_employer", "rank", "candidate", "score"]
    assert candidates["offer_employer"].n_unique() == 40  # one pool per employer's REF-001
