"""The `passerelles referentiel` commands, and the CLI's promise: bad input exits 2 with one line."""

from __future__ import annotations

import pytest

from api.cli import main


def test_info_prints_counts_of_the_demo(capsys):
    assert main(["referentiel", "info", "demo"]) == 0
    out = capsys.readouterr().out
    assert "occupations" in out and "fingerprint" in out


def test_export_then_info_round_trips(tmp_path, capsys):
    assert main(["referentiel", "export", "demo", "--to", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "occupation_skills.csv").exists()
    assert main(["referentiel", "info", f"csv:{tmp_path / 'out'}", "--json"]) == 0


@pytest.mark.parametrize("argv", [
    ["referentiel", "info", "rome:/definitely/not/here"],
    ["referentiel", "info", "parquet:/x"],
    ["no-such-command"],
])
def test_bad_input_exits_2_without_traceback(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_a_broken_referential_is_reported_by_file_and_line(tmp_path, capsys):
    (tmp_path / "occupations.csv").write_text("code,label\nA1,x\nA1,y\n", encoding="utf-8")
    (tmp_path / "skills.csv").write_text("code,label\ns1,z\n", encoding="utf-8")
    (tmp_path / "occupation_skills.csv").write_text("occupation,skill\nA1,s1\n", encoding="utf-8")
    assert main(["referentiel", "info", f"csv:{tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "occupations.csv, line 3, column 'code': duplicate occupation code" in err


def test_vectors_without_an_encoder_exits_1_and_says_why(capsys):
    assert main(["referentiel", "vectors", "demo"]) == 1  # tests run with PASSERELLES_ENCODER=none
    assert "PASSERELLES_ENCODER=none" in capsys.readouterr().err


def test_vectors_builds_the_title_and_skill_vectors_once_then_reads_them(tmp_path, monkeypatch, capsys):
    import numpy as np

    import api.services.encoding as encoding
    from matching.encoder import EncoderStatus

    class Table:  # each distinct text its own axis: deterministic, no model
        name, dim, calls = "table-cli-vectors-test", 512, 0

        def encode(self, texts, role="query"):
            Table.calls += len(texts)
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
            for i, text in enumerate(texts):
                out[i, hash(("v1", text)) % self.dim] = 1.0
            return out

    monkeypatch.setenv("PASSERELLES_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(encoding, "encoder_status", lambda spec, threads=None: EncoderStatus("table", Table()))
    assert main(["referentiel", "vectors", "demo"]) == 0
    err = capsys.readouterr().err
    assert "title vectors of demo" in err and "skill vectors of demo" in err
    built = Table.calls
    assert built > 0 and len(list(tmp_path.glob("embeddings-*.npy"))) == 2
    assert main(["referentiel", "vectors", "demo"]) == 0
    assert Table.calls == built  # the second run reads the cache
